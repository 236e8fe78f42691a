"""The local machine through submitit's LocalExecutor: the default when SLURM is absent."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import JobPaths, pickle_load

from clusterrun.errors import SchedulerError
from clusterrun.scheduler import _submitit
from clusterrun.scheduler.base import Check, JobRef, JobSpec, JobStatus, Limits, LogEvidence, Submitted
from clusterrun.scheduler.checks import check_gpus, check_submitit

#: Every member starts at once on this machine: a larger sweep is refused before anything is created.
MAX_MEMBERS = 64
#: The raw states this backend reports (JobStatus.raw_state), in clusterrun's vocabulary.
STATE_MAP = {"RUNNING": "running", "FINISHED": "completed", "ERROR": "failed", "NO RESULT": "lost"}


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
    job_id_variable = "SUBMITIT_LOCAL_JOB_ID"  # set by submitit's LocalExecutor inside its jobs
    job_variables = ("SUBMITIT_LOCAL_JOB_ID",)

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
        return [
            Submitted(str(job.job_id), self.render(spec), str(job.job_id))
            for job, spec in zip(jobs, specs, strict=True)
        ]

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        out: dict[str, JobStatus] = {}
        for ref in refs:
            if not ref.job_id.isdigit():
                continue
            if _alive(int(ref.job_id)):
                out[ref.job_id] = JobStatus(ref.job_id, "running", raw_state="RUNNING", source="local")
                continue
            result = JobPaths(ref.folder, job_id=ref.job_id, task_id=0).result_pickle
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

    def limits(self) -> Limits:
        return Limits(max_members=MAX_MEMBERS)

    def checks(self) -> list[Check]:
        return [check_submitit(), check_gpus()]

    def log_paths(self, folder: Path, job_id: str) -> list[Path]:
        return _submitit.log_paths(folder, job_id)

    def recover(self, folder: Path) -> list[str]:
        return _submitit.submitted_ids(folder)

    def normalise_state(self, raw: str) -> tuple[str, str]:
        return STATE_MAP.get(raw.strip().upper(), "unknown"), ""

    def log_evidence(self, logs: Mapping[str, str]) -> list[LogEvidence]:
        return []  # no scheduler of its own writes verdicts into the logs
