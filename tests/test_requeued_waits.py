"""The promise: a run whose job waits in the queue says why, requeued or not. A job requeued (here by
hand, `scontrol requeue`, as a preemption or the wrapper's time-limit requeue does) waits about two minutes
for its BeginTime; its run showed REQUEUED (2/3) and nothing more, as if it were stuck."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import NAP, cli, make_project

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]


def _state(project: Path, run_id: str) -> dict[str, object]:
    shown = cli(["status", run_id, "--json"], project, {"CLUSTERRUN_POLL_MAX_AGE": "0"})
    assert shown.returncode == 0, shown.stderr
    row: dict[str, object] = json.loads(shown.stdout)["runs"][0]
    return row


def test_a_requeued_run_says_it_waits_for_its_begin_time(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", {"configs/nap.yaml": NAP})
    submitted = cli(
        ["submit", "configs/nap.yaml", "--backend", "slurm", "--yes", "--json", "params.seconds=60"], project
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id, job = json.loads(submitted.stdout)["run_id"], json.loads(submitted.stdout)["job_id"]
    try:
        deadline = time.monotonic() + 120
        while _state(project, run_id)["state"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(1)
        subprocess.run(["scontrol", "requeue", job], check=True)
        deadline = time.monotonic() + 60
        while (row := _state(project, run_id))["state"] != "requeued" or not row["reason"]:
            assert time.monotonic() < deadline, row
            time.sleep(1)
        assert row["reason"] == "BeginTime", row
        text = cli(["status", run_id], project)
        assert text.returncode == 0, text.stderr
        said = f"Waiting: {run_id}: its start time has not come (BeginTime): SLURM lets a requeued job"
        assert said in text.stdout, text.stdout
    finally:
        subprocess.run(["scancel", job], check=False)
