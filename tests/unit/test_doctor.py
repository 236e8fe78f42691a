"""The verdicts of `clusterrun doctor`, with the cluster and the machine replaced by fakes.

The CLI is exercised in-process through the real app, so the fakes apply.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import typer
from typer.testing import CliRunner

from clusterrun.cli.app import app as cli_app
from clusterrun.errors import SchedulerUnavailable, UsageError
from clusterrun.scheduler import checks, info
from clusterrun.services import doctor
from tests.helpers import git

GIB = 1024**3
PARTITION_UP = (
    "PartitionName=debug Default=YES MaxTime=UNLIMITED Nodes=n[1-2] State=UP TotalCPUs=8 TotalNodes=2"
)
PARTITION_GPU = "PartitionName=gpu Default=NO MaxTime=1-00:00:00 Nodes=g1 State=UP TotalCPUs=32 TotalNodes=1"
NODES_OK = "n1|idle|4|8000|(null)\nn2|mixed|4|8000|(null)\ng1|allocated|32|64000|gpu:a100:4(S:0-1)\n"


class Usage(NamedTuple):
    total: int
    used: int
    free: int


class Cluster:
    """What the fake SLURM answers; set an attribute to an exception to make that query fail."""

    def __init__(self) -> None:
        self.nodes: str | Exception = NODES_OK
        self.partitions: str | Exception = f"{PARTITION_UP}\n{PARTITION_GPU}\n"
        self.config: dict[str, str] | Exception = {"MaxArraySize": "5001", "SLURM_VERSION": "23.11.1"}
        self.accounting: bool | Exception = True
        self.commands = {"sbatch", "srun", "sinfo", "sacct", "scontrol"}
        self.free = 100 * GIB
        self.gpus: list[str] = []


def _answer(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    fake = Cluster()
    monkeypatch.setattr(info, "nodes", lambda: info.parse_sinfo_nodes(_answer(fake.nodes)))
    monkeypatch.setattr(info, "partitions", lambda: info.parse_partitions(_answer(fake.partitions)))
    monkeypatch.setattr(info, "cluster_config", lambda: _answer(fake.config))
    monkeypatch.setattr(info, "accounting_available", lambda: _answer(fake.accounting))
    monkeypatch.setattr(checks, "_which", lambda name: f"/usr/bin/{name}" if name in fake.commands else None)
    monkeypatch.setattr(doctor, "_disk_usage", lambda path: Usage(1000 * GIB, 0, fake.free))
    monkeypatch.setattr(checks, "_local_gpus", lambda: fake.gpus)
    yield fake


def _statuses(report: doctor.DoctorReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def _run(project: Path, backend: str = "auto") -> doctor.DoctorReport:
    return doctor.run_checks(project, project / "runs", backend)


def test_a_healthy_cluster_passes(project: Path, cluster: Cluster) -> None:
    report = _run(project)
    statuses = _statuses(report)
    assert list(statuses) == [  # the generic rows, then the backend's own (Scheduler.checks)
        "git",
        "python",
        "disk",
        "registry",
        "allocation",
        "submitit",
        "slurm",
        "accounting",
        "partitions",
        "nodes",
        "gpus",
        "array size",
    ]
    assert all(status == "ok" for name, status in statuses.items() if name != "python"), statuses
    assert not report.blocking and report.backend == "slurm"
    assert "SLURM 23.11.1" in report.check("slurm").detail
    parts = report.check("partitions").detail
    assert "debug* UP MaxTime=UNLIMITED nodes=n[1-2] cpus=8" in parts and "gpu UP MaxTime=1-00:00:00" in parts
    assert report.check("nodes").detail == "3 node(s), 40 CPUs: 1 allocated, 1 idle, 1 mixed"
    assert report.check("gpus").data["slurm_gpus"] == 4 and "g1=4" in report.check("gpus").detail
    array = report.check("array size")
    assert array.data["max_array_size"] == 5001 and "indices 0-5000" in array.detail
    record = report.as_record()
    assert record["blocking"] is False and json.dumps(record)


def test_missing_sbatch_means_local_backend_and_nothing_blocks(project: Path, cluster: Cluster) -> None:
    cluster.commands = set()
    cluster.nodes = AssertionError("no SLURM query when sbatch is missing")
    cluster.gpus = ["NVIDIA A100-SXM4-80GB, 81920 MiB, 535.104.05"]
    report = _run(project)
    slurm = report.check("slurm")
    assert slurm.status == "skip" and "local backend will be used" in slurm.detail
    assert report.backend == "local" and not report.blocking
    generic = ["git", "python", "disk", "registry", "allocation"]
    assert list(_statuses(report)) == [*generic, "slurm", "submitit", "gpus"]
    assert report.check("submitit").status == "ok"  # srun is not needed locally
    assert "A100" in report.check("gpus").detail


def test_missing_sbatch_blocks_backend_slurm(project: Path, cluster: Cluster) -> None:
    cluster.commands = set()
    report = _run(project, "slurm")
    assert report.check("slurm").status == "fail" and "--backend local" in report.check("slurm").fix
    assert report.check("submitit").status == "fail" and "srun" in report.check("submitit").detail
    assert report.blocking


def test_backend_local_skips_slurm_even_when_present(project: Path, cluster: Cluster) -> None:
    cluster.nodes = AssertionError("no SLURM query with --backend local")
    report = _run(project, "local")
    assert report.check("slurm").status == "skip" and report.backend == "local"


def test_unknown_backend_is_a_usage_error(project: Path, cluster: Cluster) -> None:
    with pytest.raises(UsageError, match="unknown backend"):
        _run(project, "kubernetes")


def test_controller_down_is_a_failed_row_not_an_exception(project: Path, cluster: Cluster) -> None:
    cluster.nodes = SchedulerUnavailable("'sinfo -h -N' failed: Unable to contact slurm controller", hint="H")
    cluster.partitions = AssertionError("not asked once sinfo failed")
    report = _run(project)
    slurm = report.check("slurm")
    assert (
        slurm.status == "fail" and "Unable to contact slurm controller" in slurm.detail and slurm.fix == "H"
    )
    assert report.check("partitions").status == "skip" and report.blocking


def test_a_query_failing_later_fails_only_its_row(project: Path, cluster: Cluster) -> None:
    cluster.partitions = SchedulerUnavailable("'scontrol show partition' did not answer within 30 s")
    cluster.config = SchedulerUnavailable("'scontrol show config' failed: timeout")
    statuses = _statuses(_run(project))
    assert statuses["partitions"] == "fail" and statuses["array size"] == "fail"
    assert statuses["slurm"] == statuses["nodes"] == "ok"


def test_accounting_off_or_down_is_a_warning(project: Path, cluster: Cluster) -> None:
    cluster.accounting = False
    check = _run(project).check("accounting")
    assert check.status == "warn" and "status falls back to squeue; summaries lose exit codes" in check.detail
    assert "slurmdbd" in check.fix
    cluster.accounting = SchedulerUnavailable("sacct failed: Connection refused", hint="slurmdbd may be down")
    report = _run(project)
    assert (
        report.check("accounting").status == "warn"
        and "Connection refused" in report.check("accounting").detail
    )
    assert not report.blocking


@pytest.mark.parametrize("state", ["DOWN", "INACTIVE", "DRAIN"])
def test_default_partition_not_up_fails(project: Path, cluster: Cluster, state: str) -> None:
    cluster.partitions = f"{PARTITION_UP.replace('State=UP', f'State={state}')}\n{PARTITION_GPU}\n"
    report = _run(project)
    check = report.check("partitions")
    assert check.status == "fail" and report.blocking
    assert f"default partition debug is {state}" in check.detail
    assert "scontrol update partitionname=debug state=up" in check.fix and "(gpu)" in check.fix


def test_other_partition_down_or_no_default_warns(project: Path, cluster: Cluster) -> None:
    cluster.partitions = f"{PARTITION_UP}\n{PARTITION_GPU.replace('State=UP', 'State=DOWN')}\n"
    check = _run(project).check("partitions")
    assert check.status == "warn" and "not UP: gpu" in check.detail
    cluster.partitions = f"{PARTITION_GPU}\n"
    check = _run(project).check("partitions")
    assert check.status == "warn" and "no default partition" in check.detail
    cluster.partitions = ""
    assert _run(project).check("partitions").status == "fail"


def test_all_nodes_down_or_drained_fails_with_resume_fix(project: Path, cluster: Cluster) -> None:
    cluster.nodes = "n1|down*|4|8000|(null)\nn2|drained|4|8000|(null)\n"
    report = _run(project)
    nodes = report.check("nodes")
    assert nodes.status == "fail" and report.blocking
    assert "n1 (down*)" in nodes.detail and "n2 (drained)" in nodes.detail
    assert "scontrol update nodename=n1,n2 state=resume" in nodes.fix


def test_some_nodes_down_warns(project: Path, cluster: Cluster) -> None:
    cluster.nodes = "n1|idle|4|8000|(null)\nn2|draining|4|8000|(null)\n"
    nodes = _run(project).check("nodes")
    assert nodes.status == "warn" and "nodename=n2 " in nodes.fix
    assert nodes.data["counts"] == {"idle": 1, "draining": 1}


def test_missing_array_size_uses_slurms_default(project: Path, cluster: Cluster) -> None:
    cluster.config = {"ClusterName": "x"}
    check = _run(project).check("array size")
    assert check.data["max_array_size"] == 1001 and "SLURM's default" in check.detail


def test_missing_srun_fails_with_slurm(project: Path, cluster: Cluster) -> None:
    cluster.commands.discard("srun")
    check = _run(project).check("submitit")
    assert check.status == "fail" and "srun" in check.detail


@pytest.mark.parametrize(
    ("free_gib", "status"), [(0.5, "fail"), (1.5, "warn"), (9.9, "warn"), (10, "ok"), (500, "ok")]
)
def test_disk_thresholds(project: Path, cluster: Cluster, free_gib: float, status: str) -> None:
    cluster.free = int(free_gib * GIB)
    report = _run(project)
    check = report.check("disk")
    assert check.status == status and report.blocking == (status == "fail")
    if status != "ok":
        assert "--runs-dir" in check.fix


def test_disk_of_a_registry_that_does_not_exist_yet(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def usage(path: Path) -> Usage:
        seen.append(path)
        return Usage(GIB, 0, 50 * GIB)

    monkeypatch.setattr(doctor, "_disk_usage", usage)
    check = doctor.check_disk(tmp_path / "not" / "yet" / "runs")
    assert check.status == "ok" and seen == [tmp_path] and check.data["path"] == str(tmp_path)
    assert not (tmp_path / "not").exists()


def test_disk_not_writable(tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere: pretend
    check = doctor.check_disk(tmp_path / "runs")
    assert check.status == "fail" and "not writable" in check.detail and "--runs-dir" in check.fix


def test_git_dirty_untracked_and_not_a_repo(project: Path, tmp_path: Path, cluster: Cluster) -> None:
    (project / "examples" / "quickstart" / "train.py").write_text("# changed\n")
    check = doctor.check_git(project)
    assert check.status == "warn" and "examples/quickstart/train.py" in check.detail
    assert "--allow-dirty" in check.fix
    git(project, "commit", "-qam", "change")
    (project / "notes.txt").write_text("x\n")
    check = doctor.check_git(project)
    assert check.status == "warn" and "notes.txt" in check.detail and "untracked" in check.detail
    (project / "notes.txt").unlink()
    assert doctor.check_git(project).status == "ok"
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    check = doctor.check_git(elsewhere)
    assert (
        check.status == "fail" and "not inside a git repository" in check.detail and "git init" in check.fix
    )


def test_python_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.setenv("VIRTUAL_ENV", "/shared/venvs/exp")
    check = doctor.check_python()
    assert check.status == "ok" and "/shared/venvs/exp" in check.detail and "shared" in check.detail
    monkeypatch.delenv("VIRTUAL_ENV")
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    check = doctor.check_python()
    assert check.status == "warn" and "python -m venv" in check.fix and sys.executable in check.detail


# --- the command, through the real CLI app (in-process, so the fakes above apply) ------------------


def _app() -> typer.Typer:
    return cli_app


def test_cli_table_json_and_exit_codes(
    project: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.delenv("CLUSTERRUN_RUNS_DIR", raising=False)
    runner = CliRunner()
    result = runner.invoke(_app(), ["doctor"])
    assert result.exit_code == 0, result.output
    assert result.output.split()[:4] == ["CHECK", "STATUS", "DETAIL", "FIX"]
    assert "ready: nothing blocks submission (backend: slurm)" in result.output
    cluster.nodes = "n1|down*|4|8000|(null)\n"
    result = runner.invoke(_app(), ["doctor", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["blocking"] is True and data["backend"] == "slurm"
    nodes = next(c for c in data["checks"] if c["name"] == "nodes")
    assert nodes["status"] == "fail" and "state=resume" in nodes["fix"]
    result = runner.invoke(_app(), ["doctor"])
    assert result.exit_code == 1 and "blocked: fix nodes before submitting" in result.output


def test_cli_with_a_broken_sinfo_on_path(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real _proc path: sbatch exists but sinfo cannot reach the controller -> a fail row, exit 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "sbatch": "exit 0",
        "srun": "exit 0",
        "sinfo": "echo 'sinfo: error: Unable to contact slurm controller (connect failure)' >&2; exit 1",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(_app(), ["--runs-dir", str(tmp_path / "runs"), "doctor", "--json"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    data = json.loads(result.output)
    slurm = next(c for c in data["checks"] if c["name"] == "slurm")
    assert slurm["status"] == "fail" and "Unable to contact slurm controller" in slurm["detail"]
    assert "scontrol ping" in slurm["fix"]
