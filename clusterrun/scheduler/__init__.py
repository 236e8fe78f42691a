"""The scheduler layer: the only code that imports submitit or calls sbatch/sacct/squeue/scancel."""

from __future__ import annotations

import shutil

from clusterrun.errors import SchedulerUnavailable, UsageError
from clusterrun.scheduler.base import JobRef, JobSpec, JobStatus, Scheduler

BACKENDS = ("auto", "slurm", "local")

__all__ = ["BACKENDS", "JobRef", "JobSpec", "JobStatus", "Scheduler", "get_scheduler", "resolve_backend"]


def resolve_backend(name: str) -> str:
    """'auto' means SLURM when `sbatch` is on PATH, the local machine otherwise."""
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    if name == "auto":
        return "slurm" if shutil.which("sbatch") else "local"
    if name == "slurm" and not shutil.which("sbatch"):
        raise SchedulerUnavailable(
            "--backend slurm, but 'sbatch' is not on PATH",
            hint="run on a SLURM login node (or start one: scripts/local-slurm.sh up), "
            "or use --backend local",
        )
    return name


def get_scheduler(name: str) -> Scheduler:
    backend = resolve_backend(name)
    if backend == "slurm":
        from clusterrun.scheduler.slurm import SlurmScheduler

        return SlurmScheduler()
    from clusterrun.scheduler.local import LocalScheduler

    return LocalScheduler()
