"""The smoke-test runner: timeout, peak memory, step timing, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from clusterrun.execution.smoke import run_smoke

REPO = Path(__file__).resolve().parents[2]


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "command.sh"
    script.write_text(f"#!/usr/bin/env bash\nset -e\n{body}\n")
    return script


def test_times_steps_and_measures_peak_memory(tmp_path: Path) -> None:
    code = (
        "import json, time; b = bytearray(80 * 1024 * 1024); f = open('m.jsonl', 'a')\n"
        "for s in range(1, 5):\n    time.sleep(0.2); f.write(json.dumps({'step': s}) + '\\n'); f.flush()"
    )
    script = _script(tmp_path, f'cd {tmp_path}\nexec {sys.executable} -c "{code}"')
    result = run_smoke(script, tmp_path, timeout=30, metrics_file=tmp_path / "m.jsonl")
    assert result.ok and result.returncode == 0 and not result.timed_out
    assert result.peak_rss_mb > 80
    assert [p[0] for p in result.step_points] == [1, 2, 3, 4]
    gaps = [b[1] - a[1] for a, b in zip(result.step_points, result.step_points[1:], strict=False)]
    assert all(0.1 < g < 0.6 for g in gaps), gaps


def test_the_peak_is_the_commands_not_the_process_that_started_it(tmp_path: Path) -> None:
    """A process starts as a copy of the one that started it, and the kernel keeps that one's peak as the
    new process's first (rusage maxrss): `echo` in a submission holding 300 MB measured a 300 MB peak, and
    a job asking 100M was asked about as one its smoke test said would be killed. The command now starts
    from a small launcher (execution/launcher.py): its peak is its own, however short-lived (each command
    here exits at once, between two samples), above or below the starting process's."""
    ballast = bytearray(300 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # resident: this process's peak is over 300 MB
    small = run_smoke(_script(tmp_path, "echo hi"), tmp_path, timeout=30)
    assert small.ok and small.peak_rss_mb < 30, small.peak_rss_mb
    for size in (60, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 + 150):
        code = f"b = bytearray({size} * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"
        held = run_smoke(_script(tmp_path, f'{sys.executable} -c "{code}"'), tmp_path, timeout=30)
        assert held.ok and size < held.peak_rss_mb < size + 60, (held.peak_rss_mb, size)
    assert not (tmp_path / ".peak").exists()  # read, then removed
    del ballast


def test_the_launcher_passes_the_commands_end_on(tmp_path: Path) -> None:
    assert run_smoke(_script(tmp_path, "exit 3"), tmp_path, timeout=30).returncode == 3
    killed = run_smoke(_script(tmp_path, "kill -9 $$"), tmp_path, timeout=30)
    assert killed.returncode == -9 and not killed.ok


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    script = _script(tmp_path, f"sleep 60 & echo $! > {tmp_path}/child.pid\nsleep 60")
    started = time.monotonic()
    result = run_smoke(script, tmp_path, timeout=1)
    assert result.timed_out and not result.ok and time.monotonic() - started < 15
    child = int((tmp_path / "child.pid").read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert "smoke.timeout" in (tmp_path / "stderr.log").read_text()


def test_ctrl_c_stops_the_smoke_test(tmp_path: Path) -> None:
    script = _script(tmp_path, f"echo $$ > {tmp_path}/smoke.pid\nsleep 60")
    driver = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from clusterrun.execution.smoke import run_smoke; from pathlib import Path; "
            f"run_smoke(Path({str(script)!r}), Path({str(tmp_path)!r}), 120)",
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    pid_file = tmp_path / "smoke.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    smoke_pid = int(pid_file.read_text())
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=30) != 0
    time.sleep(0.5)
    assert not Path(f"/proc/{smoke_pid}").exists(), "the smoke test outlived Ctrl-C"
