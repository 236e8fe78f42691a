"""The local machine through submitit's LocalExecutor: the default when SLURM is absent."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil

from clusterrun import portable
from clusterrun.errors import SchedulerError, UsageError
from clusterrun.records.jsonio import read_json
from clusterrun.scheduler import _submitit, local_slots, local_task, reasons
from clusterrun.scheduler.base import (
    Check,
    JobRef,
    JobSpec,
    JobStatus,
    Limits,
    LogEvidence,
    Submitted,
    TaskLayout,
)
from clusterrun.scheduler.checks import check_gpus, check_submitit
from clusterrun.scheduler.environment import clean_environment

#: The job's own exit record in its run directory (execution/jobrun.py writes it): plain JSON.
EXIT_RECORD = "exit.json"
#: Every member starts at once on this machine: a larger sweep is refused before anything is created.
MAX_MEMBERS = 64
#: The raw states this backend reports (JobStatus.raw_state), in clusterrun's vocabulary.
STATE_MAP = {
    "PENDING": "pending",
    "RUNNING": "running",
    "FINISHED": "completed",
    "ERROR": "failed",
    "NO RESULT": "lost",
}


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
    """A live, non-zombie submitit controller with this pid (through psutil: Linux and macOS alike)."""
    return portable.alive(pid, command_contains="submitit")


def _exit_record(ref: JobRef) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if ref.run_dir:
        with contextlib.suppress(OSError, ValueError):
            found = read_json(Path(ref.run_dir) / EXIT_RECORD)
            record = found if isinstance(found, dict) else {}
    return record


def _final(record: dict[str, Any]) -> bool:
    """The job's final exit record (not one of an attempt it requeued)."""
    code = record.get("returncode")
    return isinstance(code, int) and not isinstance(code, bool) and not record.get("requeued")


def _wrapper_done(ref: JobRef) -> bool:
    """The job's wrapper has ended after writing its final exit record: every file of the job is
    written, and the controller that started it has only to notice, close its log files and exit, a few
    tenths of a second that a waiting user would otherwise wait."""
    if not _final(_exit_record(ref)):
        return False
    try:
        tasks = psutil.Process(int(ref.job_id)).children()
        return all(task.status() == psutil.STATUS_ZOMBIE for task in tasks)
    except psutil.NoSuchProcess:
        return True  # the controller itself is gone
    except psutil.Error:
        return False


def _slot_markers(folder: str, seen: dict[str, frozenset[str] | None]) -> frozenset[str] | None:
    """The names in a throttled sweep's slots folder, listed once per poll for all its jobs (None: not
    throttled). One listing is one consistent view: a job gives up its slot (unlinks its granted marker)
    before the next job takes it, so one listing never shows two jobs of a one-slot sweep running, where
    a look per job, a few milliseconds apart, could."""
    if folder not in seen:
        try:
            seen[folder] = frozenset(os.listdir(local_slots.slots_dir(folder)))
        except OSError:
            seen[folder] = None
    return seen[folder]


def _running_for(ref: JobRef, markers: frozenset[str] | None) -> float | None:
    """Seconds a running job has run: since it took its slot (its granted marker) in a throttled sweep,
    since its process started otherwise. None when neither is known (status then shows '-')."""
    try:
        if markers is not None:
            since = local_slots.granted_marker(ref.folder, ref.job_id).stat().st_mtime
        else:
            since = psutil.Process(int(ref.job_id)).create_time()
    except (OSError, psutil.Error):
        return None
    return round(max(0.0, time.time() - since), 1)


def _throttled_state(ref: JobRef, markers: frozenset[str]) -> str:
    """A job of a throttled sweep (`%N`) runs only while it holds a slot. Before (waiting, or its
    process still starting, which takes a Python's start-up) it is pending. Once its final exit record
    is written and its slot given back it has ended, though its process may take a few tenths of a
    second more to exit: counting it running then would show N+1 running."""
    if local_slots.granted_marker(ref.folder, ref.job_id).name in markers:
        return "running"
    return "ended" if _final(_exit_record(ref)) else "pending"


def _ended(ref: JobRef) -> JobStatus:
    """A job whose process has ended, decided by the JSON exit record the job wrote into its run
    directory (execution/jobrun.py), never by submitit's result pickle: unpickling a file from a
    registry others can write would run their code. No record: the job died before it could write one."""
    record = _exit_record(ref)
    code = record.get("returncode")
    if not isinstance(code, int) or isinstance(code, bool):
        return JobStatus(ref.job_id, "lost", raw_state="NO RESULT", source="local")
    seconds = record.get("seconds")
    return JobStatus(
        ref.job_id,
        "completed" if code == 0 else "failed",
        raw_state="FINISHED" if code == 0 else "ERROR",
        exit_code=code,
        elapsed_seconds=round(seconds, 3) if isinstance(seconds, int | float) else None,
        node=str(record.get("host") or ""),
        source="local",
    )


class LocalScheduler:
    name = "local"
    job_id_variable = "SUBMITIT_LOCAL_JOB_ID"  # set by submitit's LocalExecutor inside its jobs
    job_variables = ("SUBMITIT_LOCAL_JOB_ID",)
    signals_every_process = False  # submitit's controller signals its task (the job wrapper) only
    enforces_memory = False  # submitit's LocalExecutor sets no memory limit

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
        """One local process per job, all started now (the local machine has no queue to wait in); with
        `parallelism`, each waits for one of that many slots of the folder (the sweep's) before it runs."""
        portable.require_posix("the local backend")
        import submitit  # here: a poll (`status` of a local run) needs none of it

        executor = submitit.LocalExecutor(folder=specs[0].folder, python=local_task.PYTHON)  # no numpy
        timeout_min = specs[0].time_seconds / 60
        if parallelism:
            entry = local_slots.Throttled(entry, specs[0].folder, parallelism, specs[0].time_seconds)
            local_slots.slots_dir(specs[0].folder).mkdir(parents=True, exist_ok=True)  # poll: throttled
            timeout_min = local_slots.backstop_minutes(specs[0].time_seconds, parallelism, MAX_MEMBERS)
        executor.update_parameters(
            timeout_min=timeout_min,
            gpus_per_node=specs[0].gpus or specs[0].gpus_per_task * specs[0].tasks_per_node,
            tasks_per_node=1 if specs[0].launcher == "torchrun" else specs[0].tasks_per_node,
            signal_delay_s=specs[0].signal_grace,  # SIGUSR2 to the job this long before its timeout
        )
        try:
            with _detached_children(), clean_environment():  # as the SLURM backend does
                jobs = executor.map_array(entry, [spec.run_dir for spec in specs])
        except OSError as exc:
            raise SchedulerError(f"could not start the local job: {exc}") from None
        return [
            Submitted(str(job.job_id), self.render(spec), str(job.job_id))
            for job, spec in zip(jobs, specs, strict=True)
        ]

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        out: dict[str, JobStatus] = {}
        slots: dict[str, frozenset[str] | None] = {}
        for ref in refs:
            if not ref.job_id.isdigit():
                continue
            state = "ended"
            if _alive(int(ref.job_id)):
                markers = _slot_markers(ref.folder, slots)
                if markers is not None:
                    state = _throttled_state(ref, markers)
                elif not _wrapper_done(ref):
                    state = "running"
            if state == "ended":
                out[ref.job_id] = _ended(ref)
            else:
                why = reasons.PARALLELISM if state == "pending" else ""  # a throttled sweep's only wait
                out[ref.job_id] = JobStatus(
                    ref.job_id,
                    state,
                    raw_state=state.upper(),
                    source="local",
                    reason=why,
                    elapsed_seconds=_running_for(ref, slots.get(ref.folder)) if state == "running" else None,
                )
        return out

    def cancel(self, refs: list[JobRef]) -> None:
        for ref in refs:
            if ref.job_id.isdigit() and _alive(int(ref.job_id)):
                os.kill(int(ref.job_id), signal.SIGTERM)

    def limits(self) -> Limits:
        return Limits(max_members=MAX_MEMBERS)

    def task_layout(self, environ: Mapping[str, str]) -> TaskLayout | None:
        """submitit's LocalExecutor starts tasks_per_node tasks on this machine."""
        job_id = environ.get("SUBMITIT_LOCAL_JOB_ID", "")
        if not job_id:
            return None
        world = int(environ.get("SUBMITIT_LOCAL_NTASKS", "1") or 1)
        rank = int(environ.get("SUBMITIT_LOCAL_GLOBALID", "0") or 0)
        return TaskLayout(job_id, rank, rank, 0, world, world, 1, "127.0.0.1")

    def preflight(self, spec: JobSpec) -> list[str]:
        """This machine is one node: more is refused (UsageError, exit 2) before the smoke test."""
        if spec.nodes > 1:
            raise UsageError(
                f"resources.nodes={spec.nodes}, but the local backend runs on this machine: one node",
                hint="use --backend slurm, or resources.nodes=1 (tasks_per_node=N runs N ranks here)",
            )
        if spec.dependency:
            raise UsageError(
                "the local backend cannot make a job wait for another run (resources.after/afterok)",
                hint="use --backend slurm, or submit once the other run has ended",
            )
        return []

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

    def requeue_job(self, job_id: str) -> int:
        """submitit's local controller starts its task again when it exits with this status."""
        from submitit.local.local import LOCAL_REQUEUE_RETURN_CODE

        return LOCAL_REQUEUE_RETURN_CODE
