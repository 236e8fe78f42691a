"""Parsers for scontrol/sinfo output (captured on the local SLURM 22.05 cluster, plus odd lines)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler import _proc, info

# `scontrol show config` on scripts/local-slurm.sh's cluster, trimmed; plus a plugin section at the end
EMPTY = " "  # scontrol prints `Key = ` with a trailing space for an empty value
SCONTROL_CONFIG = f"""\
Configuration data as of 2026-11-29T16:36:37
AccountingStorageBackupHost = (null)
AccountingStorageType   = accounting_storage/slurmdbd
AccountingStorageExternalHost = (null)
ClusterName             = local
DefMemPerCPU            = 11322
InteractiveStepOptions  = --interactive --preserve-env --pty $SHELL
MaxArraySize            = 10001
MaxMemPerNode           = UNLIMITED
PowerPlugin             = {EMPTY}
SchedulerParameters     = sched_interval=5,bf_interval=5,batch_sched_delay=1
SlurmctldHost[0]        = vm(127.0.0.1)
SLURM_VERSION           = 22.05.8
SuspendTime             = INFINITE

Cgroup Support Configuration:
ClusterName             = other

Slurmctld(primary) at vm is UP
"""

# `scontrol show partition -o`: the real line (one line, cut here for length), then made-up ones
REAL_PARTITION = (
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL "
    "Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 "
    "Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED "
    "Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO "
    "OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 TotalNodes=1 "
    "SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=22644M,node=1,billing=2"
)
GPU_PARTITION = (
    "PartitionName=gpu AllowGroups=ALL Default=NO MaxNodes=4 MaxTime=1-00:00:00 "
    "Nodes=gpu[01-04] State=DOWN TotalCPUs=256 TotalNodes=4 DefMemPerCPU=4000 "
    "TRES=cpu=256,mem=1000G,node=4,gres/gpu=16"
)
PARTITIONS = f"""\
{REAL_PARTITION}
{GPU_PARTITION}

PartitionName=long Default=NO MaxTime=INFINITE Nodes=(null) State=INACTIVE TotalCPUs=0 TotalNodes=0
PartitionName=short MaxTime=02:00:00 Nodes=cpu[001-100] State=DRAIN TotalNodes=100 Alternate=a b
No partitions in the system
Default=YES State=UP
"""

# `sinfo -h -N -o '%N|%T|%c|%m|%G'`: the real line first; a node in two partitions appears twice
SINFO_NODES = """\
vm|idle|2|22644|(null)
gpu01|mixed|64|515000|gpu:a100:4(S:0-1)
gpu01|mixed|64|515000|gpu:a100:4(S:0-1)
gpu02|down*|64|515000|gpu:a100:4(S:0-1),shard:8
gpu03|drained|64|515000|gpu:2,gpu:v100:1
cpu001|allocated|128|257000|(null)
cpu002|idle~|128|257000|(null)
cpu003|mixed+drain|128+|257000+|N/A
odd line without separators

|||
"""


def test_config_lines_become_a_dict() -> None:
    config = info.parse_scontrol_config(SCONTROL_CONFIG)
    assert config["MaxArraySize"] == "10001"
    assert config["SLURM_VERSION"] == "22.05.8"
    assert config["SlurmctldHost[0]"] == "vm(127.0.0.1)"
    assert config["PowerPlugin"] == ""
    assert config["SchedulerParameters"] == "sched_interval=5,bf_interval=5,batch_sched_delay=1"
    assert config["InteractiveStepOptions"] == "--interactive --preserve-env --pty $SHELL"
    assert config["ClusterName"] == "local"  # the first occurrence wins over a plugin section's
    assert not any(k.startswith(("Configuration", "Slurmctld(primary)", "Cgroup")) for k in config)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"MaxArraySize": "10001"}, 10001),
        ({}, info.DEFAULT_MAX_ARRAY_SIZE),
        ({"MaxArraySize": "(null)"}, 1001),
        ({"MaxArraySize": "0"}, 1001),
    ],
)
def test_max_array_size(config: dict[str, str], expected: int) -> None:
    assert info.max_array_size(config) == expected


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"MaxJobCount": "20000"}, 20000),
        ({}, 10000),
        ({"MaxJobCount": "(null)"}, 10000),
        ({"MaxJobCount": "0"}, 10000),
    ],
)
def test_max_job_count(config: dict[str, str], expected: int) -> None:
    assert info.max_job_count(config) == expected


def test_partitions_real_line_and_limits() -> None:
    parts = {p.name: p for p in info.parse_partitions(PARTITIONS)}
    assert list(parts) == ["debug", "gpu", "long", "short"]
    debug = parts["debug"]
    assert debug.default and debug.state == "UP" and debug.accepts_jobs
    assert debug.max_time == "UNLIMITED" and debug.max_time_seconds is None and debug.unlimited_time
    assert (debug.nodes, debug.total_cpus, debug.total_nodes, debug.max_nodes) == ("vm", 2, 1, None)
    assert debug.def_mem_per_node_mb is None and debug.def_mem_per_cpu_mb is None

    gpu = parts["gpu"]
    assert not gpu.default and gpu.state == "DOWN" and not gpu.accepts_jobs
    assert gpu.max_time_seconds == 86400 and gpu.max_nodes == 4 and gpu.def_mem_per_cpu_mb == 4000
    assert gpu.nodes == "gpu[01-04]" and gpu.total_cpus == 256


def test_partitions_infinite_null_nodes_and_words_without_equals() -> None:
    parts = {p.name: p for p in info.parse_partitions(PARTITIONS)}
    long = parts["long"]
    assert long.unlimited_time and long.max_time_seconds is None
    assert long.nodes == "" and long.state == "INACTIVE" and long.total_cpus == 0
    short = parts["short"]
    assert short.max_time_seconds == 7200 and short.state == "DRAIN" and not short.default
    assert short.max_nodes is None  # not printed: unlimited


def test_partitions_of_empty_or_unreadable_output() -> None:
    assert info.parse_partitions("") == []
    assert info.parse_partitions("No partitions in the system\n") == []
    odd = info.parse_partitions("PartitionName=x MaxTime=soon State=up\n")[0]
    assert odd.max_time == "soon" and odd.max_time_seconds is None and not odd.unlimited_time
    assert odd.state == "UP" and odd.total_cpus is None


def test_sinfo_nodes() -> None:
    nodes = {n.name: n for n in info.parse_sinfo_nodes(SINFO_NODES)}
    assert list(nodes) == ["vm", "gpu01", "gpu02", "gpu03", "cpu001", "cpu002", "cpu003"]
    vm = nodes["vm"]
    assert (vm.state, vm.cpus, vm.memory_mb, vm.gres, vm.gpus) == ("idle", 2, 22644, "", 0)
    assert vm.usable and vm.responding and vm.base_state == "idle"
    assert nodes["gpu01"].gpus == 4 and nodes["gpu01"].usable
    assert nodes["gpu02"].gpus == 4 and not nodes["gpu02"].responding and not nodes["gpu02"].usable
    assert nodes["gpu02"].base_state == "down"
    assert nodes["gpu03"].gpus == 3 and not nodes["gpu03"].usable
    assert nodes["cpu001"].usable and nodes["cpu001"].base_state == "allocated"
    assert nodes["cpu002"].usable and nodes["cpu002"].base_state == "idle"  # powered down, resumes on demand
    cpu3 = nodes["cpu003"]
    assert (cpu3.cpus, cpu3.memory_mb, cpu3.gres, cpu3.base_state, cpu3.usable) == (
        128,
        257000,
        "",
        "mixed",
        False,
    )


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [("(null)", 0), ("", 0), ("gpu:8", 8), ("gpu:a100:4(S:0-1),shard:8", 4), ("gpu:2(S:0,1),mps:100", 2)],
)
def test_gpu_count(gres: str, gpus: int) -> None:
    assert info.gpu_count(gres) == gpus


def _fake_run(
    monkeypatch: pytest.MonkeyPatch, returncode: int, stdout: str = "", stderr: str = ""
) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        return subprocess.CompletedProcess(list(argv), returncode, stdout, stderr)

    monkeypatch.setattr(_proc, "run", run)
    return calls


def test_queries_parse_what_slurm_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_run(monkeypatch, 0, stdout=SINFO_NODES)
    assert len(info.nodes()) == 7
    assert calls == [["sinfo", "-h", "-N", "-o", "%N|%T|%c|%m|%G"]]
    _fake_run(monkeypatch, 0, stdout=PARTITIONS)
    assert [p.name for p in info.partitions()] == ["debug", "gpu", "long", "short"]
    _fake_run(monkeypatch, 0, stdout=SCONTROL_CONFIG)
    assert info.max_array_size(info.cluster_config()) == 10001


@pytest.mark.parametrize("query", [info.nodes, info.partitions, info.cluster_config])
def test_queries_raise_unavailable_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, query: Callable[[], object]
) -> None:
    stderr = "slurm_load_partitions: Unable to contact slurm controller (connect failure)\n"
    _fake_run(monkeypatch, 1, stderr=stderr)
    with pytest.raises(SchedulerUnavailable) as caught:
        query()
    assert "Unable to contact slurm controller" in caught.value.message
    assert "scontrol ping" in caught.value.hint


def test_empty_config_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_run(monkeypatch, 0, stdout="")
    with pytest.raises(SchedulerUnavailable):
        info.cluster_config()


def test_accounting(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_run(monkeypatch, 0, stdout="1  wrap  debug  root  1  COMPLETED  0:0\n")
    assert info.accounting_available() is True
    assert calls == [["sacct", "-n", "-X", "-S", "now-1hour"]]
    _fake_run(monkeypatch, 1, stderr="Slurm accounting storage is disabled\n")
    assert info.accounting_available() is False
    _fake_run(monkeypatch, 1, stderr="sacct: error: Problem talking to the database: Connection refused\n")
    with pytest.raises(SchedulerUnavailable, match="Connection refused"):
        info.accounting_available()


def test_missing_commands_are_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: the real _proc.run reports it
    for query in (info.nodes, info.partitions, info.cluster_config, info.accounting_available):
        with pytest.raises(SchedulerUnavailable, match="not installed or not on PATH"):
            query()
