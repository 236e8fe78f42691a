"""Failure diagnosis against the real local SLURM cluster: memory kill, time limit, scancel, missing file,
and a missing module caught by the smoke test.

The jobs are submitted first and then waited for together in one `status --watch` (the time-limit job,
killed by SLURM after its 1-minute limit, sets the wall time of this module: about 1.5 minutes).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from clusterrun.config.resources import parse_mem_mb, parse_time_seconds
from tests.helpers import cli, make_project, manifest, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

HOG = """\
import sys, time
data = b"1" * (int(sys.argv[1]) << 20)  # touched: all of it is resident
print("allocated", len(data) >> 20, "MB", flush=True)
time.sleep(float(sys.argv[2]))
"""
SLEEP = """\
import signal, sys, time
# submitit has SLURM send SIGUSR2 90 s before the limit (at once with a 1-minute limit) and clusterrun passes
# it on; a program that does not handle it dies of it (FAILED -12). This one ignores it, so SLURM ends it
# at the limit (TIMEOUT); the SIGUSR2 case is a unit test.
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
print("started", flush=True)
time.sleep(float(sys.argv[1]))
"""
READ = """\
import sys
print("reading", sys.argv[1], flush=True)
open(sys.argv[1]).read()
"""
RESOURCES = "resources: {time: '00:05:00', cpus_per_task: 1, mem: 100M}\n"
CONFIGS = {
    "configs/hog.yaml": "name: hog\ncommand: python fail/hog.py {mb} {secs}\nparams: {mb: 600, secs: 5}\n"
    "smoke: {params: {mb: 1, secs: 0}}\n" + RESOURCES,
    "configs/slow.yaml": "name: slow\ncommand: python fail/sleep.py {secs}\nparams: {secs: 300}\n"
    "smoke: {params: {secs: 0}}\n" + RESOURCES,
    "configs/nofile.yaml": "name: nofile\ncommand: python fail/read.py {data}\n"
    "params: {data: data/train.csv}\n" + RESOURCES,
    "configs/nomod.yaml": "name: nomod\ncommand: python -c 'import clusterrun_no_such_module'\n" + RESOURCES,
}
FILES = {"fail/hog.py": HOG, "fail/sleep.py": SLEEP, "fail/read.py": READ, **CONFIGS}


@pytest.fixture(scope="module")
def failed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Submit the four failing jobs, scancel one while it runs, wait for all; summaries by name."""
    project = make_project(tmp_path_factory.mktemp("failures") / "proj", FILES)
    ids: dict[str, tuple[str, str]] = {}

    def submit(key: str, config: str, *args: str) -> None:
        result = cli(["submit", f"configs/{config}.yaml", "--backend", "slurm", "--json", *args], project)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        ids[key] = (data["run_id"], data["job_id"])

    # first the two long ones (the cluster has 2 CPUs): they start at once; the others queue behind them
    submit("slow", "slow", "resources.time=1")
    submit("cancel", "slow", "--skip-smoke", "the same sleep as slow")
    submit("hog", "hog", "resources.mem=200M")
    submit("nofile", "nofile", "--skip-smoke", "the data is missing on purpose")
    _scancel_when_running(ids["cancel"][1])
    watched = cli(["status", "--watch", *(run_id for run_id, _ in ids.values())], project, timeout=400)
    assert watched.returncode == 0, watched.stderr
    out: dict[str, dict[str, Any]] = {}
    for name, (run_id, _job) in ids.items():
        run_dir = project / "runs" / run_id
        out[name] = json.loads((run_dir / "summary.json").read_text()) | {"_run_dir": str(run_dir)}
    assert "4 run(s), 4 ended" in watched.stdout and "TIMEOUT" in watched.stdout
    out["_project"] = {"path": str(project)}
    return out


def _scancel_when_running(job_id: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = subprocess.run(
            ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True
        ).stdout.strip()
        if state == "RUNNING":
            time.sleep(2)  # let the command start
            subprocess.run(["scancel", job_id], check=True)
            return
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not start within {timeout} s (state {state!r})")


def test_memory_over_the_limit_is_host_oom_with_more_memory(failed_runs: dict[str, dict[str, Any]]) -> None:
    summary = failed_runs["hog"]
    diagnosis = summary["diagnosis"]
    assert summary["state"] == "failed" and diagnosis["category"] == "host_oom", diagnosis
    assert "exceeded memory limit" in diagnosis["evidence"] and "state FAILED" in diagnosis["evidence"]
    assert diagnosis["fix"].startswith("resources.mem=")
    # the job was killed on its way to 600 MB: what it reached (the peak) is all anyone can know; the
    # suggestion is that peak x 1.3 (rounded up), above both the peak and the 200M requested
    peak = diagnosis["details"]["peak_mb"]
    assert peak > 200 and peak >= (summary["max_rss_mb"] or 0)
    assert parse_mem_mb(diagnosis["details"]["suggested_mem"]) >= peak * 1.3
    assert "peak" in diagnosis["fix"] and "requested" in diagnosis["fix"]


def test_time_limit_suggests_a_longer_time(failed_runs: dict[str, dict[str, Any]]) -> None:
    summary = failed_runs["slow"]
    diagnosis = summary["diagnosis"]
    assert summary["state"] == "timeout" and diagnosis["category"] == "time_limit", diagnosis
    assert "state TIMEOUT" in diagnosis["evidence"] and "DUE TO TIME LIMIT" in diagnosis["evidence"]
    assert diagnosis["fix"].startswith("resources.time=")
    assert parse_time_seconds(diagnosis["details"]["suggested_time"]) > 60


def test_scancel_is_cancelled_by_whom(failed_runs: dict[str, dict[str, Any]]) -> None:
    summary = failed_runs["cancel"]
    diagnosis = summary["diagnosis"]
    assert summary["state"] == "cancelled" and diagnosis["category"] == "cancelled", diagnosis
    who = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    assert f"by {who}" in diagnosis["evidence"] and "CANCELLED AT" in diagnosis["evidence"]


def test_missing_file_names_the_path_and_the_param(failed_runs: dict[str, dict[str, Any]]) -> None:
    summary = failed_runs["nofile"]
    diagnosis = summary["diagnosis"]
    assert summary["state"] == "failed" and diagnosis["category"] == "missing_file", diagnosis
    assert diagnosis["details"]["path"] == "data/train.csv" and diagnosis["details"]["relative"] is True
    assert "params.data=" in diagnosis["fix"] and "snapshot" in diagnosis["fix"]
    traceback = (Path(summary["_run_dir"]) / "traceback.txt").read_text()
    assert traceback.startswith("Traceback") and "FileNotFoundError" in traceback


def test_missing_module_is_diagnosed_by_the_smoke_test(failed_runs: dict[str, dict[str, Any]]) -> None:
    project = Path(failed_runs["_project"]["path"])
    result = cli(["submit", "configs/nomod.yaml", "--backend", "slurm"], project)
    assert result.returncode == 1, result.stderr
    no_traceback(result)
    assert "smoke test FAILED (exited with code 1)" in result.stderr
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("diagnosis: "))
    assert line.startswith("diagnosis: missing_module: smoke test exited with code 1")
    assert (
        "No module named 'clusterrun_no_such_module'" in line
        and "pip install clusterrun_no_such_module" in line
    )
    runs = sorted((project / "runs").glob("nomod_*"))
    assert len(runs) == 1 and manifest(runs[0])["job_id"] is None
