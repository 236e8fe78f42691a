"""What a command starts and leaves running when it exits (a monitor, a server it forgot to stop) is
stopped with the job, on every backend, and said in the results (execution/supervise.py).

The promise: a finished run's records stop changing when it ends, and it leaves nothing running on the
machine. Before, on the local backend (and on a SLURM cluster whose proctrack does not follow processes
that left their parent, as this one's linuxproc), a forgotten monitor went on appending to the run's
stdout.log after COMPLETED, for as long as the machine stayed up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from clusterrun.execution.supervise import supervise
from tests.helpers import cli, make_project, only_run


def _marked(marker: str) -> list[int]:
    """The pids of processes whose command line holds `marker`."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


def _config(marker: str) -> str:
    # the monitor: started in the background, writing to the job's stdout, never stopped
    monitor = f"while true; do echo tick-{marker}; sleep 0.2; done"
    return (
        "name: forgets\n"
        f"command: bash -c '( {monitor} ) & echo loss=0.5; exit 0'\n"
        "metrics:\n  patterns:\n    loss: 'loss=([0-9.eE+-]+)'\n"
        "resources: {time: '00:05:00', nodes: 1, cpus_per_task: 1, mem: 200M, gpus: 0}\n"
    )


def _check_stopped(project: Path, result: subprocess.CompletedProcess[str], marker: str) -> None:
    assert result.returncode == 0, result.stderr
    assert "Status: SUCCESS" in result.stdout
    assert "Warning: the command left 1 process running when it exited (bash -c" in result.stdout
    run = only_run(project)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["leftover_count"] == 1 and marker in summary["leftover_processes"][0]
    assert _marked(f"tick-{marker}") == []  # nothing of the run runs on
    size = (run / "stdout.log").stat().st_size
    time.sleep(1.0)  # the monitor wrote every 0.2 s
    assert (run / "stdout.log").stat().st_size == size
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e["count"] for e in events if e["event"] == "leftover_stopped"] == [1]


def test_a_local_job_stops_what_its_command_left_running(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:10]
    project = make_project(tmp_path / "p", {"configs/forgets.yaml": _config(marker)})
    try:
        result = cli(["submit", "configs/forgets.yaml", "--backend", "local", "--wait", "--yes"], project)
        _check_stopped(project, result, marker)
        # said before the submission too: the smoke test's command left it running as well
        assert "warning: the smoke test's command left 1 process(es) running when it exited (bash -c" in (
            result.stderr
        )
    finally:
        for pid in _marked(f"tick-{marker}"):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_slurm_job_stops_what_its_command_left_running(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:10]
    project = make_project(tmp_path / "p", {"configs/forgets.yaml": _config(marker)})
    try:
        result = cli(
            ["submit", "configs/forgets.yaml", "--backend", "slurm", "--wait", "--yes"], project, timeout=240
        )
        _check_stopped(project, result, marker)
    finally:
        for pid in _marked(f"tick-{marker}"):
            os.kill(pid, signal.SIGKILL)


def _supervised(script: str, tmp_path: Path) -> tuple[object, float]:
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        started = time.monotonic()
        outcome = supervise(["bash", "-c", script], out, err, dict(os.environ), forward=True)
        return outcome, time.monotonic() - started


def test_children_that_end_with_the_command_are_not_leftovers(tmp_path: Path) -> None:
    """A pool's workers that exit a moment after their parent are not reported (LEFTOVER_GRACE)."""
    outcome, _seconds = _supervised("(sleep 0.05) & exit 0", tmp_path)
    assert outcome.leftover_count == 0 and outcome.leftover == []  # type: ignore[attr-defined]


def test_a_leftover_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:10]
    code = f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)  # {marker}"
    try:
        outcome, seconds = _supervised(f"{sys.executable} -c '{code}' & sleep 0.3; exit 3", tmp_path)
        assert outcome.returncode == 3  # type: ignore[attr-defined]
        assert outcome.leftover_count == 1 and marker in outcome.leftover[0]  # type: ignore[attr-defined]
        assert _marked(marker) == []
        assert seconds < 30
    finally:
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)
