"""The scheduler goes away (slurmctld and slurmdbd stopped) and comes back: no traceback, nothing lost.

On an isolated cluster of its own (tests/clusters.py): the main test cluster is never stopped.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import IsolatedCluster, isolated_cluster
from tests.helpers import cli, manifest, no_traceback, only_run

pytestmark = [pytest.mark.isolated]


@pytest.fixture
def cluster() -> Iterator[IsolatedCluster]:
    with isolated_cluster("outage", accounting="dbd") as c:
        yield c


def _without_attempts(run: Path) -> dict[str, object]:
    """The manifest as status would keep it: the job's own wrapper records its attempt when it ends,
    which may be during the outage."""
    data: dict[str, object] = json.loads((run / "manifest.json").read_text())
    data.pop("attempts", None)
    return data


def test_status_and_submit_survive_a_scheduler_outage(project: Path, cluster: IsolatedCluster) -> None:
    sleeper = project / "configs" / "sleep.yaml"
    sleeper.write_text("name: sleeper\ncommand: python -c 'import time; time.sleep(15)'\n")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "s"], cwd=project, check=True
    )
    env = cluster.env
    skip = ["--skip-smoke", "the job only sleeps"]
    first = cli(["submit", "configs/sleep.yaml", "--backend", "slurm", "--json", *skip], project, env=env)
    assert first.returncode == 0, first.stderr
    run = only_run(project)
    deadline = time.time() + 60  # the job's srun must have started before the controller goes away
    while "job_started" not in (
        (run / "events.jsonl").read_text() if (run / "events.jsonl").exists() else ""
    ):
        assert time.time() < deadline, "the job did not start within 60 s"
        time.sleep(0.2)
    before = _without_attempts(run)
    cluster.stop_controller()
    cluster.stop_dbd()
    try:
        status = cli(["status", "--json"], project, env=env, timeout=120)
        assert status.returncode == 0, status.stderr
        no_traceback(status)
        assert "warning: SLURM did not answer" in status.stderr
        rows = json.loads(status.stdout)["runs"]
        assert rows[0]["state"] == before["state"]  # the last known state
        assert _without_attempts(run) == before  # nothing rewritten or lost
        refused = cli(
            ["submit", "configs/sleep.yaml", "--backend", "slurm", *skip], project, env=env, timeout=120
        )
        assert refused.returncode == 3 and "controller does not answer" in refused.stderr
        no_traceback(refused)
    finally:
        cluster.start()
    done = cli(["status", "--watch", run.name], project, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert manifest(run)["state"] == "completed"
