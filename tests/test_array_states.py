"""The promise: a sweep member's recorded states are the ones its job had. Polled while its array runs one
member at a time, no member that nobody requeued is ever recorded as requeued, nor pending again once it
has started: SLURM's accounting keeps printing the array's pending line with the range it had at
submission (`1049_[1-5%6] PENDING`, after `1049_1 COMPLETED`), and that line once won over the member's
own, so finished members were recorded `requeued` until the next poll."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import NAP, cli, make_project

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

MEMBERS = 5


def _states(run: Path) -> list[str]:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return [e["state"] for e in events if e["event"] == "state"]


def test_members_polled_while_the_array_runs_keep_the_states_they_had(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", {"configs/nap.yaml": NAP})
    values = ",".join(str(2 + i % 2) for i in range(MEMBERS))  # 2,3,2,3,2 s: members differ
    submitted = cli(
        [
            "submit",
            "configs/nap.yaml",
            "--backend",
            "slurm",
            "--yes",
            "--json",
            "--array-parallelism",
            "1",
            "--sweep",
            f"params.seconds={values}",
            "--force",
        ],
        project,
    )
    assert submitted.returncode == 0, submitted.stderr
    sweep = json.loads(submitted.stdout)["sweep_id"]
    fresh = {"CLUSTERRUN_POLL_MAX_AGE": "0"}  # every status asks sacct
    deadline = time.monotonic() + 240
    polls = 0
    while time.monotonic() < deadline:
        status = cli(["status", sweep, "--json"], project, fresh)
        assert status.returncode == 0, status.stderr
        polls += 1
        states = [m["state"] for m in json.loads(status.stdout)["members"]]
        if all(s == "completed" for s in states):
            break
        time.sleep(0.5)
    assert all(s == "completed" for s in states), states
    assert polls >= MEMBERS  # polled while members were pending, running and done
    runs = [p for p in (project / "runs").iterdir() if p.name.startswith("nap_")]
    assert len(runs) == MEMBERS
    for run in runs:
        history = _states(run)
        assert "requeued" not in history, (run.name, history)
        if "running" in history:  # never pending again once started
            assert "pending" not in history[history.index("running") :], (run.name, history)
        assert history[-1] == "completed"


@pytest.mark.parametrize("how", ["throttled", "held"])
def test_members_cancelled_before_they_started_are_recorded_cancelled(tmp_path: Path, how: str) -> None:
    """Members that never started have no accounting record of their own. Once they are cancelled,
    SLURM 22.05 prints their array's remainder under its range (`123_[1-2%1] CANCELLED`: here, when one
    member had started) or under its bare id (`123 CANCELLED`: here, when none had; also seen with two
    of four started). From the bare id they stayed SUBMITTED forever: the held case failed before the
    fix, found trying `cancel SWEEP` on a sweep whose members waited for sweep.parallelism."""
    project = make_project(tmp_path / "proj", {"configs/nap.yaml": NAP})
    extra = ["--array-parallelism", "1"] if how == "throttled" else ["resources.extra.hold=true"]
    argv = ["submit", "configs/nap.yaml", "--backend", "slurm", "--yes", "--json", "--force", *extra]
    submitted = cli([*argv, "--sweep", "params.seconds=120,121,122"], project)
    assert submitted.returncode == 0, submitted.stderr
    sweep = json.loads(submitted.stdout)["sweep_id"]
    fresh = {"CLUSTERRUN_POLL_MAX_AGE": "0"}
    deadline = time.monotonic() + 120
    while how == "throttled":  # the first member runs, the others wait for it (JobArrayTaskLimit)
        array = json.loads(submitted.stdout)["arrays"][0]["job_id"]
        queue = subprocess.run(
            ["squeue", "-h", "-r", "-j", array, "-o", "%i %T"], capture_output=True, text=True
        )
        if f"{array}_0 RUNNING" in queue.stdout:
            break
        assert time.monotonic() < deadline, queue.stdout + queue.stderr
        time.sleep(1)
    cancelled = cli(["cancel", sweep], project)
    assert cancelled.returncode == 0, cancelled.stderr
    while True:
        view = json.loads(cli(["status", sweep, "--json"], project, fresh).stdout)
        states = [m["state"] for m in view["members"]]
        if states == ["cancelled"] * 3:
            break
        assert time.monotonic() < deadline + 60, states  # accounting: a few seconds
        time.sleep(1)
    for member in view["members"]:
        assert _states(project / "runs" / member["run_id"])[-1] == "cancelled"
