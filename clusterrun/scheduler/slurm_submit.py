"""sbatch through submitit, made recoverable: a time limit on sbatch, and a journal of every call.

submitit's own submission runs sbatch without a time limit and records the job id only after renaming
the job's pickles; an interruption in between (Ctrl-C, kill -9) or an sbatch that hangs on a frozen
controller left a job no record knew. Here each call is noted before sbatch runs and its answer the
moment it comes (scheduler/submissions.py); an sbatch that does not answer within
CLUSTERRUN_SBATCH_TIMEOUT seconds (default 60) is a SubmitTimeout, never "refused".
The overridden methods follow submitit 1.5's `Executor._submit_command` and
`SlurmExecutor._internal_process_submissions` (tests/unit/test_scheduler_interface.py pins the range).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import submitit
from submitit.core import utils
from submitit.core.utils import FailedJobError

from clusterrun import envknobs
from clusterrun.scheduler import _proc, submissions
from clusterrun.scheduler.base import SubmitTimeout, SubmitUnreadable

SBATCH_TIMEOUT_ENV = envknobs.SBATCH_TIMEOUT.name
SBATCH_TIMEOUT = envknobs.SBATCH_TIMEOUT.default
#: sbatch's own words when its request may have reached the controller without an answer coming back
_MAYBE_CREATED = ("Socket timed out on send/recv", "Zero Bytes were transmitted or received")
#: sbatch's words while it retries a job the controller refused for now (its queue full: MaxJobCount;
#: job creation disabled), sleeping 1, 2, 3... s between tries, about 2 minutes in all
_RETRYING = ("sleeping and retrying", "temporarily disabled, retrying")


def retrying(text: str) -> str:
    """sbatch's line saying it retries a job the controller refused for now ('' when it says none)."""
    said = [line.strip() for line in text.splitlines() if any(word in line for word in _RETRYING)]
    return said[-1] if said else ""


def sbatch_timeout() -> float:
    """Seconds sbatch may take: $CLUSTERRUN_SBATCH_TIMEOUT, else 60."""
    return envknobs.number(envknobs.SBATCH_TIMEOUT)


def run_sbatch(argv: list[str], timeout: float) -> str:
    """sbatch's answer (stdout); SubmitTimeout when it does not answer (or says its request timed out:
    the controller may have taken it), FailedJobError with its message when it refuses."""
    try:
        result = _proc.run(argv, timeout=timeout)
    except _proc.CommandTimeout as exc:
        raise SubmitTimeout(timeout, refused=retrying(exc.stderr)) from None
    if result.returncode != 0:
        message = result.stderr.strip() or result.stdout.strip()
        if any(word in message for word in _MAYBE_CREATED):
            raise SubmitTimeout(timeout)
        raise FailedJobError(message or f"sbatch exited with {result.returncode}")
    return result.stdout


class JournalingExecutor(submitit.SlurmExecutor):
    """A SlurmExecutor whose one sbatch call (a job, or a job array) is journaled and time-limited."""

    def __init__(self, folder: str, tag: str, runs: list[str], timeout: float | None = None) -> None:
        super().__init__(folder=folder)
        self._tag = tag
        self._runs = list(runs)
        self._timeout = sbatch_timeout() if timeout is None else timeout
        self._entry: submissions.Entry | None = None

    def _internal_process_submissions(
        self, delayed_submissions: list[utils.DelayedSubmission]
    ) -> list[submitit.Job[Any]]:
        folder = utils.JobPaths.get_first_id_independent_folder(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        timeout_min = self.parameters.get("time", 5)
        pickles: list[Path] = []
        for delayed in delayed_submissions:
            path = folder / f"{uuid.uuid4().hex}.pkl"
            delayed.set_timeout(timeout_min, self.max_num_timeout)
            delayed.dump(path)
            pickles.append(path)
        count = len(delayed_submissions)
        array = count > 1
        self._entry = submissions.begin(folder, self._tag, self._runs, [p.name for p in pickles], array)
        if array:
            self.parameters["map_count"] = count
        try:
            first = self._submit_command(self._submitit_command_str)
        finally:
            self.parameters.pop("map_count", None)
        if not array:
            first.paths.move_temporary_file(pickles[0], "submitted_pickle")
            return [first]
        tasks = list(range(first.num_tasks))
        jobs: list[submitit.Job[Any]] = [
            submitit.SlurmJob(folder=self.folder, job_id=f"{first.job_id}_{a}", tasks=tasks)
            for a in range(count)
        ]
        for job, path in zip(jobs, pickles, strict=True):
            job.paths.move_temporary_file(path, "submitted_pickle")
        return jobs

    def _submit_command(self, command: str) -> submitit.Job[Any]:
        tmp_uuid = uuid.uuid4().hex
        folder = utils.JobPaths.get_first_id_independent_folder(self.folder)
        script = folder / f".submission_file_{tmp_uuid}.sh"
        script.write_text(self._make_submission_file_text(command, tmp_uuid))
        output = run_sbatch(self._make_submission_command(script), self._timeout)
        try:
            job_id = self._get_job_id_from_submission_command(output)
        except utils.FailedSubmissionError:  # sbatch said yes, in words without an id: the job may exist
            said = " ".join(output.split())
            raise SubmitUnreadable("sbatch", said[:200] or "(nothing)") from None
        if self._entry is not None:  # the answer, before anything else is written
            self._entry = submissions.answered(folder, self._entry, job_id)
        job: submitit.Job[Any] = self.job_class(
            folder=self.folder, job_id=job_id, tasks=list(range(self._num_tasks()))
        )
        job.paths.move_temporary_file(script, "submission_file", keep_as_symlink=True)
        self._write_job_id(job.job_id, tmp_uuid)
        self._set_job_permissions(job.paths.folder)
        return job
