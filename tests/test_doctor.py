"""`clusterrun doctor` against the real local SLURM cluster (scripts/local-slurm.sh up).

The command runs as a real subprocess, as a user would run it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clusterrun.scheduler import info
from tests.helpers import cli, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]


def _invoke(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    result = cli(args, cwd)
    no_traceback(result)
    return result.returncode, result.stdout


def _checks(output: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(output)["checks"]}


def _scontrol(*args: str) -> str:
    return subprocess.run(["scontrol", *args], capture_output=True, text=True, check=True, timeout=30).stdout


def test_clean_project_on_a_running_cluster(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _invoke(["doctor", "--json"], project, monkeypatch)
    assert code == 0, output
    checks = _checks(output)
    assert {c["status"] for c in checks.values()} <= {"ok", "warn"}, output
    assert checks["git"]["status"] == "ok"
    for name in ("slurm", "accounting", "partitions", "nodes", "array size", "submitit", "disk"):
        assert checks[name]["status"] == "ok", checks[name]
    max_time = re.search(r"MaxTime=(\S+)", _scontrol("show", "partition", "debug", "-o"))
    assert max_time is not None
    assert f"debug* UP MaxTime={max_time.group(1)}" in checks["partitions"]["detail"]
    size = re.search(r"^MaxArraySize\s*=\s*(\d+)", _scontrol("show", "config"), re.M)
    assert size is not None
    assert checks["array size"]["data"]["max_array_size"] == int(size.group(1))
    assert f"MaxArraySize={size.group(1)}" in checks["array size"]["detail"]

    code, table = _invoke(["doctor"], project, monkeypatch)
    assert code == 0 and "ready: nothing blocks submission (backend: slurm)" in table
    assert re.search(r"^partitions\s+OK\s+debug\* UP MaxTime=", table, re.M), table


def test_dirty_tree_is_a_warning_naming_the_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "configs" / "quickstart.yaml").write_text("name: changed\ncommand: echo hi\n")
    code, output = _invoke(["doctor", "--json"], project, monkeypatch)
    assert code == 0, output
    git = _checks(output)["git"]
    assert git["status"] == "warn" and "configs/quickstart.yaml" in git["detail"]
    assert "--allow-dirty" in git["fix"]


def test_not_a_git_repository_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, output = _invoke(["doctor"], plain, monkeypatch)
    assert code == 1, output
    assert re.search(r"^git\s+FAIL\s+", output, re.M), output
    assert "blocked: fix git before submitting" in output
    code, output = _invoke(["doctor", "--json"], plain, monkeypatch)
    git = _checks(output)["git"]
    assert code == 1 and git["status"] == "fail" and "not inside a git repository" in git["detail"]
    assert "git init" in git["fix"]


def test_registry_that_does_not_exist_yet(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tmp_path / "new" / "deeper" / "runs"
    code, output = _invoke(["--runs-dir", str(registry), "doctor", "--json"], project, monkeypatch)
    assert code == 0, output
    disk = _checks(output)["disk"]
    assert disk["status"] in ("ok", "warn") and disk["data"]["path"] == str(tmp_path)
    assert disk["data"]["free_bytes"] > 0 and not (tmp_path / "new").exists()


def test_query_functions_read_the_real_cluster() -> None:
    config = info.cluster_config()
    assert config["ClusterName"] and info.max_array_size(config) > 1
    debug = next(p for p in info.partitions() if p.name == "debug")
    assert debug.default and debug.state == "UP" and debug.total_cpus and debug.total_cpus > 0
    nodes = info.nodes()
    assert nodes and all(n.cpus and n.memory_mb for n in nodes)
    assert any(n.usable for n in nodes)
    assert info.accounting_available() is True
