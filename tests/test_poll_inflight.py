"""Watchers that arrive while another's sacct is going take its answer, however long it takes (issue 13:
N watchers cost about one poll; scheduler/cache.py). Slow accounting is where sharing matters most, and
it was where it stopped: an answer whose query took longer than the cache's max age was shared with
nobody, and with accounting down each watcher waited out a query of its own in turn; and a watch of a
scheduler that does not answer asks less and less often. On the main cluster,
with PATH shims that log each call and make sacct slow (then run the real one) or fail slowly."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, cli_started, no_traceback
from tests.isolated_runs import add_config, submit

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

QUERY = 3  #: seconds the shimmed sacct takes
MAX_AGE = "0.5"  #: far shorter than a query
OFFSETS = (0.0, 1.0, 2.0)  #: when each watcher starts: all while the first one's query is going

SLOW = """#!/bin/bash
echo sacct >> {log}
sleep {query}
exec {real} "$@"
"""
DOWN = """#!/bin/bash
echo {name} >> {log}
sleep {query}
echo "{name}: error: Unable to contact slurm controller (connect failure)" >&2
exit 1
"""


def _real(command: str) -> str:
    found = subprocess.run(["bash", "-c", f"command -v {command}"], capture_output=True, text=True)
    assert found.stdout.strip(), command
    return found.stdout.strip()


def _watch_together(project: Path, run_id: str, env: dict[str, str]) -> list[tuple[int, str, str]]:
    """`status RUN --json` started at OFFSETS; each one's (exit code, stdout, stderr)."""
    started, procs = time.monotonic(), []
    for offset in OFFSETS:
        time.sleep(max(0.0, started + offset - time.monotonic()))
        procs.append(cli_started(["status", run_id, "--json"], project, env))
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        out.append((proc.returncode, stdout, stderr))
    return out


def test_watchers_share_a_slow_sacct_and_a_failed_one(project: Path, tmp_path: Path) -> None:
    run_id = submit(project, add_config(project, "slowacct", "sleep 90"), {})["run_id"]
    try:
        deadline, state = time.monotonic() + 120, ""
        while time.monotonic() < deadline and state != "running":
            time.sleep(1)
            looked = cli(["status", run_id, "--json"], project, env={"CLUSTERRUN_POLL_MAX_AGE": "0"})
            state = json.loads(looked.stdout)["runs"][0]["state"] if looked.returncode == 0 else ""
        assert state == "running", "the job was not seen running within 120 s (a busy cluster)"

        # accounting slow: the three watchers' refreshes are answered by one sacct
        shims, log = tmp_path / "slow", tmp_path / "slow.log"
        shims.mkdir()
        (shims / "sacct").write_text(SLOW.format(log=log, query=QUERY, real=_real("sacct")))
        (shims / "sacct").chmod(0o755)
        env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_POLL_MAX_AGE": MAX_AGE}
        seen = _watch_together(project, run_id, env)
        for code, stdout, stderr in seen:
            assert code == 0, stderr
            assert json.loads(stdout)["runs"][0]["state"] == "running", stdout
        calls = log.read_text().splitlines()
        assert calls == ["sacct"], calls  # before: 2 (the later watchers found the answer too old)

        # accounting and the controller down: one slow failure, every watcher told, none asks again
        shims, log = tmp_path / "down", tmp_path / "down.log"
        shims.mkdir()
        for name in ("sacct", "squeue"):
            (shims / name).write_text(DOWN.format(name=name, log=log, query=QUERY))
            (shims / name).chmod(0o755)
        env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_POLL_MAX_AGE": MAX_AGE}
        began = time.monotonic()
        told = _watch_together(project, run_id, env)
        took = time.monotonic() - began
        for code, stdout, stderr in told:
            no_traceback(subprocess.CompletedProcess([], code, stdout, stderr))
            assert "did not answer" in stdout + stderr, (code, stdout, stderr)
        calls = log.read_text().splitlines()
        assert calls.count("sacct") == 1, calls  # before: one per watcher, each after the other's
        assert took < 3 * QUERY + 8, took  # none waited out a failing query of its own in turn (before: 20 s)

        # a watch of a scheduler that does not answer waits longer each time (1, 2, 4, 8, 16 s here)
        shims, log = tmp_path / "dead", tmp_path / "dead.log"
        shims.mkdir()
        for name in ("sacct", "squeue"):
            (shims / name).write_text(DOWN.format(name=name, log=log, query=0))
            (shims / name).chmod(0o755)
        env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_WATCH_POLL": "1"}
        watched = cli(["status", run_id, "--watch", "--quiet", "--timeout", "20"], project, env=env)
        no_traceback(watched)
        asked = log.read_text().splitlines().count("sacct")
        assert 3 <= asked <= 7, asked  # before: about 10 (a failure is remembered 2 s: one ask in 2 s)
    finally:
        job = json.loads((project / "runs" / run_id / "manifest.json").read_text()).get("job_id")
        if job:
            subprocess.run(["scancel", str(job)], capture_output=True)
