"""What every backend offers, and the data it speaks in (see site/backends.md, "Adding a backend").

A backend renders and submits jobs, polls them (one batched query), cancels them, and answers the
questions the rest of clusterrun would otherwise ask a particular scheduler: its limits, its health
checks for `clusterrun doctor`, where its own logs are, which job an interrupted submission left
behind, what its raw states mean, and which of its log lines prove a verdict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol

from clusterrun.errors import ExitStatus, SchedulerError, SchedulerUnavailable

#: Normalised states. Terminal ones end a run; anything unknown is treated as still going.
TERMINAL = frozenset(
    {
        "completed",
        "failed",
        "timeout",
        "cancelled",
        "out_of_memory",
        "node_fail",
        "preempted",
        "boot_fail",
        "deadline",
        "lost",
    }
)
ACTIVE = frozenset({"pending", "running", "requeued", "suspended", "completing", "configuring", "unknown"})
#: What `normalise_state` returns: clusterrun's vocabulary (a backend maps its raw states onto these).
STATES = TERMINAL | frozenset({"pending", "running", "suspended", "unknown"})


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to submit one run's job."""

    run_dir: str  # the run directory; the job writes its logs there
    folder: str  # submitit's working folder (pickles, its own logs)
    job_name: str  # what the scheduler's own tools show: the run id (a sweep's: the sweep id)
    chdir: str  # the snapshot: the job runs there
    time_seconds: int
    mem_mb: int
    nodes: int = 1
    cpus_per_task: int = 1
    gpus: int = 0
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    setup: tuple[str, ...] = ()
    tasks_per_node: int = 1  # processes of the command per node (ranks), each its own srun task
    gpus_per_task: int = 0  # instead of gpus (per node)
    gpu_type: str | None = None
    constraint: str | None = None
    exclusive: bool = False
    reservation: str | None = None
    dependency: str | None = None  # the scheduler's syntax, job ids resolved: afterok:123:456
    mail_type: str | None = None
    mail_user: str | None = None
    extra: tuple[tuple[str, str | int | float | bool], ...] = ()  # other options, validated by config
    launcher: str = "srun"  # torchrun: ONE task per node, which starts tasks_per_node processes itself
    comment: str = ""  # the scheduler's free-text comment: naming.job_comment(run or sweep id)
    requeue: bool | None = None  # may run again as the same job (--requeue); None: the cluster decides
    signal_grace: int = 90  # SIGUSR2 this many seconds before the time limit (submitit's default)

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node


@dataclass(frozen=True)
class TaskLayout:
    """Where one task of a running job stands among its tasks: a rank of a multi-process job."""

    job_id: str
    rank: int  # 0 .. world_size - 1
    local_rank: int  # 0 .. local_world_size - 1, on its node
    node_rank: int  # 0 .. nodes - 1
    world_size: int  # every task of the job
    local_world_size: int  # tasks on this node
    nodes: int
    master_addr: str  # the first node's address: where rank 0 listens


@dataclass(frozen=True)
class JobRef:
    """A job to ask about. Job ids are reused (they wrap; another cluster has its own), so a job is also
    known by its cluster, its name and when it was submitted (scheduler/identity.py): a record of the
    same id that differs in them is another job's, never this one's."""

    job_id: str
    folder: str
    run_dir: str = ""  # the run's directory: where the job writes its JSON exit record (exit.json)
    cluster: str = ""  # the cluster it was submitted to ("" unknown: older records)
    submit_time: str = ""  # the scheduler's own submit time of its first attempt, once known
    name: str = ""  # its name in the scheduler (the run id, a sweep's id), once known
    submitted_after: float | None = None  # epoch seconds: clusterrun started submitting it
    submitted_before: float | None = None  # epoch seconds: the scheduler had answered
    #: it has run (its wrapper recorded an attempt): a task of an array then has accounting records of
    #: its own, asked for by its id; until then only its array's id finds it
    started: bool = False


class SharedStrings(dict[str, str]):
    """One string for each value seen (`same(text)`: the first `text` equal to it), as sys.intern would
    give, without keeping them for the process's life: the values many jobs' records repeat (a state,
    a node, a sweep's cluster, name, submit time and scheduler folder) held once, not once per job.
    With `at_most`, the table is emptied when it holds that many (a long-lived one stays small)."""

    def __init__(self, at_most: int | None = None) -> None:
        super().__init__()
        self.at_most = at_most

    def __call__(self, text: str) -> str:
        if self.at_most is not None and len(self) >= self.at_most:
            self.clear()
        return self.setdefault(text, text)


@dataclass(slots=True)
class JobStatus:
    job_id: str
    state: str  # normalised, lower case (see TERMINAL / ACTIVE)
    raw_state: str = ""
    exit_code: int | None = None
    signal: int | None = None
    elapsed_seconds: float | None = None  # sacct: whole seconds; local: the exit record's, to the ms
    node: str = ""
    start: str = ""
    end: str = ""
    max_rss_mb: float | None = None
    cancelled_by: str = ""
    reason: str = ""  # why a pending job waits, in the scheduler's word (SLURM: Priority, Resources...)
    source: str = ""  # sacct, squeue, local
    extra: dict[str, Any] = field(default_factory=dict)
    submit_time: str = ""  # when the scheduler took this attempt (SLURM: Submit, local time)
    cluster: str = ""  # the scheduler's cluster name
    name: str = ""  # the job's name in the scheduler

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def as_record(self) -> dict[str, Any]:
        """asdict(self), without its walk of every field (a poll of a thousand jobs records each): the
        fields are plain values but `extra`, copied deeply as asdict would."""
        record = {name: getattr(self, name) for name in _JOB_STATUS_FIELDS}
        record["extra"] = copy.deepcopy(self.extra) if self.extra else {}
        return record


_JOB_STATUS_FIELDS = tuple(f.name for f in fields(JobStatus))


@dataclass(frozen=True)
class Submitted:
    job_id: str
    script: str  # the exact submission script, or a description of the launch
    array_id: str = ""  # the submission (job array) this job belongs to; "" when it is its own
    cluster: str = ""  # the cluster that took it, when the scheduler has names for clusters
    submit_time: str = ""  # the scheduler's own submit time of the job, when it said at once
    name: str = ""  # the job's name in the scheduler


class PollResult(dict[str, JobStatus]):
    """What `Scheduler.poll` returns: job id -> status, what the answer lacks (`warnings`, e.g. that
    accounting did not answer and states come from weaker sources: said once per refresh), and which
    sources were asked (`asked`, named in the diagnosis of a run no source knows)."""

    def __init__(
        self,
        statuses: Mapping[str, JobStatus] | None = None,
        warnings: list[str] | None = None,
        asked: list[str] | None = None,
    ):
        super().__init__(statuses or {})
        self.warnings: list[str] = list(warnings or [])
        self.asked: list[str] = list(asked or [])  # the sources asked, and how they answered


class JobMismatch(SchedulerError):
    """A run's job id now names another job (another cluster's, or one submitted later that got the id):
    nothing is done to it. `job_id` is the run's job id."""

    exit_status = ExitStatus.USAGE

    def __init__(self, job_id: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.job_id = job_id


#: what to do about a job the controller would not take for now (its queue full, or busy)
QUEUE_FULL_HINT = (
    "wait for jobs to leave the queue (an ended job stays MinJobAge s: 'scontrol show config | grep -E "
    "\"MaxJobCount|MinJobAge\"', 'squeue -h | wc -l'), then submit again"
)


class SubmitTimeout(SchedulerUnavailable):
    """The scheduler's submit command did not answer in time: the job may exist all the same (a
    controller that was slow, or frozen, creates it later). Never 'refused': `status` looks it up by its
    tag (its name) and adopts it. `refused`: the command's own words when it was retrying a job the
    controller had refused so far (a full queue): then the cause is said, and so is what to do."""

    def __init__(self, seconds: float, command: str = "sbatch", refused: str = "") -> None:
        if refused:
            super().__init__(
                f"the SLURM controller refused the job for {seconds:g} s, its queue full or busy "
                f"({command} was retrying: {refused!r}); a job a last retry got in is adopted by "
                "clusterrun status",
                hint=f"{QUEUE_FULL_HINT} once 'clusterrun status' shows these runs submit_failed (about 2 "
                "minutes)",
            )
        else:
            super().__init__(
                f"{command} did not answer within {seconds:g} s; the job may exist: clusterrun status will "
                "adopt it if the controller created it",
                hint="look with 'clusterrun status' once the controller answers; submit again only if the "
                "run then shows submit_failed",
            )
        self.seconds = seconds
        self.refused = refused


class SubmitUnreadable(SubmitTimeout):
    """The submit command succeeded but its answer names no job id (a site's wrapper around sbatch that
    prints something else): the job may exist all the same, and `status` adopts it by its tag, as after
    a time-out."""

    def __init__(self, command: str, answer: str) -> None:
        SchedulerUnavailable.__init__(
            self,
            f"{command} succeeded, but its answer names no job id ({answer!r}); the job may exist: "
            "clusterrun status will adopt it",
            hint="look with 'clusterrun status' (it finds the job by its name); if sbatch is your site's "
            "wrapper, its answer should keep sbatch's own line 'Submitted batch job <id>'",
        )
        self.seconds = 0.0
        self.refused = ""


class PartialSubmission(SchedulerError):
    """A submission split into several calls where a later call failed: `submitted` went through (in
    the order of the specs given), `cause` is why the rest did not."""

    def __init__(self, submitted: list[Submitted], cause: SchedulerError) -> None:
        super().__init__(cause.message, cause.hint)
        self.submitted = submitted
        self.cause = cause


CheckStatus = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One row of `clusterrun doctor`: a verdict and, unless ok, a concrete fix."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # the numbers behind the detail


@dataclass(frozen=True)
class Limits:
    """What the scheduler allows one submission; None or empty when it does not say (or did not answer)."""

    max_array_size: int | None = None  # most jobs in one array submission (larger sweeps are split)
    max_members: int | None = None  # most members one submission may have at all (refused beyond)
    max_jobs: int | None = None  # most jobs the scheduler holds at once (SLURM: MaxJobCount; tasks count)
    partitions: tuple[str, ...] = ()  # the queues/partitions a job may name
    default_partition: str | None = None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LogEvidence:
    """A line of the scheduler's own log that proves what happened to a job."""

    state: str  # clusterrun's word: out_of_memory, timeout, deadline, node_fail, preempted, cancelled
    log: str  # the name of the log it was found in (a key of the logs given)
    line: str
    values: dict[str, str] = field(default_factory=dict)  # named parts, e.g. used/limit of a memory kill


class Scheduler(Protocol):
    """A backend. Construction must be cheap and must not query anything (the registry builds one to
    read old records); everything that talks to the scheduler happens in the methods."""

    name: str
    enforces_memory: bool  # a job over its memory request is killed (SLURM's cgroups or accounting)

    def render(self, spec: JobSpec) -> str:
        """The submission script, without submitting anything."""
        ...

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        """Jobs with the same resources and folder in as few submissions as the scheduler allows; each
        calls entry(spec.run_dir) on its node. A plain run is a list of one."""
        ...

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        """States of all given jobs in ONE scheduler query; jobs it does not know are left out."""
        ...

    def cancel(self, refs: list[JobRef]) -> None:
        """Ask the scheduler to stop these jobs (queued or running); raises SchedulerError if it refuses."""
        ...

    def limits(self) -> Limits:
        """What one submission may hold; may query the scheduler once per process (cache it), never
        raises: an unknown limit is None."""
        ...

    def checks(self) -> list[Check]:
        """The rows `clusterrun doctor` shows when this backend is the one chosen (even when its probe
        said no: then a failed row says why). A scheduler that does not answer is a row, not an error."""
        ...

    def log_paths(self, folder: Path, job_id: str) -> list[Path]:
        """The scheduler's own logs of one job in its folder (existing files, sorted); [] when none."""
        ...

    def recover(self, folder: Path) -> list[str]:
        """Job ids of the submissions recorded in a run's own folder, read from file names only (never
        unpickled): one after a submission interrupted between the scheduler's answer and the manifest
        write; none when it never got that far."""
        ...

    def normalise_state(self, raw: str) -> tuple[str, str]:
        """A raw state of this scheduler -> (clusterrun's state (see STATES), who cancelled it or "");
        a word it does not know -> ("unknown", "")."""
        ...

    def log_evidence(self, logs: Mapping[str, str]) -> list[LogEvidence]:
        """Lines of its own logs (name -> text, most relevant first) that prove a verdict, most decisive
        first, at most one per state: the last matching line of the first log that has one."""
        ...
