"""Isolated real SLURM clusters for the tests that stop, freeze, purge, wrap or reconfigure a cluster.

The main test cluster (scripts/local-slurm.sh) is shared by every test and every engineer: nothing may
stop or reconfigure it. A test that needs a fault starts its own cluster beside it::

    from tests.clusters import isolated_cluster

    pytestmark = [pytest.mark.isolated]

    def test_something(project):
        with isolated_cluster("outage", accounting="dbd", conf=["MinJobAge=2"]) as c:
            cli(["submit", ...], project, env=c.env)  # clusterrun talks to c through SLURM_CONF
            c.stop_controller()
            ...

The cluster has its own ClusterName, slurm.conf, ports, state, spool, logs, slurmctld and slurmd(s)
and (accounting="dbd") its own slurmdbd and database; see scripts/isolated-slurm.sh. It is removed when
the block ends, whatever happens (CLUSTERRUN_KEEP_ISOLATED=1 keeps its files to read the logs); a
cluster whose pytest was killed is removed by the next one (`isolated-slurm.sh gc`).
Coming up takes about 2-3 s, going down well under 1 s (measured in tests/test_isolated_clusters.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "isolated-slurm.sh"
KEEP_ENV = "CLUSTERRUN_KEEP_ISOLATED"
_ISO_ROOT = Path(os.environ.get("CLUSTERRUN_SLURM_DIR", "/var/lib/clusterrun-slurm")) / "isolated"
#: up to 9 characters: with its 6-character suffix, the name appears three times in a job step's socket
#: path (scripts/isolated-slurm.sh check_socket_paths), which must fit 108 bytes
_NAME = re.compile(r"^[a-z][a-z0-9]{0,8}$")


class ClusterError(AssertionError):
    """The isolated cluster could not be started or driven (the message holds the script's output)."""


def _script(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _checked(*args: str, timeout: float = 180) -> str:
    result = _script(*args, timeout=timeout)
    if result.returncode != 0:
        raise ClusterError(f"isolated-slurm.sh {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def unavailable() -> str:
    """Why isolated clusters cannot run here ('' when they can)."""
    if os.geteuid() != 0:
        return "isolated SLURM clusters need root (they start their own slurmctld/slurmd)"
    for command in ("slurmctld", "slurmd", "slurmdbd", "munge", "sbatch", "sacct"):
        if shutil.which(command) is None and not Path("/usr/sbin", command).exists():
            return f"'{command}' is not installed (bash scripts/local-slurm.sh up installs SLURM)"
    return ""


def require() -> None:
    """Skip the test when isolated clusters cannot run here; in CI, fail instead."""
    problem = unavailable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but isolated clusters cannot run: {problem}")
        pytest.skip(problem)


@dataclass
class IsolatedCluster:
    """A running isolated cluster; every SLURM command for it needs `env` (SLURM_CONF=<its conf>)."""

    name: str
    info: dict[str, Any] = field(repr=False)

    # --- where it is ------------------------------------------------------------------------------

    @property
    def conf_path(self) -> Path:
        return Path(self.info["slurm_conf"])

    @property
    def env(self) -> dict[str, str]:
        """Extra environment for any command that must talk to this cluster (clusterrun included)."""
        return {"SLURM_CONF": str(self.conf_path)}

    @property
    def nodes(self) -> list[str]:
        return list(self.info["nodes"])

    @property
    def dir(self) -> Path:
        return Path(self.info["dir"])

    def log(self, daemon: str = "slurmctld") -> str:
        """The text of a daemon's log: slurmctld, slurmdbd or slurmd-<node>."""
        path = Path(self.info["log_dir"]) / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- its SLURM commands ---------------------------------------------------------------------

    def run(self, *argv: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A SLURM command (sbatch, sacct, scontrol, ...) against this cluster, run in the cluster's own
        directory (so `sbatch` jobs' default slurm-<id>.out land there and go with it)."""
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} on cluster {self.name}: {result.stderr.strip()}")
        return result

    def sbatch(self, *args: str) -> str:
        """Submit with sbatch (e.g. sbatch("--wrap", "true")); the job id."""
        out = self.run("sbatch", "--parsable", *args).stdout.strip()
        return out.split(";")[0]

    def job_state(self, job_id: str) -> str:
        """The job's state as slurmctld has it ('' once it has left slurmctld's memory)."""
        result = self.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def wait_job_gone(self, job_id: str, timeout: float = 60) -> None:
        """Until slurmctld no longer lists the job (ended, and purged after MinJobAge)."""
        deadline = time.monotonic() + timeout
        while self.job_state(job_id):
            if time.monotonic() > deadline:
                raise ClusterError(f"job {job_id} still known to slurmctld after {timeout:.0f} s")
            time.sleep(0.3)

    # --- faults ---------------------------------------------------------------------------------

    def _daemon(self, action: str, daemon: str) -> None:
        _checked(action, self.name, daemon, timeout=60)

    def stop_controller(self) -> None:
        self._daemon("stop", "slurmctld")

    def start_controller(self) -> None:
        self._daemon("start", "slurmctld")

    def freeze_controller(self) -> None:
        """SIGSTOP slurmctld: commands hang until they time out (sbatch, squeue, scontrol)."""
        self._daemon("freeze", "slurmctld")

    def thaw_controller(self) -> None:
        self._daemon("thaw", "slurmctld")

    def stop_dbd(self) -> None:
        """Accounting down: sacct fails, slurmctld queues its records until slurmdbd is back."""
        self._require_dbd()
        self._daemon("stop", "slurmdbd")

    def start_dbd(self) -> None:
        self._require_dbd()
        self._daemon("start", "slurmdbd")

    def freeze_dbd(self) -> None:
        self._require_dbd()
        self._daemon("freeze", "slurmdbd")

    def thaw_dbd(self) -> None:
        self._require_dbd()
        self._daemon("thaw", "slurmdbd")

    def stop_node(self, node: str) -> None:
        """Stop one node's slurmd (its running job steps go on, unreported)."""
        self._daemon("stop", f"slurmd:{node}")

    def start_node(self, node: str) -> None:
        self._daemon("start", f"slurmd:{node}")

    def start(self) -> None:
        """Start every daemon that is not running (thaw the frozen ones); wait until nodes are idle."""
        _checked("start", self.name, timeout=120)

    def node_down(self, node: str, reason: str = "clusterrun test") -> None:
        """`scontrol update state=down`: SLURM kills the node's jobs (NODE_FAIL, or requeued)."""
        self.run("scontrol", "update", f"nodename={node}", "state=down", f"reason={reason}")

    def node_resume(self, node: str) -> None:
        self.run("scontrol", "update", f"nodename={node}", "state=resume")

    def _require_dbd(self) -> None:
        if self.info["accounting"] != "dbd":
            raise ClusterError(f"cluster {self.name} has no slurmdbd (accounting='none')")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


@contextlib.contextmanager
def isolated_cluster(
    name: str,
    nodes: int = 1,
    accounting: Literal["dbd", "none"] = "dbd",
    conf: Sequence[str] = (),
    preemption: bool = False,
    cpus: int | None = None,
    mem_mb: int | None = None,
) -> Iterator[IsolatedCluster]:
    """Start an isolated cluster for the block and remove it afterwards, whatever happens.

    `name` (lower-case letters and digits, up to 9) gets a random suffix: parallel test sessions never
    share a cluster. `conf` lines replace slurm.conf's defaults of the same key (e.g. "MinJobAge=2",
    "FirstJobId=1", "MaxJobId=30"); `preemption` gives partitions `low` (default, requeued on preemption,
    GraceTime=20) and `high`.
    """
    require()
    if not _NAME.match(name):
        raise ValueError(f"cluster name {name!r}: 1-9 lower-case letters and digits, starting with a letter")
    unique = f"{name}{secrets.token_hex(3)}"
    args = ["up", unique, "--nodes", str(nodes), "--accounting", accounting, "--owner", str(os.getpid())]
    for line in conf:
        args += ["--conf", line]
    if preemption:
        args.append("--preemption")
    if cpus is not None:
        args += ["--cpus", str(cpus)]
    if mem_mb is not None:
        args += ["--mem", str(mem_mb)]
    _script("gc", timeout=60)  # clusters left by killed test sessions
    started = _script(*args)
    if started.returncode != 0:
        _script("down", unique, timeout=60)
        raise ClusterError(f"could not start isolated cluster {unique}:\n{started.stdout}{started.stderr}")
    failed = True
    try:
        conf_path = Path(_checked("env", unique).strip().removeprefix("SLURM_CONF="))
        cluster = IsolatedCluster(unique, json.loads((conf_path.parent / "cluster.json").read_text()))
        yield cluster
        failed = False
    finally:
        if failed:  # shown by pytest with the failure
            for daemon in ("slurmctld", "slurmdbd"):
                log = Path(_ISO_ROOT, unique, "log", f"{daemon}.log")
                text = log.read_text(errors="replace") if log.exists() else ""
                if text:
                    print(f"--- last lines of {unique}'s {daemon}.log:\n{_tail(text)}", file=sys.stderr)
        keep = os.environ.get(KEEP_ENV) == "1"
        stopped = _script("down", unique, *(["--keep"] if keep else []), timeout=120)
        if stopped.returncode != 0:
            print(f"isolated-slurm.sh down {unique} failed:\n{stopped.stderr}", file=sys.stderr)
