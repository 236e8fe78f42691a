"""The scheduler goes away (slurmctld and slurmdbd stopped) and comes back: no traceback, nothing lost.

Kept in its own module, which runs after test_slurm.py, and always restarts the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO, cli, manifest, no_traceback, only_run

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]
RUN_DIR = Path(os.environ.get("CLUSTERRUN_SLURM_DIR", "/var/lib/clusterrun-slurm")) / "run"


@contextlib.contextmanager
def scheduler_outage() -> Iterator[None]:
    """Stop slurmctld and slurmdbd for the body; bring the cluster back up whatever happens."""
    pids = [int((RUN_DIR / f"{d}.pid").read_text()) for d in ("slurmctld", "slurmdbd")]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 30
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.2)
    try:
        yield
    finally:
        up = subprocess.run(
            ["bash", str(REPO / "scripts" / "local-slurm.sh"), "up"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert up.returncode == 0, up.stdout + up.stderr


def test_status_and_submit_survive_a_scheduler_outage(project: Path) -> None:
    sleeper = project / "configs" / "sleep.yaml"
    sleeper.write_text("name: sleeper\ncommand: python -c 'import time; time.sleep(3)'\n")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "s"], cwd=project, check=True
    )
    first = cli(["submit", "configs/sleep.yaml", "--backend", "slurm", "--json"], project)
    assert first.returncode == 0, first.stderr
    run = only_run(project)
    deadline = time.time() + 60  # the job's srun must have started before the controller goes away
    while "job_started" not in (
        (run / "events.jsonl").read_text() if (run / "events.jsonl").exists() else ""
    ):
        assert time.time() < deadline, "the job did not start within 60 s"
        time.sleep(0.2)
    before = (run / "manifest.json").read_text()
    with scheduler_outage():
        status = cli(["status", "--json"], project, timeout=120)
        assert status.returncode == 0, status.stderr
        no_traceback(status)
        assert "warning: SLURM did not answer" in status.stderr
        rows = json.loads(status.stdout)["runs"]
        assert rows[0]["state"] == json.loads(before)["state"]  # the last known state
        assert (run / "manifest.json").read_text() == before  # nothing rewritten or lost
        refused = cli(["submit", "configs/sleep.yaml", "--backend", "slurm"], project, timeout=120)
        assert refused.returncode == 3 and "controller does not answer" in refused.stderr
        no_traceback(refused)
    done = cli(["status", "--watch", run.name], project, timeout=300)
    assert done.returncode == 0, done.stderr
    assert manifest(run)["state"] == "completed"
