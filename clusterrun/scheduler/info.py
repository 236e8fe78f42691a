"""What the SLURM cluster offers: config, partitions, nodes, accounting (pure parsers + thin queries).

The parsers take the text SLURM prints and are unit-tested on captured outputs; the query functions
run one command each through `_proc.run` and raise SchedulerUnavailable (with a hint) when SLURM
does not answer.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from clusterrun.config.resources import parse_time_seconds
from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler import _proc
from clusterrun.scheduler.sacct import accounting_disabled

#: SLURM's MaxArraySize when slurm.conf does not set it; the largest array index is one less.
DEFAULT_MAX_ARRAY_SIZE = 1001
#: SLURM's MaxJobCount when slurm.conf does not set it: the jobs the controller holds at once
DEFAULT_MAX_JOB_COUNT = 10000
QUERY_TIMEOUT = 30.0
SINFO_NODE_FORMAT = "%N|%T|%c|%m|%G"
UNLIMITED = frozenset({"UNLIMITED", "INFINITE"})
#: Base node states (sinfo %T, lower case, flags stripped) in which a node takes no new job.
UNAVAILABLE_NODE_STATES = frozenset(
    {"down", "drained", "draining", "drain", "fail", "failing", "future", "inval", "unknown", "blocked"}
)
#: Partition states that accept jobs; DOWN queues jobs without starting them, DRAIN/INACTIVE refuse them.
PARTITION_UP = "UP"
_NO_ANSWER_HINT = (
    "check that the SLURM controller runs ('scontrol ping'; on a local test cluster: "
    "bash scripts/local-slurm.sh up), or use --backend local"
)
_CONFIG_LINE = re.compile(r"^([A-Za-z_][\w\[\]./()-]*)\s*=\s?(.*)$")
_GPU_GRES = re.compile(r"(?:^|,)gpu(?::[^:,()]+)?:(\d+)", re.IGNORECASE)
_LEADING_INT = re.compile(r"^\s*(\d+)")
_MEM_MB = re.compile(r"^(\d+)M?$")


# --- scontrol show config -------------------------------------------------------------------------


def parse_scontrol_config(text: str) -> dict[str, str]:
    """`scontrol show config`: `Key = Value` lines -> {Key: Value}; headers and footers are skipped.

    The first occurrence of a key wins (later plugin sections may repeat generic names).
    """
    config: dict[str, str] = {}
    for line in text.splitlines():
        match = _CONFIG_LINE.match(line.strip())
        if match and match.group(1) not in config:
            config[match.group(1)] = match.group(2).strip()
    return config


def max_array_size(config: dict[str, str]) -> int:
    """MaxArraySize (SLURM's default 1001 when absent or unreadable); the largest index is this - 1."""
    value = _int_or_none(config.get("MaxArraySize", ""))
    return value if value is not None and value > 0 else DEFAULT_MAX_ARRAY_SIZE


def max_job_count(config: dict[str, str]) -> int:
    """MaxJobCount (SLURM's default 10000 when absent or unreadable): the controller holds fewer jobs
    than this at once, pending, running and recently ended alike (a submission that would bring them to
    MaxJobCount is refused); each task of a job array counts."""
    value = _int_or_none(config.get("MaxJobCount", ""))
    return value if value is not None and value > 0 else DEFAULT_MAX_JOB_COUNT


# --- scontrol show partition -o -------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    name: str
    state: str  # UP, DOWN, DRAIN, INACTIVE (as SLURM prints it, upper case)
    default: bool
    max_time: str  # as printed: UNLIMITED, 1-00:00:00, 02:00:00
    max_time_seconds: int | None  # None when unlimited (or unreadable: then max_time says what it was)
    nodes: str  # the node list expression, e.g. node[01-04]
    total_nodes: int | None
    total_cpus: int | None
    max_nodes: int | None  # None when UNLIMITED
    def_mem_per_cpu_mb: int | None = None
    def_mem_per_node_mb: int | None = None

    @property
    def unlimited_time(self) -> bool:
        return self.max_time.upper() in UNLIMITED

    @property
    def accepts_jobs(self) -> bool:
        return self.state == PARTITION_UP

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def _fields(line: str) -> dict[str, str]:
    """`Key=Value Key=Value ...`; a word without '=' continues the previous value (a value with a space)."""
    fields: dict[str, str] = {}
    last = ""
    for word in line.split():
        key, eq, value = word.partition("=")
        if eq and key:
            fields[key] = value
            last = key
        elif last:
            fields[last] = f"{fields[last]} {word}"
    return fields


def _int_or_none(text: str) -> int | None:
    match = _LEADING_INT.match(text or "")
    return int(match.group(1)) if match else None


def _mem_mb(text: str | None) -> int | None:
    match = _MEM_MB.match((text or "").strip())
    return int(match.group(1)) if match else None


def _time_seconds(text: str) -> int | None:
    if text.upper() in UNLIMITED:
        return None
    try:
        return parse_time_seconds(text)
    except ValueError:
        return None


def parse_partitions(text: str) -> list[Partition]:
    """`scontrol show partition -o`: one line of Key=Value pairs per partition; other lines are skipped."""
    partitions: list[Partition] = []
    for line in text.splitlines():
        fields = _fields(line)
        name = fields.get("PartitionName")
        if not name:
            continue
        max_time = fields.get("MaxTime", "UNLIMITED") or "UNLIMITED"
        max_nodes = fields.get("MaxNodes", "UNLIMITED")
        partitions.append(
            Partition(
                name=name,
                state=fields.get("State", "UNKNOWN").upper(),
                default=fields.get("Default", "NO").upper() == "YES",
                max_time=max_time,
                max_time_seconds=_time_seconds(max_time),
                nodes=fields.get("Nodes", "") if fields.get("Nodes") != "(null)" else "",
                total_nodes=_int_or_none(fields.get("TotalNodes", "")),
                total_cpus=_int_or_none(fields.get("TotalCPUs", "")),
                max_nodes=None if max_nodes.upper() in UNLIMITED else _int_or_none(max_nodes),
                def_mem_per_cpu_mb=_mem_mb(fields.get("DefMemPerCPU")),
                def_mem_per_node_mb=_mem_mb(fields.get("DefMemPerNode")),
            )
        )
    return partitions


# --- sinfo -h -N -o '%N|%T|%c|%m|%G' ---------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    name: str
    state: str  # sinfo's long state with its flag suffix, e.g. idle, mixed, down*, drained, idle~
    cpus: int | None
    memory_mb: int | None
    gres: str  # "" when none
    gpus: int

    @property
    def base_state(self) -> str:
        """'down*' -> 'down', 'mixed+drain' -> 'mixed', 'idle~' -> 'idle'."""
        return self.state.lower().split("+", 1)[0].rstrip("*~#%$@!^-")

    @property
    def responding(self) -> bool:
        return "*" not in self.state

    @property
    def usable(self) -> bool:
        """Can start new jobs now or later (busy or powered-down nodes count; down or drained do not)."""
        drain = "drain" in self.state.lower()
        return self.responding and not drain and self.base_state not in UNAVAILABLE_NODE_STATES

    def as_record(self) -> dict[str, Any]:
        return {**asdict(self), "base_state": self.base_state, "usable": self.usable}


def gpu_count(gres: str) -> int:
    """Total GPUs in a gres string: 'gpu:a100:4(S:0-1),shard:8' -> 4; '(null)' -> 0."""
    return sum(int(n) for n in _GPU_GRES.findall(gres or ""))


def parse_sinfo_nodes(text: str) -> list[Node]:
    """`sinfo -h -N -o '%N|%T|%c|%m|%G'`; a node in several partitions is listed once."""
    nodes: dict[str, Node] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|", 4)]
        if len(parts) < 5 or not parts[0] or parts[0] in nodes:
            continue
        name, state, cpus, mem, gres = parts
        gres = "" if gres in ("(null)", "N/A") else gres
        nodes[name] = Node(
            name=name,
            state=state,
            cpus=_int_or_none(cpus),
            memory_mb=_int_or_none(mem),
            gres=gres,
            gpus=gpu_count(gres),
        )
    return list(nodes.values())


# --- queries ---------------------------------------------------------------------------------------


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def _query(argv: list[str], timeout: float) -> str:
    result = _proc.run(argv, timeout)
    if result.returncode != 0:
        raise SchedulerUnavailable(
            f"'{' '.join(argv[:3])}' failed: {_last_line(result.stderr or result.stdout)}",
            hint=_NO_ANSWER_HINT,
        )
    return result.stdout


def query(argv: list[str], timeout: float = QUERY_TIMEOUT) -> str:
    """One SLURM command's output; SchedulerUnavailable (with a hint) when it fails."""
    return _query(argv, timeout)


DEFAULT_SLURM_CONF = "/etc/slurm/slurm.conf"
_CLUSTER_NAME_LINE = re.compile(r"^\s*ClusterName\s*=\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def cluster_name() -> str:
    """The name of the cluster SLURM's commands talk to now (ClusterName, lower case, as sacct prints
    it): read from the slurm.conf that SLURM_CONF selects, else asked of `scontrol show config`; once per
    process and configuration file. '' when neither says (never raises)."""
    return _cluster_name(os.environ.get("SLURM_CONF") or DEFAULT_SLURM_CONF)


@functools.lru_cache(maxsize=8)
def _cluster_name(conf: str) -> str:
    try:
        with open(conf, encoding="utf-8", errors="replace") as handle:
            match = _CLUSTER_NAME_LINE.search(handle.read(1_000_000))
        if match:
            return match.group(1).lower()
    except OSError:
        pass  # configless, or not readable here: ask the controller
    try:
        return cluster_config().get("ClusterName", "").lower()
    except SchedulerUnavailable:
        return ""


def cluster_config(timeout: float = QUERY_TIMEOUT) -> dict[str, str]:
    """`scontrol show config` as a dict."""
    config = parse_scontrol_config(_query(["scontrol", "show", "config"], timeout))
    if not config:
        raise SchedulerUnavailable("'scontrol show config' printed no configuration", hint=_NO_ANSWER_HINT)
    return config


def partitions(timeout: float = QUERY_TIMEOUT) -> list[Partition]:
    return parse_partitions(_query(["scontrol", "show", "partition", "-o"], timeout))


def nodes(timeout: float = QUERY_TIMEOUT) -> list[Node]:
    return parse_sinfo_nodes(_query(["sinfo", "-h", "-N", "-o", SINFO_NODE_FORMAT], timeout))


def accounting_available(timeout: float = QUERY_TIMEOUT) -> bool:
    """True when sacct answers; False when accounting storage is disabled; unavailable otherwise."""
    result = _proc.run(["sacct", "-n", "-X", "-S", "now-1hour"], timeout)
    if accounting_disabled(result.stderr, result.stdout):
        return False
    if result.returncode != 0:
        raise SchedulerUnavailable(
            f"sacct failed: {_last_line(result.stderr or result.stdout)}",
            hint="slurmdbd may be down or unreachable: check 'sacctmgr show cluster' and slurmdbd's log",
        )
    return True
