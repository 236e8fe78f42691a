"""What a running job asks its own scheduler: which job it is, how often the scheduler restarted it,
when its time ends, and to run it again as the same job (requeue). Used on the node by the job wrapper
(execution/jobrun.py); never on a read path.

A backend offers this through optional attributes, so one without them simply runs every job once:

- `job_id_variable`, `job_variables`: see registry.job_variables;
- `restart_count_variable`: the variable counting the scheduler's restarts of the job
  (SLURM_RESTART_COUNT, absent on the first run);
- `signals_every_process`: True when the scheduler itself signals every process of the job (SLURM's
  `--signal`, and its SIGTERM at a cancel, requeue, preemption or the time limit), so the wrapper must
  not forward a second copy; False when only the wrapper is signalled (submitit's local controller);
- `job_end_time(job_id) -> float | None`: when the scheduler will stop the job (Unix time);
- `requeue_job(job_id) -> int`: make the job run again; returns the exit status the wrapper then ends
  with (raises SchedulerError when the scheduler refuses);
- `set_requeueable(job_id, allowed) -> None`: whether the scheduler may requeue the job by itself
  (preemption, node failure); the last allowed attempt turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.scheduler.registry import job_schedulers


@dataclass(frozen=True)
class JobSide:
    """The running job as its scheduler knows it; `backend` is "" outside any job."""

    backend: str = ""
    job_id: str = ""
    restarts: int = 0  # how often the scheduler restarted this job before this run of it
    counts_restarts: bool = False  # the scheduler says so (restarts is then the same for every task)
    signals_every_process: bool = False
    scheduler: Any = None

    @property
    def can_requeue(self) -> bool:
        return bool(self.job_id) and callable(getattr(self.scheduler, "requeue_job", None))

    def end_time(self) -> float | None:
        """When the scheduler stops the job (Unix time); None when it does not say."""
        ask = getattr(self.scheduler, "job_end_time", None)
        if not self.job_id or not callable(ask):
            return None
        try:
            found = ask(self.job_id)
        except ClusterrunError:
            return None
        return float(found) if isinstance(found, int | float) else None

    def requeue(self) -> int:
        """Ask the scheduler to run this job again; the exit status to end this run with. Raises
        ClusterrunError when it cannot (or the backend has no requeue)."""
        if not self.can_requeue:
            raise ClusterrunError(f"the {self.backend or 'current'} backend cannot requeue a job")
        return int(self.scheduler.requeue_job(self.job_id))

    def set_requeueable(self, allowed: bool) -> str:
        """Allow or forbid the scheduler's own requeues; '' when done, else what went wrong."""
        change = getattr(self.scheduler, "set_requeueable", None)
        if not self.job_id or not callable(change):
            return ""  # a backend without it never requeues a job by itself
        try:
            change(self.job_id, allowed)
        except ClusterrunError as exc:
            return exc.message
        return ""


def job_side(environ: Mapping[str, str]) -> JobSide:
    """The job this process runs in: the first registered backend whose job id variable is set."""
    for backend, scheduler in job_schedulers(environ):
        id_variable = getattr(scheduler, "job_id_variable", "")
        if not id_variable or not environ.get(id_variable):
            continue
        count_variable = getattr(scheduler, "restart_count_variable", "") or ""
        count = environ.get(count_variable, "")
        return JobSide(
            backend=backend.name,
            job_id=environ[id_variable],
            restarts=int(count) if count.isdigit() else 0,
            counts_restarts=bool(count_variable),
            signals_every_process=bool(getattr(scheduler, "signals_every_process", False)),
            scheduler=scheduler,
        )
    return JobSide()
