"""Inside a SLURM job: which task this process is (srun's SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID...)
and the first node's address, where rank 0 of a multi-process job listens."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from clusterrun.errors import SchedulerError
from clusterrun.scheduler import info
from clusterrun.scheduler.base import TaskLayout

_RANGE = re.compile(r"^(\d+)-(\d+)$")


def expand_nodelist(text: str) -> list[str]:
    """'n[1-2],gpu[01-02,05]' -> ['n1', 'n2', 'gpu01', 'gpu02', 'gpu05'] (SLURM's hostlist syntax)."""
    names: list[str] = []
    depth, start = 0, 0
    groups: list[str] = []
    for i, char in enumerate(text):
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            groups.append(text[start:i])
            start = i + 1
    groups.append(text[start:])
    for group in (g.strip() for g in groups):
        if not group:
            continue
        prefixes = [""]
        for part in re.split(r"(\[[^\]]*\])", group):
            if part.startswith("["):
                values: list[str] = []
                for item in part[1:-1].split(","):
                    match = _RANGE.match(item)
                    if match:
                        low, high = match.groups()
                        values += [f"{n:0{len(low)}d}" for n in range(int(low), int(high) + 1)]
                    elif item:
                        values.append(item)
                prefixes = [p + v for p in prefixes for v in values]
            else:
                prefixes = [p + part for p in prefixes]
        names += prefixes
    return names


def _int(environ: Mapping[str, str], *names: str, default: int = 0) -> int:
    for name in names:
        value = environ.get(name, "")
        match = re.match(r"\d+", value)
        if match:
            return int(match.group(0))
    return default


def node_address(name: str) -> str:
    """The node's address: its name when that resolves, else its NodeAddr (nodes named only in
    slurm.conf, as several slurmd on one machine are), else the name as it is."""
    try:
        socket.getaddrinfo(name, None)
        return name
    except OSError:
        pass
    try:
        text = info.query(["scontrol", "show", "node", name, "-o"], timeout=10)
    except SchedulerError:
        return name
    match = re.search(r"\bNodeAddr=(\S+)", text)
    return match.group(1) if match else name


def task_layout(environ: Mapping[str, str]) -> TaskLayout | None:
    """This task's place in its job (None outside a SLURM step)."""
    job_id = environ.get("SLURM_JOB_ID", "")
    if not job_id or "SLURM_PROCID" not in environ:
        return None
    world = _int(environ, "SLURM_NTASKS", "SLURM_NPROCS", default=1)
    nodes = _int(environ, "SLURM_JOB_NUM_NODES", "SLURM_NNODES", default=1)
    hosts = expand_nodelist(environ.get("SLURM_JOB_NODELIST", "") or environ.get("SLURM_NODELIST", ""))
    first = hosts[0] if hosts else socket.gethostname()
    return TaskLayout(
        job_id=job_id,
        rank=_int(environ, "SLURM_PROCID"),
        local_rank=_int(environ, "SLURM_LOCALID"),
        node_rank=_int(environ, "SLURM_NODEID"),
        world_size=world,
        local_world_size=max(1, world // max(nodes, 1)),
        nodes=nodes,
        master_addr=node_address(first) if world > 1 else first,
    )
