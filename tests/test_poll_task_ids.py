"""One sacct per refresh reads what the runs shown need, not their whole array: members of a sweep that
have run are asked for by their own task ids (a 10,000-task array's 20 newest members: 20 tasks' records),
and their states stay right; a member that has not run yet is looked for in the controller's queue
(`squeue -t PENDING`) and, when it waits there, is not asked of accounting at all (there, only its
array's id finds it, and that id answers every task of the array with its steps: slurmdbd looks up each
job's steps in a query of its own). On the main cluster, with PATH shims that log sacct's and squeue's
argv."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, git, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

CONFIG = """\
name: taskids
command: sleep {seconds}
params: {seconds: 20}
smoke: {params: {seconds: 0}, timeout: 60}
sweep: {grid: {params.seconds: [20, 21]}}
resources: {time: "00:02:00", mem: 100M}
"""

SHIM = """#!/bin/bash
printf '%s\\n' "$*" >> {log}
exec {real} "$@"
"""


def _shims(tmp_path: Path, *tools: str) -> tuple[dict[str, str], dict[str, Path]]:
    """PATH shims that log each call's argv to a file per tool; the env to run with them, the logs."""
    shims = tmp_path / "shim"
    shims.mkdir(exist_ok=True)
    logs = {}
    for tool in tools:
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True)
        logs[tool] = tmp_path / f"{tool}.log"
        (shims / tool).write_text(SHIM.format(log=logs[tool], real=real.stdout.strip()))
        (shims / tool).chmod(0o755)
    return {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_POLL_MAX_AGE": "0"}, logs


def _asked(log: Path) -> list[list[str]]:
    """The -j argument of each sacct call logged, as ids."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        words = line.split()
        if "-j" in words:
            out.append(words[words.index("-j") + 1].split(","))
    return out


def test_members_that_ran_are_polled_by_their_task_ids(project: Path, tmp_path: Path) -> None:
    (project / "configs" / "taskids.yaml").write_text(CONFIG)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task ids")
    result = cli(["submit", "configs/taskids.yaml", "--backend", "slurm", "--yes", "--json"], project)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    sweep, array = record["sweep_id"], record["arrays"][0]["job_id"]
    members = [m["run_id"] if isinstance(m, dict) else m for m in record["members"]]
    try:
        deadline, running = time.monotonic() + 150, False
        while time.monotonic() < deadline and not running:  # both started, and accounting says so
            time.sleep(1)
            started = all(
                json.loads((project / "runs" / m / "manifest.json").read_text()).get("attempts")
                for m in members
            )
            looked = cli(["status", sweep, "--json"], project, env={"CLUSTERRUN_POLL_MAX_AGE": "0"})
            states = [row["state"] for row in json.loads(looked.stdout)["members"]] if looked.stdout else []
            running = started and len(states) == 2 and all(s in ("running", "completed") for s in states)
        assert running, "the members were not seen running within 150 s (a busy cluster)"
        shims, log = tmp_path / "shim", tmp_path / "sacct.log"
        shims.mkdir()
        which = subprocess.run(["bash", "-c", "command -v sacct"], capture_output=True, text=True)
        real = which.stdout.strip()
        (shims / "sacct").write_text(SHIM.format(log=log, real=real))
        (shims / "sacct").chmod(0o755)
        env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_POLL_MAX_AGE": "0"}
        shown = cli(["status", sweep, "--json"], project, env=env)
        no_traceback(shown)
        assert shown.returncode == 0, shown.stderr
        polls = _asked(log)
        assert len(polls) == 1, polls  # one sacct for the refresh
        assert sorted(polls[0]) == [f"{array}_0", f"{array}_1"], polls  # not the array's id: all tasks
        states = {row["run_id"]: row["state"] for row in json.loads(shown.stdout)["members"]}
        assert set(states) == set(members)
        assert all(state in ("running", "completed") for state in states.values()), states
    finally:
        subprocess.run(["scancel", str(array)], check=False, capture_output=True)


def test_waiting_members_are_found_in_the_queue_not_in_accounting(project: Path, tmp_path: Path) -> None:
    """A held sweep of three: a refresh finds its members waiting from one squeue, and asks accounting
    nothing (every one waits). One member released and started: accounting is asked for that member's
    own task id only, never for the array's id; the others still wait, with the controller's reason."""
    (project / "configs" / "taskids.yaml").write_text(CONFIG.replace("[20, 21]", "[2, 3, 4]"))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task ids")
    argv = ["submit", "configs/taskids.yaml", "--backend", "slurm", "--yes", "--json"]
    result = cli([*argv, "resources.extra.hold=true"], project)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    sweep, array = record["sweep_id"], record["arrays"][0]["job_id"]
    members = [m["run_id"] if isinstance(m, dict) else m for m in record["members"]]
    env, logs = _shims(tmp_path, "sacct", "squeue")
    try:
        shown = cli(["status", sweep, "--json"], project, env=env)
        assert shown.returncode == 0, shown.stderr
        no_traceback(shown)
        rows = json.loads(shown.stdout)["members"]
        assert [row["state"] for row in rows] == ["pending"] * 3, rows
        assert all(row["reason"] for row in rows), rows  # the controller's (JobHeldUser)
        assert _asked(logs["sacct"]) == [], logs["sacct"].read_text()  # nothing asked of accounting
        assert len(_asked(logs["squeue"])) == 1, logs["squeue"].read_text()
        released = subprocess.run(["scontrol", "release", f"{array}_0"], capture_output=True, text=True)
        assert released.returncode == 0, released.stderr
        deadline = time.monotonic() + 120
        while not json.loads((project / "runs" / members[0] / "manifest.json").read_text()).get("attempts"):
            assert time.monotonic() < deadline, "the released member did not start within 120 s"
            time.sleep(0.5)
        for log in logs.values():
            log.unlink(missing_ok=True)
        shown = cli(["status", sweep, "--json"], project, env=env)
        assert shown.returncode == 0, shown.stderr
        states = {row["run_id"]: row["state"] for row in json.loads(shown.stdout)["members"]}
        assert states[members[0]] in ("running", "completed"), states
        assert [states[m] for m in members[1:]] == ["pending", "pending"], states
        assert _asked(logs["sacct"]) == [[f"{array}_0"]], logs["sacct"].read_text()
    finally:
        subprocess.run(["scancel", str(array)], check=False, capture_output=True)
