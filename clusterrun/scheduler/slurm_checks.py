"""What `clusterrun doctor` checks when the SLURM backend is chosen: the controller, accounting,
partitions, nodes, GPUs (gres) and MaxArraySize, each a row with a verdict and a concrete fix."""

from __future__ import annotations

from clusterrun.errors import SchedulerError
from clusterrun.scheduler import info
from clusterrun.scheduler.base import Check
from clusterrun.scheduler.checks import check_gpus, check_submitit, guard, shown, which

ACCOUNTING_FALLBACK = "status falls back to squeue; summaries lose exit codes"
MISSING_SBATCH = "'sbatch' is not on PATH"
MISSING_SBATCH_HINT = (
    "run on a SLURM login node (or start one: bash scripts/local-slurm.sh up), or use --backend local"
)
#: The rows after 'slurm', skipped when the controller does not answer.
LATER_ROWS = ("accounting", "partitions", "nodes", "array size")


def available() -> bool:
    """The probe `--backend auto` asks: SLURM is used when sbatch is on PATH."""
    return which("sbatch") is not None


def check_srun() -> Check:
    return check_submitit(
        "srun",
        "submitit's job scripts start the job with srun",
        "add SLURM's bin directory to PATH (module load slurm), or ask your admins",
    )


def check_gres(nodes: list[info.Node] | None) -> Check:
    if nodes is None:
        return check_gpus()
    total = sum(n.gpus for n in nodes)
    with_gpus = [f"{n.name}={n.gpus}" for n in nodes if n.gpus]
    line = f"SLURM gres: {total} GPU(s)" + (f" ({shown(with_gpus)})" if with_gpus else "")
    return check_gpus((line, {"slurm_gpus": total}))


def check_accounting() -> Check:
    try:
        available = info.accounting_available()
    except SchedulerError as exc:
        return Check("accounting", "warn", f"{exc.message}: {ACCOUNTING_FALLBACK}", exc.hint)
    if not available:
        return Check(
            "accounting",
            "warn",
            f"SLURM accounting storage is disabled: {ACCOUNTING_FALLBACK}",
            "ask your admins to enable accounting "
            "(slurmdbd and AccountingStorageType=accounting_storage/slurmdbd)",
        )
    return Check("accounting", "ok", "sacct answers (job states and exit codes come from accounting)")


def _describe(p: info.Partition) -> str:
    cpus = p.total_cpus if p.total_cpus is not None else "?"
    name = f"{p.name}*" if p.default else p.name
    return f"{name} {p.state} MaxTime={p.max_time} nodes={p.nodes or '-'} cpus={cpus}"


def check_partitions() -> Check:
    parts = info.partitions()
    data = {"partitions": [p.as_record() for p in parts]}
    if not parts:
        return Check("partitions", "fail", "SLURM reports no partition", "ask your admins", data)
    detail = "; ".join(_describe(p) for p in parts)
    default = next((p for p in parts if p.default), None)
    usable = [p.name for p in parts if p.accepts_jobs]
    elsewhere = f"set resources.partition to one that is UP ({', '.join(usable)})" if usable else ""
    if default is not None and not default.accepts_jobs:
        fix = f"scontrol update partitionname={default.name} state=up (admins)"
        return Check(
            "partitions",
            "fail",
            f"the default partition {default.name} is {default.state}: jobs without resources.partition "
            f"will not start; {detail}",
            f"{fix}, or {elsewhere}" if elsewhere else fix,
            data,
        )
    if not usable:
        return Check("partitions", "fail", f"no partition is UP: {detail}", "ask your admins", data)
    if default is None:
        return Check(
            "partitions",
            "warn",
            f"no default partition: every config must set resources.partition; {detail}",
            f"set resources.partition in your configs ({', '.join(usable)})",
            data,
        )
    down = [p.name for p in parts if not p.accepts_jobs]
    if down:
        return Check(
            "partitions", "warn", f"not UP: {', '.join(down)}; {detail}", f"use another: {elsewhere}", data
        )
    return Check("partitions", "ok", detail, "", data)


def check_nodes(nodes: list[info.Node]) -> Check:
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.base_state] = counts.get(node.base_state, 0) + 1
    data = {"counts": counts, "nodes": [n.as_record() for n in nodes]}
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no nodes"
    cpus = sum(n.cpus or 0 for n in nodes)
    detail = f"{len(nodes)} node(s), {cpus} CPUs: {summary}"
    bad = [n for n in nodes if not n.usable]
    bad_detail = ", ".join(f"{n.name} ({n.state})" for n in bad[:5]) + (" ..." if len(bad) > 5 else "")
    resume = (
        f"scontrol update nodename={','.join(n.name for n in bad[:5])} state=resume "
        "(as root, once the cause in 'scontrol show node' is fixed), or ask your admins"
    )
    if not nodes:
        return Check("nodes", "fail", "SLURM reports no node", "ask your admins", data)
    if len(bad) == len(nodes):
        return Check("nodes", "fail", f"no node can start a job: {bad_detail}; {detail}", resume, data)
    if bad:
        return Check("nodes", "warn", f"unavailable: {bad_detail}; {detail}", resume, data)
    return Check("nodes", "ok", detail, "", data)


def check_array_size(config: dict[str, str]) -> Check:
    size = info.max_array_size(config)
    source = "scontrol show config" if "MaxArraySize" in config else "SLURM's default"
    version = config.get("SLURM_VERSION")
    return Check(
        "array size",
        "ok",
        f"MaxArraySize={size} ({source}): a sweep array has at most {size} runs (indices 0-{size - 1})"
        + (f"; SLURM {version}" if version else ""),
        "",
        {"max_array_size": size, "slurm_version": version},
    )


def checks() -> list[Check]:
    """Every SLURM row, in the order a user would fix them."""
    if not available():
        return [
            check_srun(),
            Check("slurm", "fail", f"--backend slurm, but {MISSING_SBATCH}", MISSING_SBATCH_HINT),
            *(Check(n, "skip", "SLURM is not used") for n in LATER_ROWS),
            check_gres(None),
        ]
    try:
        nodes = info.nodes()
    except SchedulerError as exc:
        return [
            check_srun(),
            Check("slurm", "fail", f"the SLURM controller does not answer: {exc.message}", exc.hint),
            *(Check(n, "skip", "SLURM did not answer") for n in LATER_ROWS),
            check_gres(None),
        ]
    config: dict[str, str] = {}
    try:
        config = info.cluster_config()
        array = check_array_size(config)
    except SchedulerError as exc:
        array = Check("array size", "fail", exc.message, exc.hint)
    version = f"SLURM {config['SLURM_VERSION']}; " if config.get("SLURM_VERSION") else ""
    return [
        check_srun(),
        Check("slurm", "ok", f"{version}sinfo answers; sbatch at {which('sbatch')}"),
        guard("accounting", check_accounting),
        guard("partitions", check_partitions),
        check_nodes(nodes),
        check_gres(nodes),
        array,
    ]
