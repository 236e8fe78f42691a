"""Preflight: can the cluster run this request at all? Checked before the smoke test, from ONE `sinfo`
query per process (partitions, their time and node limits, each node's CPUs, memory, gres, features).

An impossible request (a GPU where no node has gres, 64 CPUs on 2-CPU nodes, an unknown partition,
more memory than any node) is refused with what IS available, instead of reaching sbatch (or pending
forever). What is merely busy, down or drained is not refused: it may come back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clusterrun.config.resources import format_mem_mb, format_seconds, parse_time_seconds
from clusterrun.errors import DoesNotFit
from clusterrun.scheduler import info
from clusterrun.scheduler.base import JobSpec

#: One line per (node, partition): name, state, CPUs, memory (MB), gres, partition (default marked *),
#: features, the partition's time limit, its availability and its job size in nodes.
SINFO_FORMAT = "%N|%T|%c|%m|%G|%P|%f|%l|%a|%s"
_GPU_ITEM = re.compile(r"^gpu(?::([^:,()]+))?:(\d+)", re.IGNORECASE)
_PLAIN_FEATURE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class NodeView:
    name: str
    cpus: int
    memory_mb: int
    gpus: dict[str, int]  # gpu type ("" when untyped) -> count
    features: frozenset[str]

    def gpu_count(self, gpu_type: str | None) -> int:
        if gpu_type:
            return self.gpus.get(gpu_type, 0)
        return sum(self.gpus.values())

    def gres_text(self) -> str:
        return ",".join(f"gpu:{k}:{n}" if k else f"gpu:{n}" for k, n in sorted(self.gpus.items()))


@dataclass
class PartitionView:
    name: str
    default: bool = False
    available: str = "up"
    max_time: str = "infinite"
    max_time_seconds: int | None = None  # None: unlimited
    max_nodes: int | None = None  # None: unlimited
    nodes: list[NodeView] = field(default_factory=list)

    def describe(self) -> str:
        """'debug* (1 node, 2 CPUs, 23G, no GPUs, time limit infinite)': the largest node's numbers."""
        count = len(self.nodes)
        cpus = max((n.cpus for n in self.nodes), default=0)
        mem = max((n.memory_mb for n in self.nodes), default=0)
        gres = sorted({n.gres_text() for n in self.nodes if n.gpus})
        gpus = ", ".join(gres) if gres else "no GPUs"
        mark = "*" if self.default else ""
        state = "" if self.available == "up" else f", {self.available}"
        return (
            f"{self.name}{mark} ({count} node{'s' if count != 1 else ''}, {cpus} CPUs, "
            f"{_size(mem) if mem else '?'}, {gpus}, time limit {self.max_time}{state})"
        )


def _size(mb: int) -> str:
    """A size for people: whole G from 1G up (rounded down: what fits), else M."""
    return f"{mb // 1024}G" if mb >= 1024 else f"{mb}M"


def parse_gpus(gres: str) -> dict[str, int]:
    """'gpu:a100:4(S:0-1),gpu:v100:2,shard:8' -> {'a100': 4, 'v100': 2}; 'gpu:2' -> {'': 2}."""
    found: dict[str, int] = {}
    for item in (gres or "").split(","):
        match = _GPU_ITEM.match(item.strip())
        if match:
            kind = match.group(1) or ""
            found[kind] = found.get(kind, 0) + int(match.group(2))
    return found


def _max_nodes(size: str) -> int | None:
    top = size.rpartition("-")[2].strip().lower()
    return int(top) if top.isdigit() else None


def _seconds(limit: str) -> int | None:
    if limit.strip().lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    try:
        return parse_time_seconds(limit.strip())
    except ValueError:
        return None


def parse_sinfo(text: str) -> list[PartitionView]:
    """`sinfo -h -N -o SINFO_FORMAT` -> partitions with their nodes (a node may be in several)."""
    partitions: dict[str, PartitionView] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 10 or not parts[0] or not parts[5]:
            continue
        name, _state, cpus, mem, gres, partition, features, limit, avail, size = parts[:10]
        default = partition.endswith("*")
        partition = partition.rstrip("*")
        view = partitions.setdefault(
            partition,
            PartitionView(
                partition,
                default=default,
                available=avail.lower(),
                max_time=limit,
                max_time_seconds=_seconds(limit),
                max_nodes=_max_nodes(size),
            ),
        )
        if any(n.name == name for n in view.nodes):
            continue
        feats = frozenset(f for f in features.split(",") if f and f != "(null)")
        view.nodes.append(
            NodeView(
                name,
                cpus=_int(cpus),
                memory_mb=_int(mem),
                gpus=parse_gpus("" if gres in ("(null)", "N/A") else gres),
                features=feats,
            )
        )
    return list(partitions.values())


def _int(text: str) -> int:
    match = re.match(r"\d+", text or "")
    return int(match.group(0)) if match else 0


@functools.cache
def cluster_view() -> tuple[PartitionView, ...]:
    """The partitions and their nodes, asked once per process; SchedulerUnavailable when SLURM is silent."""
    return tuple(parse_sinfo(info.query(["sinfo", "-h", "-N", "-o", SINFO_FORMAT])))


# --- the checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """What one node must hold for the request."""

    nodes: int
    cpus: int
    mem_mb: int
    gpus: int
    gpu_type: str | None
    feature: str | None  # a single plain feature of the constraint (expressions are left to SLURM)
    time_seconds: int

    @classmethod
    def of(cls, spec: JobSpec) -> Need:
        constraint = spec.constraint or ""
        return cls(
            nodes=spec.nodes,
            cpus=spec.cpus_per_task * spec.tasks_per_node,
            mem_mb=spec.mem_mb,
            gpus=spec.gpus or spec.gpus_per_task * spec.tasks_per_node,
            gpu_type=spec.gpu_type,
            feature=constraint if _PLAIN_FEATURE.match(constraint) else None,
            time_seconds=spec.time_seconds,
        )

    def gpu_words(self) -> str:
        kind = f" of type {self.gpu_type}" if self.gpu_type else ""
        return f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}{kind}"


def _partition_problems(need: Need, part: PartitionView, spec: JobSpec) -> list[str]:
    """Why this partition can never run the request ([]: it can)."""
    where = f"partition {part.name}"
    problems: list[str] = []
    if part.max_time_seconds is not None and need.time_seconds > part.max_time_seconds:
        problems.append(
            f"time={format_seconds(need.time_seconds)} is above {where}'s time limit {part.max_time}"
        )
    nodes = part.nodes
    most = min(x for x in (len(nodes), part.max_nodes) if x is not None)
    if need.nodes > most:
        problems.append(f"nodes={need.nodes}, but {where} allows {most} node{'s' if most != 1 else ''}")
    cpu_words = f"{need.cpus} CPUs per node"
    if spec.tasks_per_node > 1:
        cpu_words += f" (cpus_per_task={spec.cpus_per_task} x tasks_per_node={spec.tasks_per_node})"
    checks: list[tuple[Callable[[NodeView], bool], str]] = [
        (
            lambda n: n.cpus >= need.cpus,
            f"{cpu_words}, but the largest node of {where} has {max((n.cpus for n in nodes), default=0)}",
        ),
        (
            lambda n: n.memory_mb >= need.mem_mb,
            f"mem={format_mem_mb(need.mem_mb)} per node, but the "
            f"largest node of {where} has {_size(max((n.memory_mb for n in nodes), default=0))}",
        ),
    ]
    if need.gpus:
        have = sorted({n.gres_text() for n in nodes if n.gpus})
        checks.append(
            (
                lambda n: n.gpu_count(need.gpu_type) >= need.gpus,
                f"{need.gpu_words()} per node, but "
                + (
                    f"the nodes of {where} have {', '.join(have)}"
                    if have
                    else f"{where} has no GPUs (no gres)"
                ),
            )
        )
    if need.feature:
        feats = sorted({f for n in nodes for f in n.features})
        checks.append(
            (
                lambda n: need.feature in n.features,
                f"constraint={need.feature}, but no node of {where} has that feature"
                + (f" (features: {', '.join(feats)})" if feats else " (its nodes have no features)"),
            )
        )
    for fits, words in checks:
        if sum(1 for n in nodes if fits(n)) < min(need.nodes, max(len(nodes), 1)):
            problems.append(words)
    if not problems and sum(1 for n in nodes if all(fits(n) for fits, _ in checks)) < need.nodes:
        problems.append(f"no {need.nodes} node(s) of {where} hold all of it at once")
    return problems


def problems(spec: JobSpec, partitions: Sequence[PartitionView]) -> list[str]:
    """Why the cluster can never run `spec` (empty: it can, on at least one requested partition)."""
    if not partitions:
        return []
    chosen = _chosen(spec, partitions)
    if not chosen and spec.partition:
        names = [n for n in spec.partition.split(",") if n]
        return [f"there is no partition {', '.join(repr(n) for n in names)}"]
    if not chosen:
        return ["the cluster has no default partition, and resources.partition is not set"]
    need = Need.of(spec)
    found = [_partition_problems(need, part, spec) for part in chosen]
    if any(not p for p in found):
        return []
    return [p for group in found for p in group]


def _chosen(spec: JobSpec, partitions: Sequence[PartitionView]) -> list[PartitionView]:
    """The partitions asked for that exist, in the order asked (none named: the default ones)."""
    if not spec.partition:
        return [p for p in partitions if p.default]
    known = {p.name: p for p in partitions}
    return [known[n] for n in spec.partition.split(",") if n in known]


def fixes(spec: JobSpec, partitions: Sequence[PartitionView]) -> list[str]:
    """Overrides that bring each plain request (CPUs, memory, time, nodes) within the largest of the
    partitions asked for: what a user would type next, e.g. ['resources.cpus_per_task=2']."""
    chosen = _chosen(spec, partitions)
    nodes = [n for p in chosen for n in p.nodes]
    if not chosen or not nodes:
        return []
    out: list[str] = []
    cpus = max(n.cpus for n in nodes)
    if spec.cpus_per_task * spec.tasks_per_node > cpus and cpus // spec.tasks_per_node >= 1:
        out.append(f"resources.cpus_per_task={cpus // spec.tasks_per_node}")
    memory = max(n.memory_mb for n in nodes)
    if spec.mem_mb > memory > 0:
        out.append(f"resources.mem={memory // 1024}G" if memory >= 1024 else f"resources.mem={memory}M")
    limits = [p.max_time_seconds for p in chosen]
    if None not in limits and spec.time_seconds > max(x for x in limits if x is not None):
        out.append(f"resources.time={format_seconds(max(x for x in limits if x is not None))}")
    most = max(min(x for x in (len(p.nodes), p.max_nodes) if x is not None) for p in chosen)
    if spec.nodes > most > 0:
        out.append(f"resources.nodes={most}")
    return out


def check(spec: JobSpec, partitions: Sequence[PartitionView]) -> None:
    """Raise UsageError (exit 2) naming what is impossible, what the cluster has, and the overrides that
    would fit."""
    found = problems(spec, partitions)
    if not found:
        return
    offered = "; ".join(p.describe() for p in partitions)
    fit = fixes(spec, partitions)
    raise DoesNotFit(
        f"the cluster cannot run this request: {'; '.join(found)}; partitions: {offered}",
        hint=(f"to fit, add {' '.join(fit)}; or " if fit else "lower the request or ")
        + "choose a partition that has it (resources.partition=NAME); 'clusterrun doctor' shows the cluster",
        fixes=tuple(fit),
    )
