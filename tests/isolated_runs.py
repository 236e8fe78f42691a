"""Runs on isolated clusters (tests/clusters.py): configs committed to the test project, submission,
waiting on the cluster's own tools (never on clusterrun, whose refreshes would change what is tested)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.clusters import IsolatedCluster
from tests.helpers import cli, git

RESOURCES = 'resources: {time: "00:10:00", mem: 200M, cpus_per_task: 1}\n'


def add_config(project: Path, name: str, command: str, extra: str = "") -> str:
    """configs/<name>.yaml running `command` (small resources), committed; its path for `submit`."""
    path = project / "configs" / f"{name}.yaml"
    path.write_text(f"name: {name}\ncommand: {json.dumps(command)}\n{RESOURCES}{extra}")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"config {name}")
    return f"configs/{name}.yaml"


def add_file(project: Path, rel: str, text: str) -> None:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"add {rel}")


def submit(project: Path, config: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """Submit to the cluster (smoke test skipped, no early watch); the new run's manifest."""
    before = set(_runs(project))
    result = cli(
        [
            "submit",
            config,
            "--backend",
            "slurm",
            "--skip-smoke",
            "tested on an isolated cluster",
            "--no-watch",
            *extra,
        ],
        project,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (new,) = set(_runs(project)) - before
    return manifest_of(new)


def _runs(project: Path) -> list[Path]:
    root = project / "runs"
    return [p for p in root.iterdir() if (p / "manifest.json").is_file()] if root.is_dir() else []


def manifest_of(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "manifest.json").read_text())
    return data


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(interval)


def sacct_states(c: IsolatedCluster, job_id: str) -> list[str]:
    """Every accounting record of the id (oldest first): 'STATE|ExitCode|Submit'."""
    out = c.run("sacct", "-D", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode,Submit", check=False)
    return [line for line in out.stdout.splitlines() if line.strip()]


def wrap_ids_to(c: IsolatedCluster, job_id: str, last: tuple[str, ...], limit: int = 80) -> str:
    """Submit short `sbatch --wrap true` jobs until the ids come round to just before `job_id` (SLURM
    hands out FirstJobId..MaxJobId-1, then starts again); then the `last` sbatch arguments get job_id."""
    config = c.run("scontrol", "show", "config").stdout
    first, top = int(_value(config, "FirstJobId")), int(_value(config, "MaxJobId"))
    before = str(int(job_id) - 1 if int(job_id) > first else top - 1)
    for _ in range(limit):
        if c.sbatch("--wrap", "true", "-o", "/dev/null") == before:
            got = c.sbatch(*last)
            assert got == job_id, f"the job after {before} got id {got}, not {job_id}"
            return got
    raise AssertionError(f"job id {job_id} did not come round in {limit} submissions")


def _value(config: str, key: str) -> str:
    for line in config.splitlines():
        if line.split("=")[0].strip() == key:
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{key} not in scontrol show config")


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)
