"""One sacct per refresh reads what the runs shown need, not their whole array: members of a sweep that
have run are asked for by their own task ids (a 10,000-task array's 20 newest members: 20 tasks' records),
and their states stay right; a member that has not run yet is asked for through its array's id (a
pending task has no record of its own). On the main cluster, with a PATH shim that logs sacct's argv."""

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
