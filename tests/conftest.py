from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def _slurm_ready() -> str:
    if shutil.which("sinfo") is None or shutil.which("sacct") is None:
        return "SLURM commands are not installed"
    try:
        sinfo = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
        sacct = subprocess.run(
            ["sacct", "-n", "-X", "-S", "now-1hour"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "the SLURM controller does not answer"
    if sinfo.returncode != 0 or not sinfo.stdout.strip():
        return f"sinfo failed: {sinfo.stderr.strip()}"
    if sacct.returncode != 0:
        return f"sacct failed: {sacct.stderr.strip()}"
    return ""


@pytest.fixture(scope="session")
def slurm() -> None:
    """The real local cluster (scripts/local-slurm.sh up). In CI its absence fails, never skips."""
    problem = _slurm_ready()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the SLURM cluster is not usable: {problem}; .ci/run must start it")
        pytest.skip(f"no local SLURM cluster ({problem}); start one with: bash scripts/local-slurm.sh up")
