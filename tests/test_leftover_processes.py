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


def test_the_jobs_own_probe_is_waited_for_not_reported(tmp_path: Path) -> None:
    """A process of the job's own (`awaited` in its command line: command.sh's environment probe) that
    outlives the command by more than LEFTOVER_GRACE is waited for and ends on its own, uncounted."""
    done = tmp_path / "python_env.json"
    script = f"(sleep 0.6; echo ok > {done}) & exit 0"
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        outcome = supervise(
            ["bash", "-c", script], out, err, dict(os.environ), forward=True, awaited=str(done)
        )
    # the subshell's command line is bash -c's, which names the file: awaited, so it finished its work
    assert outcome.leftover_count == 0 and outcome.leftover == []
    assert done.read_text() == "ok\n"


def test_a_short_job_on_a_slow_starting_python_keeps_its_environment_record(tmp_path: Path) -> None:
    """The promise: a job's results never blame the user's command for clusterrun's own processes. Where
    `python` starts slowly (a shared file system, a shim: here 0.6 s), command.sh's environment probe
    outlived a short command; the job then said `the command left 1 process running ... (bash
    .../command.sh)`, stopped the probe, and the run had no python_env.json."""
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "python").write_text(f'#!/bin/bash\nsleep 0.6\nexec {sys.executable} "$@"\n')
    (slow / "python").chmod(0o755)
    config = "name: quick\ncommand: 'true'\nresources: {time: '00:05:00', mem: 100M, cpus_per_task: 1}\n"
    project = make_project(tmp_path / "p", {"configs/quick.yaml": config})
    env = {"PATH": f"{slow}{os.pathsep}{os.environ['PATH']}"}
    result = cli(["submit", "configs/quick.yaml", "--backend", "local", "--wait", "--yes"], project, env=env)
    assert result.returncode == 0, result.stderr
    assert "Status: SUCCESS" in result.stdout and "left 1 process" not in result.stdout
    run = only_run(project)
    assert "leftover_count" not in json.loads((run / "exit.json").read_text())
    probe = json.loads((run / "python_env.json").read_text())
    assert Path(probe["python"]["executable"]).resolve() == Path(sys.executable).resolve()


ADOPTED = """
import os, sys, psutil
from clusterrun import portable
from clusterrun.execution.supervise import supervise
assert portable.adopt_orphans()
with open(os.devnull, "wb") as out:
    outcome = supervise(["bash", "-c", "(sleep 0.05) & exit 0"], out, out, dict(os.environ), forward=True)
zombies = [p.pid for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE]
print(outcome.leftover_count, zombies)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreapers are Linux's")
def test_what_the_command_left_is_reaped_by_the_wrapper_not_waited_out() -> None:
    """A job's wrapper adopts what its command leaves (portable.adopt_orphans) and reaps it as it ends:
    under an init that reaps orphans late (a container's, this VM's agent), an ended orphan stayed a
    member of the command's process group, and every short job's end waited out the whole grace."""
    out = subprocess.run([sys.executable, "-c", ADOPTED], capture_output=True, text=True, check=True).stdout
    assert out.split(maxsplit=1) == ["0", "[]\n"], out
