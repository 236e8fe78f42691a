"""Issue 9, "How it is checked": `clusterrun submit` killed with SIGKILL at random points, 50 times.

A single run and a small sweep in turn, with an sbatch slowed down by a PATH shim (a random 0-0.9 s
before and after the real one), each killed at a random moment. Afterwards: every run directory is
complete or marked (a readable manifest with a state; a sweep's sweep.json), every job SLURM accepted
under one of these runs' names is owned by exactly one run after one `status`, and `status` never
crashes. On the main cluster: nothing is frozen or reconfigured; the jobs run `true`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import sbatch_shim
from tests.helpers import REPO, cli, git, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]
ITERATIONS = 50
SLOW = "sleep 0.$((RANDOM % 10))"


def _accepted(names: set[str], since: str) -> set[str]:
    """Every job (array tasks one by one) SLURM holds or accounted under one of these names."""
    jobs: set[str] = set()
    queue = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%j"], capture_output=True, text=True, timeout=60)
    acct = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-S", since, "-o", "JobID,JobName"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for line in (queue.stdout + acct.stdout).splitlines():
        job_id, _, name = line.strip().partition("|")
        if name in names and "[" not in job_id:  # a pending array as one line: its tasks come from squeue
            jobs.add(job_id)
    return jobs


def test_kill_9_at_random_points_of_submit_loses_no_job(project: Path, tmp_path: Path) -> None:
    (project / "configs" / "k9one.yaml").write_text(
        'name: k9one\ncommand: "true"\nresources: {time: "00:02:00", mem: 100M}\n'
    )
    (project / "configs" / "k9sweep.yaml").write_text(
        'name: k9sweep\ncommand: "echo {tag}"\nparams: {tag: 0}\nsweep: {grid: {params.tag: [0, 1]}}\n'
        'resources: {time: "00:02:00", mem: 100M}\n'
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "kill -9 loop")
    shims = sbatch_shim.install(tmp_path / "shim")
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "SHIM_BEFORE": SLOW,
        "SHIM_AFTER": SLOW,
    }
    env.pop("CLUSTERRUN_RUNS_DIR", None)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 60))
    rng = random.Random(9)
    started = time.monotonic()
    for i in range(ITERATIONS):
        config = "configs/k9sweep.yaml" if i % 3 == 2 else "configs/k9one.yaml"
        args = ["submit", config, "--backend", "slurm", "--skip-smoke", "kill -9 loop", "--no-watch"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "clusterrun", *args],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            proc.wait(timeout=rng.uniform(0.3, 3.5))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.stderr and proc.stderr.close()
        assert "Traceback" not in stderr, stderr
        if i % 10 == 9:  # status beside the interrupted submissions never crashes
            mid = cli(["status", "--json"], project, timeout=120)
            assert mid.returncode == 0, mid.stderr
            no_traceback(mid)
    time.sleep(1.5)  # the shims of killed submissions finish their sbatch

    status = cli(["status", "--json"], project, timeout=180)
    assert status.returncode == 0, status.stderr
    no_traceback(status)

    owners: dict[str, list[str]] = {}
    names: set[str] = set()
    unmarked: list[str] = []
    for directory in sorted((project / "runs").iterdir()):
        if directory.name.startswith("."):
            continue
        record = directory / ("sweep.json" if "-sweep_" in directory.name else "manifest.json")
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            unmarked.append(directory.name)
            continue
        assert data.get("state"), (directory.name, data)
        names.add(directory.name)
        if data.get("job_id"):
            owners.setdefault(data["job_id"], []).append(directory.name)
    assert not unmarked, f"run directories neither complete nor marked: {unmarked}"
    accepted = _accepted(names, since)
    assert accepted, "no submission got as far as sbatch: the loop tests nothing"
    assert {job: runs for job, runs in owners.items() if len(runs) != 1} == {}
    assert sorted(accepted - set(owners)) == [], "jobs SLURM accepted that no run owns"
    subprocess.run(["scancel", "-n", ",".join(sorted(names))], capture_output=True, timeout=60, check=False)
    assert time.monotonic() - started < 240
