"""Issue 9, item 5: concurrent watchers share one poll per interval (scheduler/cache.py), and none of them
shows a job running once another has seen it end. Against a real (isolated) cluster; sacct is counted
through a PATH shim that logs each call and runs the real one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.scheduler import TERMINAL
from tests.clusters import isolated_cluster
from tests.helpers import REPO
from tests.isolated_runs import add_config, submit

pytestmark = [pytest.mark.isolated]
WATCHERS = 5
MAX_AGE = 2.0
#: One watcher: refresh the run every 0.2 s until it has ended, and 1.5 s more; each refresh a JSON line.
WATCHER = """
import json, sys, time
from pathlib import Path
from clusterrun.records.registry import Registry
from clusterrun.services.status import refresh
registry, run_id = Registry(Path(sys.argv[1])), sys.argv[2]
deadline, done = time.time() + 120, None
while time.time() < deadline and (done is None or time.time() < done + 1.5):
    start = time.time()
    row = refresh(registry, [run_id]).runs[0]
    print(json.dumps({"start": start, "end": time.time(), "state": row.state}), flush=True)
    if row.done and done is None:
        done = time.time()
    time.sleep(0.2)
"""


def _shim(tmp_path: Path) -> tuple[Path, Path]:
    """A directory with a `sacct` that appends a line to a counter file, then runs the real sacct."""
    real = shutil.which("sacct")
    assert real
    bin_dir, counter = tmp_path / "shim", tmp_path / "sacct-calls"
    bin_dir.mkdir()
    shim = bin_dir / "sacct"
    shim.write_text(f'#!/bin/sh\necho "$$" >> {counter}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    return bin_dir, counter


def test_concurrent_watchers_share_polls_and_never_go_back_to_running(project: Path, tmp_path: Path) -> None:
    with isolated_cluster("pollcache") as c:
        run = submit(project, add_config(project, "short", "sleep 12"), c.env)
        bin_dir, counter = _shim(tmp_path)
        env = {
            **os.environ,
            **c.env,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "CLUSTERRUN_POLL_MAX_AGE": str(MAX_AGE),
        }
        watchers = [
            subprocess.Popen(
                [sys.executable, "-c", WATCHER, str(project / "runs"), run["run_id"]],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(WATCHERS)
        ]
        outputs = [w.communicate(timeout=180) for w in watchers]
    for watcher, (_out, err) in zip(watchers, outputs, strict=True):
        assert watcher.returncode == 0, err
    seen = [[json.loads(line) for line in out.splitlines()] for out, _err in outputs]
    refreshes = sum(len(s) for s in seen)
    calls = len(counter.read_text().splitlines())
    first = min(o["start"] for s in seen for o in s)
    last = max(o["end"] for s in seen for o in s)
    allowed = (last - first) / MAX_AGE + 3  # about one query per interval, whoever asks
    print(f"{WATCHERS} watchers, {refreshes} refreshes in {last - first:.1f} s: {calls} sacct calls")
    assert all(s[-1]["state"] == "completed" for s in seen), [s[-1] for s in seen]
    assert 1 <= calls <= allowed, (calls, allowed, refreshes)
    assert refreshes >= 3 * calls  # most refreshes were answered from another watcher's poll
    # once any watcher has seen the job end, no refresh that began afterwards shows it going
    ended_at = min(o["end"] for s in seen for o in s if o["state"] in TERMINAL)
    later = [o for s in seen for o in s if o["start"] > ended_at]
    assert later and all(o["state"] in TERMINAL for o in later), later
    for observations in seen:  # nor does any one watcher go back
        states = [o["state"] for o in observations]
        first_end = next(i for i, state in enumerate(states) if state in TERMINAL)
        assert all(state in TERMINAL for state in states[first_end:]), states
