"""A watch notices a job's end within about CLUSTERRUN_WATCH_POLL seconds (5) however long the job ran,
and the registry's watches share one sacct per interval even when they follow different runs (issue 13,
"Watching"; services/status.py wait, scheduler/cache.py). Before, a watch's interval doubled to 30 s
while nothing changed: a 40 s job's end showed about 20 s late. On the main cluster: two runs, a watch
of each, sacct counted through a PATH shim that logs each call and runs the real one."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from clusterrun import envknobs
from tests.helpers import cli_started
from tests.isolated_runs import add_config, submit

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

EVERY = envknobs.WATCH_POLL.default
SHIM = """#!/bin/bash
echo sacct >> {log}
exec {real} "$@"
"""


def _ended(job_id: str) -> float:
    """The job's end as accounting has it (whole seconds)."""
    for _ in range(30):
        out = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "end"], capture_output=True, text=True
        ).stdout.split()
        if out and out[0][:1].isdigit():
            return datetime.fromisoformat(out[0]).timestamp()
        time.sleep(1)
    raise AssertionError(f"accounting has no end for job {job_id}")


def test_watches_notice_ends_soon_and_share_their_polls(project: Path, tmp_path: Path) -> None:
    config = add_config(project, "longish", "sleep 40")
    runs = [submit(project, config, {}) for _ in range(2)]
    try:
        shims, log = tmp_path / "shim", tmp_path / "sacct.log"
        shims.mkdir()
        real = subprocess.run(["bash", "-c", "command -v sacct"], capture_output=True, text=True).stdout
        (shims / "sacct").write_text(SHIM.format(log=log, real=real.strip()))
        (shims / "sacct").chmod(0o755)
        env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "CLUSTERRUN_WATCH_POLL": str(EVERY)}
        started = time.time()
        watches = [cli_started(["status", run["run_id"], "--watch", "--quiet"], project, env) for run in runs]
        noticed: list[float | None] = [None, None]
        deadline = time.monotonic() + 180
        while None in noticed and time.monotonic() < deadline:
            for i, watch in enumerate(watches):
                if noticed[i] is None and watch.poll() is not None:
                    noticed[i] = time.time()
            time.sleep(0.05)
        outputs = [w.communicate(timeout=30) for w in watches]
        for watch, (out, err) in zip(watches, outputs, strict=True):
            assert watch.returncode == 0, out + err
            assert "completed" in out.lower(), out
        late = [at - _ended(run["job_id"]) for at, run in zip(noticed, runs, strict=True) if at is not None]
        calls = len(log.read_text().splitlines())
        span = max(n for n in noticed if n is not None) - started
        print(f"ends noticed {[round(x, 1) for x in late]} s late; {calls} sacct calls in {span:.0f} s")
        assert len(late) == 2 and all(x <= EVERY + 3 for x in late), late  # before: about 20 s
        # one question per interval for both watches (each asking alone would be twice as many)
        assert calls <= span / EVERY + 3, (calls, span)  # both first looks ask, then one per interval
    finally:
        subprocess.run(["scancel", *[str(r["job_id"]) for r in runs]], capture_output=True)
