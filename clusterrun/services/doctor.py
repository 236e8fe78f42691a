"""Is this machine ready to run experiments? A list of checks, each with a verdict and a concrete fix.

`run_checks` returns data and never prints; `clusterrun doctor` (cli/doctor.py) shows it. A check that
fails blocks submission; a warning does not.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from clusterrun.errors import GitError, SchedulerError, UsageError
from clusterrun.execution import envinfo
from clusterrun.inputs import gitstate
from clusterrun.scheduler import BACKENDS
from clusterrun.scheduler import info as slurm_info

Status = Literal["ok", "warn", "fail", "skip"]
GIB = 1024**3
DISK_FAIL_BYTES = 1 * GIB
DISK_WARN_BYTES = 10 * GIB
MIN_PYTHON = (3, 10)
ACCOUNTING_FALLBACK = "status falls back to squeue; summaries lose exit codes"

# Indirections so tests can replace the machine (monkeypatch these, not the stdlib).
_which: Callable[[str], str | None] = shutil.which
_disk_usage: Callable[[Path], Any] = shutil.disk_usage
_local_gpus: Callable[[], list[str]] = envinfo._gpus


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # the numbers behind the detail


@dataclass
class DoctorReport:
    backend: str  # what submit --backend <requested> would use: slurm or local
    checks: list[Check]

    @property
    def blocking(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_record(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "blocking": self.blocking,
            "checks": [asdict(c) for c in self.checks],
        }


def _shown(names: tuple[str, ...] | list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


# --- local checks ----------------------------------------------------------------------------------


def check_git(cwd: Path) -> Check:
    try:
        state = gitstate.capture(cwd)
    except GitError as exc:
        return Check("git", "fail", exc.message, exc.hint)
    where = f"{state.root} at {state.commit[:10]} on {state.branch}"
    data = {"root": state.root, "commit": state.commit, "branch": state.branch}
    if state.dirty:
        return Check(
            "git",
            "warn",
            f"uncommitted changes in {len(state.dirty_files)} file(s): {_shown(state.dirty_files)} ({where})",
            "commit them (git commit -am '...'), or submit with --allow-dirty to record them as a patch",
            {**data, "dirty_files": list(state.dirty_files)},
        )
    if state.untracked_files:
        return Check(
            "git",
            "warn",
            f"{len(state.untracked_files)} untracked file(s) are NOT in run snapshots: "
            f"{_shown(state.untracked_files)} ({where})",
            "git add and commit the ones a job needs; list the others in .gitignore",
            {**data, "untracked_files": list(state.untracked_files)},
        )
    return Check("git", "ok", f"clean: {where}", "", data)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    data: dict[str, Any] = {"version": version, "executable": sys.executable}
    if sys.version_info[:2] < MIN_PYTHON:
        return Check(
            "python",
            "fail",
            f"Python {version} at {sys.executable}; clusterrun needs >= 3.10",
            "create an environment with Python >= 3.10 and install clusterrun there",
            data,
        )
    env = os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")
    if not env and sys.prefix != sys.base_prefix:
        env = sys.prefix
    shared = "jobs on other nodes run this same interpreter, so it must be on a filesystem they share"
    if env:
        data["environment"] = env
        return Check(
            "python", "ok", f"Python {version} at {sys.executable} (environment {env}); {shared}", "", data
        )
    return Check(
        "python",
        "warn",
        f"Python {version} at {sys.executable}, no virtual or conda environment active; {shared}",
        "create one on a shared filesystem and activate it before submitting: "
        "python -m venv /shared/path/venv && . /shared/path/venv/bin/activate && pip install -e .",
        data,
    )


def check_disk(registry_root: Path) -> Check:
    probe = registry_root.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fix_elsewhere = "free space there, or put the registry elsewhere: --runs-dir DIR (or CLUSTERRUN_RUNS_DIR)"
    try:
        free = int(_disk_usage(probe).free)
    except OSError as exc:
        return Check("disk", "fail", f"cannot read free space of {probe}: {exc}", fix_elsewhere)
    data = {"path": str(probe), "registry": str(registry_root), "free_bytes": free}
    detail = f"{free / GIB:.1f} GiB free at {probe} (runs and snapshots go to {registry_root.absolute()})"
    if not os.access(probe, os.W_OK):
        return Check(
            "disk", "fail", f"{probe} is not writable ({detail})", "choose a writable --runs-dir DIR", data
        )
    if free < DISK_FAIL_BYTES:
        return Check("disk", "fail", f"{detail}: less than 1 GiB", fix_elsewhere, data)
    if free < DISK_WARN_BYTES:
        return Check("disk", "warn", f"{detail}: less than 10 GiB", fix_elsewhere, data)
    return Check("disk", "ok", detail, "", data)


def check_submitit(slurm: bool) -> Check:
    try:
        version = importlib.metadata.version("submitit")
    except importlib.metadata.PackageNotFoundError:
        return Check("submitit", "fail", "submitit is not installed", "pip install 'submitit>=1.5'")
    if slurm and _which("srun") is None:
        return Check(
            "submitit",
            "fail",
            f"submitit {version}, but 'srun' is not on PATH (submitit's job scripts start the job with srun)",
            "add SLURM's bin directory to PATH (module load slurm), or ask your admins",
            {"version": version},
        )
    where = f", srun at {_which('srun')}" if slurm else ""
    return Check("submitit", "ok", f"submitit {version}{where}", "", {"version": version})


def check_gpus(nodes: list[slurm_info.Node] | None) -> Check:
    local = _local_gpus()
    here = f"this machine: {'; '.join(local)}" if local else "this machine: none (no nvidia-smi or no GPU)"
    data: dict[str, Any] = {"local": local}
    parts = [here]
    if nodes is not None:
        total = sum(n.gpus for n in nodes)
        with_gpus = [f"{n.name}={n.gpus}" for n in nodes if n.gpus]
        data["slurm_gpus"] = total
        parts.insert(0, f"SLURM gres: {total} GPU(s)" + (f" ({_shown(with_gpus)})" if with_gpus else ""))
    return Check("gpus", "ok", "; ".join(parts), "", data)


# --- SLURM checks ----------------------------------------------------------------------------------


def check_accounting() -> Check:
    try:
        available = slurm_info.accounting_available()
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


def _describe(p: slurm_info.Partition) -> str:
    cpus = p.total_cpus if p.total_cpus is not None else "?"
    name = f"{p.name}*" if p.default else p.name
    return f"{name} {p.state} MaxTime={p.max_time} nodes={p.nodes or '-'} cpus={cpus}"


def check_partitions() -> Check:
    parts = slurm_info.partitions()
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


def check_nodes(nodes: list[slurm_info.Node]) -> Check:
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
    size = slurm_info.max_array_size(config)
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


def _guard(name: str, check: Callable[[], Check]) -> Check:
    """A scheduler that does not answer inside a check becomes a failed row, never an exception."""
    try:
        return check()
    except SchedulerError as exc:
        return Check(name, "fail", exc.message, exc.hint)


def _slurm_checks(backend: str) -> list[Check]:
    skipped = ["accounting", "partitions", "nodes", "array size"]
    if backend == "local" or _which("sbatch") is None:
        if backend == "slurm":
            first = Check(
                "slurm",
                "fail",
                "--backend slurm, but 'sbatch' is not on PATH",
                "run on a SLURM login node (or start one: bash scripts/local-slurm.sh up), "
                "or use --backend local",
            )
        elif backend == "local":
            first = Check("slurm", "skip", "--backend local: SLURM is not used")
        else:
            first = Check("slurm", "skip", "'sbatch' is not on PATH: local backend will be used")
        return [first, *(Check(n, "skip", "SLURM is not used") for n in skipped), check_gpus(None)]
    try:
        nodes = slurm_info.nodes()
    except SchedulerError as exc:
        return [
            Check("slurm", "fail", f"the SLURM controller does not answer: {exc.message}", exc.hint),
            *(Check(n, "skip", "SLURM did not answer") for n in skipped),
            check_gpus(None),
        ]
    config: dict[str, str] = {}
    try:
        config = slurm_info.cluster_config()
        array = check_array_size(config)
    except SchedulerError as exc:
        array = Check("array size", "fail", exc.message, exc.hint)
    version = f"SLURM {config['SLURM_VERSION']}; " if config.get("SLURM_VERSION") else ""
    return [
        Check("slurm", "ok", f"{version}sinfo answers; sbatch at {_which('sbatch')}"),
        _guard("accounting", check_accounting),
        _guard("partitions", check_partitions),
        check_nodes(nodes),
        check_gpus(nodes),
        array,
    ]


def resolved_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "slurm" if _which("sbatch") else "local"
    return backend


def run_checks(cwd: Path, registry_root: Path, backend: str = "auto") -> DoctorReport:
    """Every check, in the order a user would fix them; raises UsageError only for an unknown backend."""
    chosen = resolved_backend(backend)
    checks = [
        check_git(cwd),
        check_python(),
        check_submitit(slurm=chosen == "slurm"),
        check_disk(registry_root),
        *_slurm_checks(backend),
    ]
    return DoctorReport(backend=chosen, checks=checks)
