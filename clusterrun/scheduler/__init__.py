"""The scheduler layer: the only code that imports submitit or calls a scheduler's commands.

Everything else goes through a backend (the `Scheduler` protocol in base.py) chosen by name from the
registry (registry.py); nothing outside this package names a particular scheduler.
See site/backends.md for adding one.
"""

from __future__ import annotations

from clusterrun.scheduler.base import (
    ACTIVE,
    STATES,
    TERMINAL,
    Check,
    JobRef,
    JobSpec,
    JobStatus,
    Limits,
    LogEvidence,
    Scheduler,
    Submitted,
    TaskLayout,
)
from clusterrun.scheduler.registry import (
    AUTO,
    BACKENDS,
    Backend,
    backend_help,
    choose,
    get_scheduler,
    job_variables,
    log_evidence,
    log_paths,
    lookup,
    names,
    normalise_state,
    register,
    registered,
    resolve_backend,
    scheduler_named,
    task_layout,
    unregister,
)

__all__ = [
    "ACTIVE",
    "AUTO",
    "BACKENDS",
    "STATES",
    "TERMINAL",
    "Backend",
    "Check",
    "JobRef",
    "JobSpec",
    "JobStatus",
    "Limits",
    "LogEvidence",
    "Scheduler",
    "Submitted",
    "TaskLayout",
    "backend_help",
    "choose",
    "get_scheduler",
    "job_variables",
    "log_evidence",
    "log_paths",
    "lookup",
    "names",
    "normalise_state",
    "register",
    "registered",
    "resolve_backend",
    "scheduler_named",
    "task_layout",
    "unregister",
]
