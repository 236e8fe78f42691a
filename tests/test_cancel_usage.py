"""A cancelled job's summary has its real usage, against the real cluster.

The promise: a verdict is never stronger than its evidence. SLURM records a job stopped by a signal as
ended seconds before it records its command's step usage (22.05: the `.0` step `CANCELLED` with no
MaxRSS and TotalCPU 0 for ~4 s, while `.batch`, the shell, had 12 MB). The summary collected at the
first sight of the end took those figures as the run's: 'memory 12M of 4096M (0%)' for a run that had
used 800 MB. Such an end is now weak evidence (`state_source: sacct-ending`), and the summary is
collected again once the usage is recorded."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, make_project, manifest

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

HOLD = """\
import time
ballast = b"1" * (200 << 20)  # touched: resident
print("holding", len(ballast) >> 20, "MB", flush=True)
time.sleep(300)
"""
CONFIG = "name: hold\ncommand: python hold.py\nresources: {time: '00:10:00', cpus_per_task: 1, mem: 1G}\n"


def test_a_cancelled_jobs_summary_has_its_usage(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"hold.py": HOLD, "configs/hold.yaml": CONFIG})
    submitted = cli(
        [
            "submit",
            "configs/hold.yaml",
            "--backend",
            "slurm",
            "--json",
            "--skip-smoke",
            "it only holds memory",
        ],
        project,
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id, job_id = json.loads(submitted.stdout)["run_id"], json.loads(submitted.stdout)["job_id"]
    run = project / "runs" / run_id
    deadline = time.time() + 120
    log = run / "stdout.log"
    while not (log.exists() and "holding" in log.read_text(errors="replace")):
        assert time.time() < deadline, "the job did not start"
        time.sleep(0.5)
    time.sleep(3)  # SLURM samples memory once a second
    cancelled = cli(["cancel", run_id], project)
    assert cancelled.returncode == 0, cancelled.stderr
    sources = []
    deadline = time.time() + 60
    while time.time() < deadline:
        assert cli(["status", run_id, "--json"], project).returncode == 0
        sources.append(manifest(run)["state_source"])
        if manifest(run)["state"] == "cancelled" and sources[-1] == "sacct":
            break
        time.sleep(0.5)
    assert manifest(run)["state"] == "cancelled" and sources[-1] == "sacct", sources
    summary = json.loads((run / "summary.json").read_text())
    assert summary["state"] == "cancelled"
    assert summary["max_rss_mb"] >= 150, (
        summary["max_rss_mb"],
        sources,
    )  # the 200 MB it held, not the shell's
    shown = cli(["show", run_id], project).stdout
    used = next(line for line in shown.splitlines() if line.startswith("Resources Used:"))
    shown_mb = re.search(r"memory (\d+)M of", used)
    assert shown_mb is not None and int(shown_mb.group(1)) >= 150, used
    # nothing in the run to fix: the next step given is the same submission again, and why
    again = "Next: clusterrun submit configs/hold.yaml   (the same run again, if the cancel was not intended)"
    assert again in shown, shown
    sacct = subprocess.run(
        ["sacct", "-n", "-P", "-j", job_id, "-o", "JobID,MaxRSS"], capture_output=True, text=True, check=True
    ).stdout
    assert f"{job_id}.batch|" in sacct  # the shell's step, whose few MB were taken for the run's before
