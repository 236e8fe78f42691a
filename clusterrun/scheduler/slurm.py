"""SLURM through submitit: render and submit with SlurmExecutor, poll with one batched sacct."""

from __future__ import annotations

import contextlib
import functools
import io
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clusterrun.errors import SchedulerError, SchedulerUnavailable
from clusterrun.execution.templates import render_template
from clusterrun.scheduler import (
    _proc,
    _submitit,
    info,
    preflight,
    slurm_checks,
    slurm_logs,
    slurm_poll,
    slurm_requeue,
    slurm_tags,
    slurm_tasks,
)
from clusterrun.scheduler.base import (
    QUEUE_FULL_HINT,
    Check,
    JobRef,
    JobSpec,
    JobStatus,
    Limits,
    LogEvidence,
    PartialSubmission,
    PollResult,
    Submitted,
    TaskLayout,
)
from clusterrun.scheduler.environment import clean_environment
from clusterrun.scheduler.sacct import (
    REASON_FORMAT,
    normalise_state,
    parse_reasons,
)


def executor_parameters(spec: JobSpec) -> dict[str, Any]:
    """SlurmExecutor parameters; memory and --chdir go verbatim through additional_parameters."""
    params: dict[str, Any] = {
        "job_name": spec.job_name,
        "comment": spec.comment or None,
        "time": max(1, -(-spec.time_seconds // 60)),
        "nodes": spec.nodes,
        "partition": spec.partition,
        "account": spec.account,
        "qos": spec.qos,
        "constraint": spec.constraint,
        "exclusive": spec.exclusive or None,
        "dependency": spec.dependency,
        "mail_type": spec.mail_type,
        "mail_user": spec.mail_user,
        "setup": render_template("slurm_setup.sh.j2", setup=list(spec.setup)).splitlines(),
        "signal_delay_s": spec.signal_grace,  # --signal=USR2@<grace>
        **task_parameters(spec),
        "additional_parameters": {
            "mem": f"{spec.mem_mb}M",
            "chdir": spec.chdir,
            **({"reservation": spec.reservation} if spec.reservation else {}),
            **requeue_flag(spec.requeue),
            **dict(spec.extra),
        },
    }
    return {k: v for k, v in params.items() if v is not None}


def requeue_flag(requeue: bool | None) -> dict[str, bool]:
    """--requeue (the job may run again as the same job id: preemption, node failure, `scontrol
    requeue`), --no-requeue, or nothing: the cluster's JobRequeue decides."""
    if requeue is None:
        return {}
    return {"requeue": True} if requeue else {"no-requeue": True}


def _typed(count: int, gpu_type: str | None) -> str | int | None:
    if not count:
        return None
    return f"{gpu_type}:{count}" if gpu_type else count


def task_parameters(spec: JobSpec) -> dict[str, Any]:
    """Tasks, CPUs and GPUs: srun starts one task per rank (nodes x tasks_per_node), so the command is
    never run bare on a whole-node allocation; with torchrun, one task per node holds what its
    tasks_per_node processes need. More than one task: one that fails ends the others (no hang)."""
    if spec.launcher == "torchrun":
        tasks, cpus = 1, spec.cpus_per_task * spec.tasks_per_node
        per_node = spec.gpus or spec.gpus_per_task * spec.tasks_per_node
        gpus: dict[str, Any] = {"gpus_per_node": _typed(per_node, spec.gpu_type)}
    else:
        tasks, cpus = spec.tasks_per_node, spec.cpus_per_task
        gpus = {
            "gpus_per_node": _typed(spec.gpus, spec.gpu_type),
            "gpus_per_task": _typed(spec.gpus_per_task, spec.gpu_type),
        }
    return {
        "ntasks_per_node": tasks,
        "cpus_per_task": cpus,
        **gpus,
        "srun_args": ["--kill-on-bad-exit=1"] if tasks * spec.nodes > 1 else None,
    }


def _submit_command(folder: str) -> str:
    return " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(folder)])


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "sbatch failed without a message"


class SlurmScheduler:
    name = "slurm"
    job_id_variable = "SLURM_JOB_ID"  # set inside its jobs (see registry.job_variables)
    job_variables = (
        "SLURM_JOB_ID",
        "SLURM_JOB_NODELIST",
        "SLURM_JOB_PARTITION",
        "SLURM_CPUS_ON_NODE",
        "SLURM_ARRAY_JOB_ID",
        "SLURM_ARRAY_TASK_ID",
    )
    # requeues (scheduler/jobside.py): SLURM counts its restarts, and signals every process of the job
    restart_count_variable = "SLURM_RESTART_COUNT"
    signals_every_process = True
    enforces_memory = True

    def render(self, spec: JobSpec) -> str:
        return _submitit.sbatch_text(_submit_command(spec.folder), spec.folder, executor_parameters(spec))

    def __init__(self) -> None:
        self._last_array: dict[str, str] = {}  # folder -> the array submitted last under a %N limit

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        """Jobs that share resources and folder as ONE sbatch job array (more only past max_size).

        `%N` limits one array only; so that `parallelism` holds for the whole sweep, every further array
        under it (a chunk past max_size, or a later call for the same folder: members that ask for other
        resources) waits for the one before it to end (--dependency=afterany)."""
        size = max_size or len(specs)
        out: list[Submitted] = []
        for start in range(0, len(specs), size):
            chunk = specs[start : start + size]
            after = self._last_array.get(chunk[0].folder) if parallelism else None
            try:
                submitted = self._submit_chunk(chunk, entry, parallelism, after)
            except SchedulerError as exc:
                if out:  # earlier arrays went through: they run, and are reported with their ids
                    raise PartialSubmission(out, exc) from None
                raise
            if parallelism and submitted:
                self._last_array[chunk[0].folder] = submitted[0].array_id or submitted[0].job_id
            out += submitted
        return out

    def _submit_chunk(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None,
        after: str | None = None,
    ) -> list[Submitted]:
        # submitit, here: a poll (every `status` of a running job) needs none of it
        from submitit.core.utils import FailedJobError

        from clusterrun.scheduler.slurm_submit import JournalingExecutor, retrying

        # every sbatch call journaled, its answer recorded the moment it comes, and time-limited
        executor = JournalingExecutor(specs[0].folder, specs[0].job_name, [spec.run_dir for spec in specs])
        params = executor_parameters(specs[0])
        if parallelism:
            params["array_parallelism"] = parallelism
        if after:  # the previous array of the same sweep: one %N limit over all of them
            params["dependency"] = ",".join(filter(None, [params.get("dependency"), f"afterany:{after}"]))
        executor.update_parameters(**params)
        captured = io.StringIO()
        try:
            # never the SLURM_*/SBATCH_* of an allocation it is submitted from (scheduler/environment.py)
            with contextlib.redirect_stderr(captured), clean_environment():
                jobs = executor.map_array(entry, [spec.run_dir for spec in specs])
        except FailedJobError as exc:
            said = str(exc) or captured.getvalue()
            message = _first_line(said)
            if retrying(said):  # sbatch's own retries ran out: about 2 minutes of a full queue
                raise SchedulerError(
                    f"the SLURM controller refused the job, its queue full or busy, through all of sbatch's "
                    f"retries: {message}",
                    hint=QUEUE_FULL_HINT,
                ) from None
            if "Unable to contact slurm controller" in message:
                raise SchedulerUnavailable(
                    f"the SLURM controller does not answer: {message}",
                    hint="check 'sinfo' and that slurmctld is running, then submit again",
                ) from None
            raise SchedulerError(
                f"sbatch refused the job: {message}",
                hint="check resources (partition, time, mem, gpus, account, qos) against 'sinfo' and "
                "'scontrol show partition'",
            ) from None
        script = Path(jobs[0].paths.submission_file).read_text()
        cluster, submit_time, name = slurm_poll.identify(str(jobs[0].job_id))  # ids are reused: who it is
        return [
            Submitted(
                str(job.job_id),
                script,
                _submitit.array_of(str(job.job_id)),
                cluster=cluster,
                submit_time=submit_time,
                name=name,
            )
            for job in jobs
        ]

    def poll(self, refs: list[JobRef]) -> PollResult:
        """One sacct for all jobs (squeue when accounting does not answer); each job gets its own
        record, never one of another job that had its id (slurm_poll.py)."""
        return slurm_poll.poll(refs, annotate=with_reasons)

    def current_cluster(self) -> str:
        """The cluster SLURM's commands talk to now (ClusterName of the slurm.conf SLURM_CONF selects)."""
        return info.cluster_name()

    def cancel(self, refs: list[JobRef]) -> None:
        """scancel the jobs that are still the runs' own (JobMismatch, before anything is cancelled,
        for a job id that now names another job or is on another cluster)."""
        refs = slurm_poll.verify_cancel(refs)
        if not refs:
            return
        result = _proc.run(["scancel", *sorted({r.job_id for r in refs})])
        if result.returncode != 0:
            raise SchedulerError(f"scancel failed: {_first_line(result.stderr)}")

    def limits(self) -> Limits:
        return cluster_limits()

    def task_layout(self, environ: Mapping[str, str]) -> TaskLayout | None:
        return slurm_tasks.task_layout(environ)

    def preflight(self, spec: JobSpec) -> list[str]:
        """Refuse (UsageError, exit 2) what no partition can ever run; a warning when SLURM is silent."""
        try:
            view = preflight.cluster_view()
        except SchedulerUnavailable as exc:
            return [f"the request was not checked against the cluster: {exc.message}"]
        preflight.check(spec, view)
        return []

    def checks(self) -> list[Check]:
        return slurm_checks.checks()

    def log_paths(self, folder: Path, job_id: str) -> list[Path]:
        return _submitit.log_paths(folder, job_id)

    def recover(self, folder: Path) -> list[str]:
        return _submitit.submitted_ids(folder)

    def find_by_tag(self, tags: list[str]) -> dict[str, list[JobRef]]:
        """tag (job name: run or sweep id) -> its jobs: one squeue and one sacct for all tags."""
        return slurm_tags.find_by_tag(tags)

    def arrays_by_tag(self, tags: list[str]) -> dict[str, list[str]]:
        """tag -> the job or array ids under it, oldest first (what interrupted submissions left)."""
        return slurm_tags.arrays_by_tag(tags)

    def normalise_state(self, raw: str) -> tuple[str, str]:
        return normalise_state(raw)

    def log_evidence(self, logs: Mapping[str, str]) -> list[LogEvidence]:
        return slurm_logs.log_evidence(logs)

    # --- requeues: asked by the job about itself (jobside.py), and by summaries about past attempts

    def job_end_time(self, job_id: str) -> float | None:
        return slurm_requeue.end_time(job_id)

    def requeue_job(self, job_id: str) -> int:
        return slurm_requeue.requeue(job_id)

    def set_requeueable(self, job_id: str, allowed: bool) -> None:
        slurm_requeue.set_requeueable(job_id, allowed)

    def attempt_history(self, job_ids: list[str]) -> dict[str, list[JobStatus]]:
        """Every accounting record of each job, oldest first: one per attempt of a requeued job."""
        return slurm_requeue.history(job_ids)


def with_reasons(jobs: dict[str, JobStatus]) -> dict[str, JobStatus]:
    """Pending jobs get the reason they wait for (Priority, Resources, QOSMaxJobsPerUserLimit...).

    sacct's Reason is the database's, often 'None' while a job waits; only then is squeue asked, once,
    for the pending jobs' arrays. A squeue that does not answer leaves the reasons empty: never an error."""
    # (a record from squeue itself has its reason already, or none to give)
    waiting = [s for s in jobs.values() if s.state == "pending" and not s.reason and s.source != "squeue"]
    if not waiting:
        return jobs
    ids = ",".join(sorted({_submitit.array_of(s.job_id) for s in waiting}))
    try:
        result = _proc.run(["squeue", "-h", "-r", "-t", "PENDING", "-o", REASON_FORMAT, "-j", ids])
    except SchedulerUnavailable:
        return jobs
    if result.returncode != 0:
        return jobs
    reasons = parse_reasons(result.stdout)
    for status in waiting:
        status.reason = reasons.get(status.job_id, "")
    return jobs


@functools.cache
def cluster_limits() -> Limits:
    """MaxArraySize, MaxJobCount and the partitions, asked once per process; what does not answer stays
    unknown."""
    max_array_size: int | None = None  # unknown: sbatch will say so if the array is too long
    max_jobs: int | None = None
    try:
        config = info.cluster_config()
        max_array_size, max_jobs = info.max_array_size(config), info.max_job_count(config)
    except SchedulerUnavailable:
        pass
    try:
        partitions = info.partitions()
    except SchedulerUnavailable:
        partitions = []
    return Limits(
        max_array_size=max_array_size,
        max_jobs=max_jobs,
        partitions=tuple(p.name for p in partitions),
        default_partition=next((p.name for p in partitions if p.default), None),
    )
