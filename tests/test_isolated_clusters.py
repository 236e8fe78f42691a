"""The isolated clusters themselves (scripts/isolated-slurm.sh, tests/clusters.py): they run real jobs,
fault injection works, they come up and go down quickly, and the main cluster never notices."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.clusters import _ISO_ROOT, SCRIPT, ClusterError, isolated_cluster

pytestmark = [pytest.mark.isolated]
MAIN_RUN_DIR = Path(os.environ.get("CLUSTERRUN_SLURM_DIR", "/var/lib/clusterrun-slurm")) / "run"


def _main_daemons() -> dict[str, str]:
    """The main cluster's daemon pids (empty when it is not running here)."""
    out = {}
    for daemon in ("slurmctld", "slurmd", "slurmdbd"):
        pidfile = MAIN_RUN_DIR / f"{daemon}.pid"
        if pidfile.exists():
            out[daemon] = pidfile.read_text().strip()
    return out


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.3)


def test_jobs_run_on_an_isolated_cluster_with_its_own_accounting_and_the_main_one_is_untouched() -> None:
    main_before = _main_daemons()
    started = time.monotonic()
    with isolated_cluster("infra", nodes=2) as c:
        up_seconds = time.monotonic() - started
        assert c.conf_path.is_file() and c.env == {"SLURM_CONF": str(c.conf_path)}
        config = c.run("scontrol", "show", "config").stdout
        assert f"ClusterName             = {c.name}" in config
        assert f"SLURM_CONF              = {c.conf_path}" in config
        assert (c.dir / "slurmdbd.conf").stat().st_mode & 0o777 == 0o600
        nodes = c.run("sinfo", "-h", "-N", "-o", "%N %t").stdout.split("\n")
        assert sorted(line.split()[0] for line in nodes if line) == c.nodes == [f"{c.name}n1", f"{c.name}n2"]
        job = c.sbatch("--nodes=2", "--ntasks-per-node=1", "--wrap", "srun hostname; exit 3")
        expected = f"{c.name}|FAILED|3:0|{c.name}n[1-2]"

        def row() -> str:
            return c.run("sacct", "-n", "-P", "-X", "-j", job, "-o", "Cluster,State,ExitCode,NodeList").stdout

        _wait_for(lambda: row().strip() == expected, 60, f"sacct says {expected}")
        # the main cluster's accounting does not know this cluster's jobs
        if main_before:
            clusters = subprocess.run(
                ["sacct", "-n", "-P", "-X", "-j", job, "-o", "Cluster", "-S", "now-10minutes"],
                capture_output=True,
                text=True,
                env={k: v for k, v in os.environ.items() if k != "SLURM_CONF"},
                check=False,
            ).stdout.split()
            assert c.name not in clusters
        directory = c.dir
        running = c.sbatch("--wrap", "sleep 300")
        _wait_for(lambda: c.job_state(running) == "RUNNING", 30, "job running")
        started = time.monotonic()
    down_seconds = time.monotonic() - started
    print(f"isolated cluster with accounting and 2 nodes: up {up_seconds:.1f} s, down {down_seconds:.1f} s")
    assert up_seconds < 30 and down_seconds < 10
    assert not directory.exists()
    # its job's processes went with it, the main cluster's daemons did not
    stray = subprocess.run(["pgrep", "-f", "^sleep 300$"], capture_output=True, text=True, check=False)
    assert not [pid for pid in stray.stdout.split() if _has_conf(pid, directory)]
    assert _main_daemons() == main_before


def _has_conf(pid: str, directory: Path) -> bool:
    try:
        return str(directory) in Path(f"/proc/{pid}/environ").read_text(errors="replace")
    except OSError:
        return False


def test_controller_stop_freeze_and_restart_keep_the_jobs() -> None:
    with isolated_cluster("faults", accounting="none", conf=["MinJobAge=2"]) as c:
        assert "accounting storage is disabled" in c.run("sacct", check=False).stderr.lower()
        job = c.sbatch("--wrap", "sleep 4")
        c.freeze_controller()
        with pytest.raises(subprocess.TimeoutExpired):  # a frozen controller does not answer
            c.run("squeue", "-h", "-j", job, check=False, timeout=3)
        c.thaw_controller()
        assert c.job_state(job) in ("PENDING", "RUNNING")
        c.stop_controller()
        assert c.run("squeue", "-h", check=False).returncode != 0
        c.start_controller()
        assert c.job_state(job) in ("PENDING", "RUNNING", "COMPLETING")  # kept in StateSaveLocation
        c.wait_job_gone(job, timeout=60)  # purged quickly: MinJobAge=2


def test_nodes_go_down_and_come_back() -> None:
    with isolated_cluster("nodes", nodes=2, accounting="none") as c:
        second = c.nodes[1]
        c.node_down(second)
        assert c.run("sinfo", "-h", "-n", second, "-o", "%t").stdout.strip() == "down"
        c.node_resume(second)
        c.stop_node(second)
        c.start()
        assert c.run("sinfo", "-h", "-n", second, "-o", "%t").stdout.strip() == "idle"
        with pytest.raises(ClusterError, match="no slurmdbd"):
            c.stop_dbd()


def test_job_ids_wrap_with_a_small_max_job_id_and_preemption_partitions() -> None:
    conf = ["FirstJobId=1", "MaxJobId=5", "MinJobAge=2"]
    with isolated_cluster("wrap", accounting="none", conf=conf, preemption=True) as c:
        ids = []
        for _ in range(5):
            ids.append(c.sbatch("--wrap", "true"))
            c.wait_job_gone(ids[-1])
        assert ids == ["1", "2", "3", "4", "1"]  # MaxJobId itself is never used
        partitions = c.run("scontrol", "show", "partition", "-o").stdout
        assert "PartitionName=low" in partitions and "PreemptMode=REQUEUE" in partitions
        assert "PartitionName=high" in partitions


def test_bad_requests_are_refused_with_one_line() -> None:
    for args, message in (
        (["up", "Bad"], "bad cluster name"),
        (["up", "x", "--nodes", "0"], "--nodes must be"),
        (["env", "nosuchcluster"], "no isolated cluster"),
        (["up", "x", "--accounting", "maybe"], "--accounting must be"),
        # its job steps' socket paths would pass 108 bytes: every job would be requeued, again and again
        (["up", "toolongname" * 2], "too long for"),
    ):
        result = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (_ISO_ROOT / ("toolongname" * 2)).exists()  # refused before anything was made
