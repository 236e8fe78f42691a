"""The local machine through submitit's LocalExecutor: the default when SLURM is absent."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import pickle_load

from clusterrun.errors import SchedulerError
from clusterrun.scheduler.base import JobRef, JobSpec, JobStatus, Submitted


@contextlib.contextmanager
def _detached_children() -> Iterator[None]:
    """Processes started inside neither hold our stdin/stdout/stderr open (a caller reading our output
    would otherwise wait for the job's end) nor die of the terminal's Ctrl-C: a local job outlives the
    command that submitted it, as a SLURM job does. Cancel it with SIGTERM (clusterrun cancel)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    devnull = os.open(os.devnull, os.O_RDWR)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in zip((0, 1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)
        signal.signal(signal.SIGINT, previous)


def _alive(pid: int) -> bool:
    """A live, non-zombie submitit controller with this pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"submitit" in cmdline


class LocalScheduler:
    name = "local"

    def render(self, spec: JobSpec) -> str:
        return (
            "# local backend: submitit's LocalExecutor runs, on this machine,\n"
            f"# clusterrun.execution.jobrun.run_job({spec.run_dir!r})\n"
            f"# with a {spec.time_seconds} s time limit\n"
        )

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        """One local process per job, all started now (the local machine has no queue to wait in)."""
        executor = submitit.LocalExecutor(folder=specs[0].folder)
        executor.update_parameters(timeout_min=specs[0].time_seconds / 60, gpus_per_node=specs[0].gpus)
        try:
            with _detached_children():
                jobs = executor.map_array(entry, [spec.run_dir for spec in specs])
        except OSError as exc:
            raise SchedulerError(f"could not start the local job: {exc}") from None
        return [Submitted(str(job.job_id), self.render(spec)) for job, spec in zip(jobs, specs, strict=True)]

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        out: dict[str, JobStatus] = {}
        for ref in refs:
            if not ref.job_id.isdigit():
                continue
            if _alive(int(ref.job_id)):
                out[ref.job_id] = JobStatus(ref.job_id, "running", raw_state="RUNNING", source="local")
                continue
            result = Path(ref.folder) / f"{ref.job_id}_0_result.pkl"
            state, raw = "lost", "NO RESULT"
            if result.exists():
                try:
                    outcome = pickle_load(result)[0]
                except Exception:  # an unreadable pickle: the job's own record decides later
                    outcome = "error"
                state, raw = ("completed", "FINISHED") if outcome == "success" else ("failed", "ERROR")
            out[ref.job_id] = JobStatus(ref.job_id, state, raw_state=raw, source="local")
        return out

    def cancel(self, refs: list[JobRef]) -> None:
        for ref in refs:
            if ref.job_id.isdigit() and _alive(int(ref.job_id)):
                os.kill(int(ref.job_id), signal.SIGTERM)
