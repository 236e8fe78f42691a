"""Issue 9, item 6: jobs the scheduler accepted while clusterrun was interrupted are adopted by `status`.

On an isolated cluster (tests/clusters.py; one frozen controller never touches the main one), with a
PATH shim around sbatch (tests/sbatch_shim.py): (a) slurmctld frozen during sbatch: a timeout, never
"refused", and the job the thawed controller creates is adopted and completes; (b) kill -9 right after
sbatch answered; (c) Ctrl-C during a sweep's sbatch; (d) a split sweep whose second sbatch fails:
partial, with the ids that went through, and sweep.json lists the accepted array."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import sbatch_shim
from tests.clusters import IsolatedCluster, isolated_cluster
from tests.helpers import REPO, cli, git, manifest, no_traceback
from tests.isolated_runs import add_config, wait_until

pytestmark = [pytest.mark.isolated]
SKIP = ["--backend", "slurm", "--skip-smoke", "tested on an isolated cluster", "--no-watch"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[IsolatedCluster]:
    with isolated_cluster("adopt") as c:
        yield c


def _env(c: IsolatedCluster, tmp_path: Path, **shim: str) -> dict[str, str]:
    shims = sbatch_shim.install(tmp_path / "shim")
    return {
        **c.env,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "CLUSTERRUN_POLL_MAX_AGE": "0",
        **shim,
    }


def _runs(project: Path) -> list[Path]:
    return sorted(p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file())


def _sweep(project: Path) -> dict[str, Any]:
    (path,) = project.glob("runs/*-sweep_*/sweep.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _named(c: IsolatedCluster, name: str) -> list[str]:
    """Job ids SLURM has under a name (sacct, and squeue for jobs accounting has not seen yet)."""
    out = c.run("sacct", "-n", "-P", "-X", "-S", "now-1hour", "--name", name, "-o", "JobID", check=False)
    queue = c.run("squeue", "-h", "-r", "-n", name, "-o", "%i", check=False)
    return sorted({ln.strip() for ln in (out.stdout + queue.stdout).splitlines() if ln.strip()})


def _status_until(project: Path, env: dict[str, str], run: Path, states: set[str], timeout: float) -> None:
    def ended() -> bool:
        result = cli(["status", "--json"], project, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        no_traceback(result)
        return manifest(run)["state"] in states

    wait_until(ended, timeout, f"{run.name} in {states}", interval=1.0)


def _sweep_config(project: Path, members: int) -> str:
    extra = f"params: {{tag: 0}}\nsweep: {{grid: {{params.tag: {list(range(members))}}}}}\n"
    return add_config(project, "swept", "echo {tag}", extra)


def test_frozen_controller_sbatch_times_out_and_status_adopts_the_job(
    project: Path, cluster: IsolatedCluster, tmp_path: Path
) -> None:
    freeze = f"bash {REPO / 'scripts' / 'isolated-slurm.sh'} freeze {cluster.name} slurmctld"
    env = _env(cluster, tmp_path, SHIM_BEFORE=freeze, CLUSTERRUN_SBATCH_TIMEOUT="4")
    config = add_config(project, "frozen", "true")
    try:
        result = cli(["submit", config, *SKIP], project, env=env, timeout=180)
    finally:
        cluster.thaw_controller()
    no_traceback(result)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "error: sbatch did not answer within 4 s; the job may exist: clusterrun status will adopt it" in (
        result.stderr
    )
    assert "refused" not in result.stderr
    (run,) = _runs(project)
    assert manifest(run)["state"] == "submitting" and not manifest(run)["job_id"]  # never submit_failed
    env.pop("SHIM_BEFORE")
    wait_until(lambda: _named(cluster, run.name), 60, "the thawed controller creates the job")
    _status_until(project, env, run, {"completed"}, 180)
    record = manifest(run)
    # the job left slurmctld's queue; accounting may take a moment to have it (the frozen controller's
    # records reach slurmdbd late)
    wait_until(lambda: _named(cluster, run.name) == [record["job_id"]], 60, "accounting names the job")
    assert any("adopted" in (h.get("note") or "") for h in record["state_history"])


def test_kill_9_right_after_sbatch_answered_leaves_a_run_that_status_adopts(
    project: Path, cluster: IsolatedCluster, tmp_path: Path
) -> None:
    env = _env(cluster, tmp_path, SHIM_AFTER="kill -9 $PPID; sleep 5")
    config = add_config(project, "killed", "true")
    result = cli(["submit", config, *SKIP], project, env=env, timeout=120)
    assert result.returncode == -9, result.stdout + result.stderr
    (run,) = _runs(project)
    assert manifest(run)["state"] == "submitting" and not manifest(run)["job_id"]
    env.pop("SHIM_AFTER")
    _status_until(project, env, run, {"completed"}, 180)
    job_id = manifest(run)["job_id"]
    wait_until(lambda: _named(cluster, run.name) == [job_id], 60, "accounting names the job")


def test_ctrl_c_during_a_sweep_submission_leaves_members_tracked(
    project: Path, cluster: IsolatedCluster, tmp_path: Path
) -> None:
    env = _env(cluster, tmp_path, SHIM_AFTER="kill -INT $PPID; sleep 5")
    config = _sweep_config(project, 3)
    result = cli(["submit", config, *SKIP], project, env=env, timeout=120)
    no_traceback(result)
    assert result.returncode == 130, result.stdout + result.stderr
    members = _runs(project)
    assert len(members) == 3
    assert {manifest(m)["state"] for m in members} == {"submitting"}
    env.pop("SHIM_AFTER")
    for member in members:
        _status_until(project, env, member, {"completed"}, 180)
    (array,) = {manifest(m)["job_id"].split("_")[0] for m in members}
    sweep_id = manifest(members[0])["sweep"]
    assert sorted(manifest(m)["job_id"] for m in members) == [f"{array}_{i}" for i in range(3)]
    assert {j.split("_")[0] for j in _named(cluster, sweep_id)} == {array}
    states = [h["state"] for m in members for h in manifest(m)["state_history"]]
    assert "submit_failed" not in states


def test_split_sweep_whose_second_sbatch_fails_is_partial_with_the_ids(
    project: Path, cluster: IsolatedCluster, tmp_path: Path
) -> None:
    (project / "configs" / "clusters").mkdir(exist_ok=True)
    (project / "configs" / "clusters" / "tiny.yaml").write_text("max_array_size: 2\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tiny")
    env = _env(cluster, tmp_path, SHIM_BEFORE=sbatch_shim.fail_after(tmp_path / "calls", 1))
    config = _sweep_config(project, 4)
    result = cli(["submit", config, *SKIP, "--cluster", "tiny"], project, env=env, timeout=120)
    no_traceback(result)
    assert result.returncode == 3, result.stdout + result.stderr
    sweep = _sweep(project)
    (array,) = sweep["arrays"]
    assert sweep["state"] == "partial" and array["size"] == 2 and len(array["members"]) == 2
    assert f"was submitted in part: 2 of 4 member(s) went through as job(s) {array['job_id']} (2)" in (
        result.stderr
    )
    assert "Invalid account" in result.stderr
    by_state: dict[str, list[str]] = {}
    for member in sweep["members"]:
        record = manifest(project / "runs" / member["run_id"])
        by_state.setdefault(record["state"], []).append(record["job_id"] or "")
    assert sorted(by_state["submitted"]) == [f"{array['job_id']}_{i}" for i in range(2)]
    assert by_state["submit_failed"] == ["", ""]
    assert {j.split("_")[0] for j in _named(cluster, sweep["sweep_id"])} == {array["job_id"]}
