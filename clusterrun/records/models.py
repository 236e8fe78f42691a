"""The records of the run directory as typed models: manifest.json, summary.json and sweep.json.

These models are the documentation of the layout (site/records.md is generated from them by
scripts/gen_records_reference.py). Every record ever written is schema_version 1; records written by
older clusterrun versions simply lack the fields added since, so every field has a default.

- Unknown fields are kept (extra="allow"): a record from a newer clusterrun, or with fields added by
  hand or by other tools, is read and written back without losing anything.
- Only the fields a record holds are written back (`to_data()` leaves out the fields that were never
  set), so a round trip adds nothing either: an old record keeps its old layout.
- Code may only set declared fields, and assignments are validated: a typo'd field name fails loudly.

Loading (`load`) checks the schema version first: a newer one is refused with a hint to upgrade
clusterrun, never misread; a record that does not match its model is reported as damaged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from clusterrun.records.names import (  # here for every reader of the models (defined without pydantic)
    MANIFEST_FILE as MANIFEST_FILE,
)
from clusterrun.records.names import NOTES_FILE as NOTES_FILE
from clusterrun.records.names import SCHEMA_VERSION as SCHEMA_VERSION
from clusterrun.records.names import SUMMARY_FILE as SUMMARY_FILE
from clusterrun.records.names import SWEEP_FILE as SWEEP_FILE
from clusterrun.records.names import DamagedRecord as DamagedRecord
from clusterrun.records.names import RecordTooNew as RecordTooNew


class RecordModel(BaseModel):
    """Part of a record: unknown fields kept, assignments validated, only declared fields assignable."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, defer_build=True)

    if not TYPE_CHECKING:  # mypy checks attribute names statically; this checks them at run time

        def __setattr__(self, name: str, value: Any) -> None:
            if not name.startswith("_") and name not in type(self).model_fields:
                raise AttributeError(
                    f"{type(self).__name__} has no field {name!r} (declare it in records/models.py)"
                )
            super().__setattr__(name, value)

    def apply(self, where: str, **fields: Any) -> None:
        """Set declared fields (validated); an undeclared name is a TypeError naming `where`."""
        require_fields(type(self), fields, where)
        for name, value in fields.items():
            setattr(self, name, value)

    def to_data(self) -> dict[str, Any]:
        """The record as JSON data: the fields it holds (set by code or read from disk) and unknown ones."""
        return self.model_dump(mode="python", exclude_unset=True)

    @property
    def extra(self) -> dict[str, Any]:
        """Fields this clusterrun does not know (kept as they are)."""
        return dict(self.__pydantic_extra__ or {})


def require_fields(model: type[RecordModel], names: Iterable[str], where: str) -> None:
    """Code sets declared fields only: a typo'd name is a TypeError, not a new field on disk."""
    unknown = sorted(set(names) - set(model.model_fields))
    if unknown:
        raise TypeError(f"{where}: {', '.join(unknown)} not a {model.__name__} field (records/models.py)")


# ------------------------------------------------------------------------------------ nested parts


class StateChange(RecordModel):
    """One entry of a run's state history."""

    state: str = Field("", description="The state entered (created, smoke_passed, submitted, running, ...).")
    at: str = Field("", description="When, as an ISO 8601 time with its UTC offset.")
    note: str = Field(
        "",
        description="Why, when there is more to say (the scheduler's raw state, an error). "
        "Absent when empty.",
    )


class GitRecord(RecordModel):
    """The code a run (or sweep) was submitted from."""

    root: str = Field("", description="The checkout's top directory.")
    commit: str = Field("", description="The commit (full hash).")
    branch: str = Field("", description="The branch, or `(detached)`.")
    dirty: bool = Field(False, description="Whether there were uncommitted changes (saved as the patch).")
    dirty_files: list[str] = Field(default_factory=list, description="Files that differed from the commit.")
    untracked_files: list[str] = Field(
        default_factory=list, description="Untracked files: NOT in the snapshot."
    )
    dirty_submodules: list[str] = Field(
        default_factory=list,
        description="Submodules whose checkout differed from the commit the superproject records (NOT in "
        "the snapshot, which holds the recorded commit). Since 2026-12; absent in older records.",
    )
    patch_file: str | None = Field(
        None,
        description="The patch of the uncommitted changes, relative to the run directory (`git.patch`), "
        "or null when clean. Always null in sweep.json (each member has its own).",
    )


class SnapshotRecord(RecordModel):
    """The immutable, content-addressed copy of the code the run used (`runs/.snapshots/<id>/`)."""

    id: str = Field("", description="sha256 of commit and patch, shortened: the snapshot's name.")
    path: str = Field("", description="Where the snapshot is.")
    reused: bool | None = Field(
        None, description="Whether the snapshot existed before this submission. Not in sweep.json."
    )
    digest: str = Field(
        "",
        description="sha256 over every file's path and content, taken when the snapshot was made; "
        "`reproduce` refuses a snapshot whose content no longer matches. Since 2026-12; absent in "
        "older records.",
    )


class DiagnosisRecord(RecordModel):
    """Why a run (or a smoke test) failed, and the concrete fix."""

    category: str = Field(
        "", description="out_of_memory, time_limit, missing_module, missing_file, cancelled, unknown, ..."
    )
    evidence: str = Field("", description="What in the logs and the scheduler's record shows it.")
    fix: str = Field("", description="What to change (often an override to pass to the next submission).")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts behind the diagnosis (the log line, a suggested value). Absent in the first "
        "records.",
    )


class TimingRunRecord(RecordModel):
    """The second, longer smoke run that times one step when the job logs fewer than two steps (the
    last of up to three, each with ten times the extra steps, when a step was too fast to time:
    smoke-2/, smoke-3/, smoke-4/)."""

    param: str = Field("", description="The steps param (estimate.steps_param).")
    steps: int | float = Field(0, description="Its value in this run.")
    seconds: int | float = Field(0, description="How long the run took.")
    ok: bool = Field(False, description="Whether it exited 0 in time.")
    returncode: int | None = Field(None, description="Its exit code (null when it timed out).")
    timed_out: bool = Field(False, description="Whether it hit smoke.timeout.")
    stderr_tail: str = Field("", description="The end of its stderr, when it failed.")
    stderr_path: str = Field("", description="Its stderr log.")


class SmokeRecord(RecordModel):
    """The smoke test's result as recorded in the manifest (every member of a shape shares it)."""

    skipped: bool = Field(False, description="Whether the smoke test was skipped (`--skip-smoke REASON`).")
    reason: str = Field("", description="Why it was skipped. Only when skipped.")
    ok: bool = Field(False, description="Whether the command ran a few steps and exited 0 in time.")
    returncode: int | None = Field(None, description="The command's exit code (null when it timed out).")
    seconds: int | float = Field(0, description="How long it took.")
    peak_rss_mb: int | float = Field(
        0, description="Peak of the summed RSS of the command's whole process tree, in MB."
    )
    timed_out: bool = Field(False, description="Whether it hit smoke.timeout.")
    stopped: str = Field(
        "",
        description="Why clusterrun stopped it before its end and its timeout (a hang it cannot leave: "
        "worker processes started at import, dying as they start); empty when it was not.",
    )
    stdout_path: str = Field(
        "",
        description="Its stdout log (smoke/stdout.log; the timing run's, smoke-N/, when that run failed: "
        "then ok, returncode and seconds are the timing run's, and the test failed with it).",
    )
    stderr_path: str = Field("", description="Its stderr log (the timing run's when that run failed).")
    cached: bool = Field(False, description="Whether the result was reused from an earlier identical test.")
    cached_from: str = Field("", description="The run whose smoke test was reused.")
    step_points: list[list[int | float]] = Field(
        default_factory=list,
        description="[step, seconds since start] as the job logged its steps: the estimate's timing. "
        "Absent in the first records (before sweeps and estimates).",
    )
    timing_run: TimingRunRecord | None = Field(
        None,
        description="The timing run, when one was needed (the last, when there were more). Since 2026-12.",
    )
    tested_in: str = Field(
        "", description="The run whose directory holds the test's logs (one test per command shape)."
    )
    diagnosis: DiagnosisRecord | None = Field(None, description="Why the smoke test failed. Only on failure.")


class TimingRecord(RecordModel):
    """Time per step and start-up, fitted from the smoke test."""

    startup_seconds: int | float = Field(0, description="Seconds before the first step.")
    seconds_per_step: int | float = Field(0, description="Seconds per step.")
    points: int = Field(0, description="How many measurements the fit used.")
    method: str = Field(
        "", description="`step-metrics` (the job's own step timing) or `two-runs` (two smoke runs)."
    )


class EstimateRecord(RecordModel):
    """Wall time, CPU- and GPU-hours and cost, from the smoke test scaled to the full run."""

    members: int = Field(1, description="Runs it covers (a sweep's members).")
    wall_seconds: int | float | None = Field(
        None, description="One run's wall time; null without a timing (basis says why)."
    )
    basis: str = Field("", description="How the wall time was obtained, or why there is none.")
    cpu_hours: int | float = Field(0, description="CPU-hours of all members.")
    gpu_hours: int | float = Field(0, description="GPU-hours of all members.")
    cost: int | float | None = Field(None, description="With a cluster profile's prices, else null.")
    currency: str = Field("", description="The prices' currency.")
    peak_rss_mb: int | float | None = Field(None, description="The smoke test's peak memory.")
    warnings: list[str] = Field(
        default_factory=list, description="Requests below the estimate (time, mem), with suggestions."
    )
    suggestions: dict[str, str] = Field(
        default_factory=dict, description="Override key -> a suggested value (e.g. resources.time)."
    )
    timing: TimingRecord | None = Field(None, description="The fitted step timing, when there was one.")


class Confirmation(RecordModel):
    """The cost gate's decision."""

    required: bool = Field(
        False,
        description="Whether the submission was above a confirm_above threshold, or its job would likely "
        "fail (even its smoke test used more memory than it asks for).",
    )
    reasons: list[str] = Field(
        default_factory=list, description="Which thresholds it crossed, and why its job would likely fail."
    )
    at: str = Field("", description="When it was decided.")
    approved: bool = Field(False, description="Whether it was submitted.")
    decision: str = Field(
        "", description="How: below the thresholds, confirmed with --yes, at the prompt, refused, declined."
    )


class CancelRequest(RecordModel):
    """Who asked `clusterrun cancel` to stop the run."""

    by: str = Field("", description="The user name.")
    at: str = Field("", description="When.")


class RecordedMetrics(RecordModel):
    """The config's `metrics` section, as the run was configured."""

    file: str = Field("metrics.jsonl", description="The JSON-lines file the job appends metrics to.")
    patterns: dict[str, str] = Field(
        default_factory=dict, description="Metric name -> regex over stdout (then stderr)."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Metrics that differ between identical runs (not compared)."
    )
    ranks: str = Field(
        "0",
        description="Whose metrics the summary reports: `0` (rank 0's, the default; absent then) or `all` "
        "(also every rank's, `metrics_by_rank`). Since 2026-12.",
    )


class RecordedConfig(RecordModel):
    """The fully resolved config (defaults included), as in config.yaml. Its keys are those of the
    config file (see the README); the ones clusterrun reads back from the record are listed here."""

    name: str = Field("", description="The experiment's name.")
    command: list[str] = Field(default_factory=list, description="The argv template ({param} placeholders).")
    params: dict[str, Any] = Field(default_factory=dict, description="Params substituted into the command.")
    seed: int | None = Field(None, description="The seed.")
    data: dict[str, Any] = Field(
        default_factory=dict, description="Datasets, splits and data paths. Absent in the first records."
    )
    env: dict[str, Any] = Field(default_factory=dict, description="Environment variables set for the job.")
    resources: dict[str, Any] = Field(default_factory=dict, description="The requested resources.")
    metrics: RecordedMetrics = Field(default_factory=RecordedMetrics, description="Where metrics come from.")
    requeue: dict[str, Any] = Field(
        default_factory=dict,
        description="When the job runs again: on (preemption, node_fail, timeout), max_attempts, "
        "signal_grace. Absent in records before 2026-12 (their jobs ran once).",
    )
    cwd: str = Field(
        ".",
        description="The folder of the repository the command ran in, relative to its top. Absent when "
        "it is the top (and in records before 2026-12).",
    )
    config_file: dict[str, Any] | None = Field(
        None,
        description="The project's own settings file the run was given a copy of (path, and set: dotted "
        "key -> value, {param} placeholders); the copy is config_file/<its name> in the run directory. "
        "Absent when the config has none (and in records before 2026-12).",
    )

    def passed_texts(self) -> dict[str, str]:
        """The env values and config_file.set texts: with the command, what hands params to the job."""
        texts = {f"env {k}": str(v) for k, v in self.env.items()}
        values = (self.config_file or {}).get("set") or {}
        if isinstance(values, dict):
            texts.update({f"config_file {k}": v for k, v in values.items() if isinstance(v, str)})
        return texts


class AttemptRecord(RecordModel):
    """One run of a run's job: a job requeued (preemption, node failure, a time limit, `scontrol requeue`)
    runs again as the same job id, in the same run and working directory. Written by the job wrapper when
    the attempt starts and when it ends. Since 2026-12."""

    attempt: int = Field(1, description="1, 2, ...: what the command saw as CLUSTERRUN_ATTEMPT.")
    job_id: str = Field("", description="The scheduler's job id (the same for every attempt).")
    node: str = Field("", description="The host it ran on.")
    started: str = Field("", description="When it started (ISO 8601 with UTC offset).")
    ended: str = Field("", description="When its command ended; empty while it runs or when it was killed.")
    seconds: int | float | None = Field(None, description="How long its command ran.")
    returncode: int | None = Field(
        None, description="The command's exit code (negative: killed by a signal)."
    )
    signals: list[str] = Field(
        default_factory=list,
        description="Signals the job received, in order (SIGUSR2, SIGTERM). Absent if none.",
    )
    reason: str = Field(
        "",
        description="Why it ended: completed, failed, time_limit (SIGUSR2 before the time limit), preempted, "
        "node_fail, requeued (by the scheduler or by hand), terminated (SIGTERM, cause not known), "
        "cancelled; empty while it runs.",
    )
    requeued_by: str = Field(
        "",
        description="Who made the job run again after this attempt: `clusterrun` (the job wrapper, after a "
        "time limit) or `scheduler` (preemption, node failure, by hand); empty for the last attempt.",
    )
    cpu_seconds: int | float | None = Field(None, description="CPU time of the command and its children.")
    peak_rss_mb: int | float | None = Field(
        None, description="Peak memory of the command (its largest process)."
    )
    offsets: dict[str, int] = Field(
        default_factory=dict,
        description="Sizes in bytes of stdout.log, stderr.log and the metrics file when it started: where "
        "this attempt's part of each begins (the logs also carry a `=== clusterrun: attempt N ... ===` line "
        "from the second attempt on).",
    )
    last_step: int | float | None = Field(
        None, description="The last step the attempt logged to the metrics file, when it logged one."
    )
    checkpoint: dict[str, Any] | None = Field(
        None,
        description="The newest file in the run's checkpoints/ when it ended: path (relative to the run "
        "directory), size, at (its time). Absent when there was none.",
    )


class JobIdentity(RecordModel):
    """Who the run's job is to the scheduler beyond its id: job ids are reused (SLURM's wrap after
    MaxJobId; another cluster numbers its own), so a record of the same id on another cluster, under
    another name or submitted at another time is another job's and never gives this run its state (nor
    is it cancelled for it). Taken when the scheduler accepted the job, else at the first refresh that
    found it. Since 2026-12; absent in older records and for the local backend."""

    cluster: str = Field("", description="The cluster that took the job (SLURM's ClusterName, lower case).")
    submit_time: str = Field(
        "",
        description="The scheduler's own submit time of the job's first attempt (SLURM's Submit, in the "
        "controller's local time). A requeued job's later attempts have later submit times and the "
        "same name.",
    )
    name: str = Field(
        "", description="The job's name in the scheduler: the run id (a sweep member's: the sweep id)."
    )


# ------------------------------------------------------------------------------------- manifest.json


class Manifest(RecordModel):
    """`manifest.json`: everything a run is, written before anything runs and updated (atomically, under
    the run's lock) as it moves through its states."""

    #: The identity (inode, size, mtime_ns) of the file this manifest was read from, as that file was
    #: then; None once a field is set since (the record then differs from the file). Run.update uses it
    #: to skip reading again a manifest nobody replaced since (records/registry.py). Declared here, not
    #: on RecordModel: a model with a private attribute initialises it in every instance it makes, and
    #: a manifest's nested parts (its state history, attempts, ...) were ~40% of its validation time.
    _file_stamp: tuple[int, int, int] | None = PrivateAttr(default=None)

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: Any) -> None:
            super().__setattr__(name, value)  # a field's name checked and its value validated first
            if not name.startswith("_") and self._file_stamp is not None:
                super().__setattr__("_file_stamp", None)

    schema_version: int = Field(SCHEMA_VERSION, description="The record's schema version (1).")
    clusterrun_version: str = Field("", description="The clusterrun version that created the run.")
    run_id: str = Field("", description="`<name>_<YYYYmmdd-HHMMSS>[-<n>]`, the run directory's name.")
    run_dir: str = Field("", description="The run directory.")
    name: str = Field("", description="The experiment's name.")
    created: str = Field("", description="When the run was created (ISO 8601 with UTC offset).")
    argv: list[str] = Field(default_factory=list, description="The clusterrun command line that made it.")
    python: str = Field("", description="The interpreter clusterrun ran under at submission.")
    config_file: str = Field("", description="The config file, as given.")
    overrides: list[str] = Field(default_factory=list, description="The KEY=VALUE overrides, as given.")
    config_hash: str = Field("", description="Hash of the resolved config: identical runs share it.")
    config: RecordedConfig = Field(default_factory=RecordedConfig, description="The resolved config.")
    seed: int | None = Field(None, description="The seed (also in config).")
    command: list[str] = Field(default_factory=list, description="The job's argv, placeholders filled in.")
    command_line: str = Field("", description="The same as one shell-quoted line.")
    workdir: str = Field(
        "",
        description="The job's working directory: `<run_dir>/work`, its own copy of the snapshot. In "
        "records before 2026-12 it is the snapshot's path (every run ran in the snapshot).",
    )
    workdir_links: dict[str, str] = Field(
        default_factory=dict,
        description="Untracked data linked into the working directory: relative path -> absolute path in "
        "the checkout. Since 2026-12; absent in older records.",
    )
    git: GitRecord = Field(default_factory=GitRecord, description="The code's git state.")
    snapshot: SnapshotRecord = Field(default_factory=SnapshotRecord, description="The code's snapshot.")
    snapshot_notes: list[str] = Field(
        default_factory=list,
        description="What the snapshot lacks that the command names (LFS pointers, untracked paths). "
        "Since 2026-12.",
    )
    data_fingerprints: dict[str, dict[str, Any]] | None = Field(
        None,
        description="`data:` key -> fingerprint of the file or directory it names (value, path, size, "
        "mtime, content hash where cheap), so compare/reproduce name changed data. Since 2026-12; absent "
        "(null) in older records, whose data cannot be compared.",
    )
    resources: dict[str, Any] = Field(
        default_factory=dict,
        description="The resolved resources: partition, time, nodes, tasks_per_node, cpus_per_task, mem, "
        "gpus, gpu_type, account, qos, constraint, exclusive, after, afterok, extra... (see config.md).",
    )
    backend: str = Field("", description="`slurm` or `local`.")
    job_id: str | None = Field(
        None,
        description="The scheduler's job id (`<array>_<index>` for a sweep member); null until submitted.",
    )
    scheduler_folder: str | None = Field(
        None, description="submitit's folder of the job: the run's own `scheduler/`, or its sweep's."
    )
    job_identity: JobIdentity | None = Field(
        None,
        description="The job's cluster, name and submit time (see JobIdentity): with the job id, what "
        "tells the run's job from another that got the same id. Since 2026-12.",
    )
    node: str = Field("", description="The node the job ran on, once known.")
    smoke: SmokeRecord | None = Field(None, description="The smoke test; null until it ran (or was skipped).")
    estimate: EstimateRecord | None = Field(
        None, description="This run's estimate. Absent in the first records (before estimates)."
    )
    confirmation: Confirmation | None = Field(
        None, description="The cost gate's decision, once submitted or declined. Absent in the first records."
    )
    reproduces: str | None = Field(None, description="The run this one reproduces (`clusterrun reproduce`).")
    submitter: dict[str, Any] | None = Field(
        None,
        description="The process that created the run ({host, pid, started}): a run still `created` or "
        "`smoke_passed` whose submitter has ended on this host was interrupted (e.g. killed with SIGKILL); "
        "`status` marks it `interrupted`. Null in records from before 2026-12.",
    )
    sweep: str | None = Field(None, description="The sweep this run is a member of. Only in sweep members.")
    sweep_values: dict[str, Any] = Field(
        default_factory=dict, description="This member's swept values (key -> value). Only in sweep members."
    )
    cancel_requested: CancelRequest | None = Field(
        None, description="Who cancelled it. Only once `clusterrun cancel` was asked to."
    )
    state: str = Field(
        "unknown",
        description="The last known state: preparing (the directory was just made, its records follow), "
        "created, smoke_passed, smoke_failed, interrupted (stopped during the smoke test or before "
        "submission), dry_run, submitting, submit_failed, not_submitted, then the scheduler's "
        "(submitted, pending, running, completed, failed, timeout, out_of_memory, cancelled, ...), or "
        "`lost` (no source knew the job for CLUSTERRUN_LOST_AFTER seconds; see state_source).",
    )
    state_history: list[StateChange] = Field(
        default_factory=list, description="Every state change, oldest first."
    )
    state_source: str = Field(
        "",
        description="The evidence the current scheduler state rests on: `sacct` (accounting), `squeue` "
        "(the controller), `exit.json` (the job's own exit record: no scheduler knew the end), `local`, "
        "`none` (`lost`: no source knew the job), or `sacct-ending` (accounting's end of a job stopped by a "
        "signal, before it recorded the command's memory and CPU time). A state from `exit.json`, `none` or "
        "`sacct-ending` is replaced when a stronger source speaks, and the summary collected again. Since "
        "2026-12.",
    )
    unseen_since: str | None = Field(
        None,
        description="When a refresh first found no evidence of the still active job in any source "
        "(scheduler, exit record, the run's own files); null again once it is seen. After "
        "CLUSTERRUN_LOST_AFTER seconds (default 600) of it the run is `lost`. Since 2026-12.",
    )
    attempts: list[AttemptRecord] = Field(
        default_factory=list,
        description="Every attempt of the job, oldest first (see AttemptRecord): one for a job that ran "
        "once. Since 2026-12; absent in older records and until the job starts.",
    )


# -------------------------------------------------------------------------------------- summary.json


class ArtifactFile(RecordModel):
    path: str = Field("", description="Relative to the run directory.")
    size: int = Field(0, description="In bytes.")


class ArtifactsInfo(RecordModel):
    """What the run created, with sizes."""

    count: int = Field(0, description="How many files.")
    total_bytes: int = Field(0, description="Their total size.")
    files: list[ArtifactFile] = Field(
        default_factory=list, description="Every file when few, else the largest ones."
    )
    truncated: bool = Field(False, description="Whether `files` leaves some out.")


class EfficiencyRecord(RecordModel):
    """Requested against used resources, so the next submission can be right-sized."""

    elapsed_seconds: int | float | None = Field(
        None, description="Wall time used (a job that ran more than once: its attempts added up)."
    )
    requested_seconds: int | float | None = Field(
        None, description="resources.time, in seconds: the limit of each attempt."
    )
    time_efficiency: int | float | None = Field(
        None, description="elapsed / requested; for a job that ran more than once, its longest attempt's."
    )
    longest_attempt_seconds: int | float | None = Field(
        None, description="A job that ran more than once: the wall time of its longest attempt."
    )
    max_rss_mb: int | float | None = Field(None, description="Peak memory used.")
    requested_mem_mb: int | float | None = Field(None, description="resources.mem, in MB.")
    mem_efficiency: int | float | None = Field(None, description="peak / requested.")
    total_cpu_seconds: int | float | None = Field(
        None,
        description="CPU time: sacct's TotalCPU, else the job's own rusage (exit.json); from the same "
        "source as the elapsed time the CPU share divides it by.",
    )
    cpus: int = Field(1, description="CPUs requested (cpus_per_task x nodes).")
    cpu_efficiency: int | float | None = Field(
        None,
        description="CPU time / (elapsed x cpus), both from one source (sacct's TotalCPU and Elapsed, "
        "else exit.json); null for runs shorter than 10 s, too short to measure.",
    )
    cpu_hours_used: int | float = Field(0, description="elapsed x cpus, in hours.")


class LogPaths(RecordModel):
    stdout: str = Field("", description="The command's stdout.")
    stderr: str = Field("", description="The command's stderr.")
    scheduler: list[str] = Field(
        default_factory=list, description="submitit's logs of the job (slurmstepd's messages land there)."
    )
    traceback: str | None = Field(
        None, description="traceback.txt, the Python traceback found in the logs. Only when one was found."
    )


class Summary(RecordModel):
    """`summary.json`: what a run produced, collected once when it ended."""

    schema_version: int = Field(SCHEMA_VERSION, description="The record's schema version (1).")
    run_id: str = Field("", description="The run.")
    run_dir: str = Field("", description="The run directory.")
    state: str = Field("unknown", description="The final state (completed, failed, timeout, ...).")
    success: bool = Field(False, description="Whether the state is `completed`.")
    exit_code: int | None = Field(None, description="The command's exit code, when known.")
    signal: int | None = Field(None, description="The signal that ended it, when the scheduler says so.")
    duration_seconds: int | float | None = Field(None, description="Wall time.")
    node: str = Field("", description="Where it ran.")
    job_id: str | None = Field(None, description="The scheduler's job id.")
    max_rss_mb: int | float | None = Field(
        None,
        description="Peak memory in MB: sacct's MaxRSS, else the job's own (since 2026-12 the larger of its "
        "largest process's peak and its whole process tree's summed, sampled every 0.2 s, then less often).",
    )
    metrics: dict[str, Any] = Field(default_factory=dict, description="The last value of every metric.")
    metrics_non_finite: dict[str, str] = Field(
        default_factory=dict,
        description="Metric -> `nan`, `inf` or `-inf`: its last value was not a number (a training that "
        "diverged, most likely); it is then not in `metrics` (an earlier value is not its last). Only when "
        "there are any; since 2026-12.",
    )
    metrics_best: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Metric name -> its best value over the run: mode (min or max), value, step, final (the "
        "last value), points (how many). Absent in records made before metric histories.",
    )
    metrics_history: dict[str, Any] = Field(
        default_factory=dict,
        description="Where the per-step curves are: format, files (the metrics file, and "
        "stdout_metrics.jsonl from the stdout patterns), step_key, points. Absent in records made before "
        "metric histories.",
    )
    metrics_by_rank: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Rank -> the last value of every metric it logged (rank 0's are `metrics`; rank R's "
        "come from metrics.rank<R>.jsonl and stdout.rank<R>.log). Only with `metrics.ranks: all` and "
        "several ranks; since 2026-12.",
    )
    metrics_across_ranks: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Metric -> min, mean, max over the ranks that logged it, `ranks` (how many), `min_rank` "
        "and `max_rank`. Only with `metrics_by_rank`.",
    )
    artifacts: list[str] = Field(default_factory=list, description="The files in `artifacts_info`, by path.")
    artifacts_info: ArtifactsInfo | None = Field(
        None, description="Counts and sizes of the run's outputs. Since 2026-12; absent in older records."
    )
    efficiency: EfficiencyRecord | None = Field(
        None, description="Requested against used resources. Absent in the first records."
    )
    logs: LogPaths = Field(default_factory=LogPaths, description="Where the logs are.")
    collected_at: str = Field("", description="When this summary was collected.")
    modified_tracked_files: list[str] = Field(
        default_factory=list,
        description="Tracked files the run rewrote in place (the shared snapshot is rebuilt before its next "
        "use). Only when there are any; since 2026-12.",
    )
    caught_error: str = Field(
        "",
        description="A run that exited 0 whose stderr ends with a Python traceback (an error the script "
        "caught and went on from): the exception and where it was raised. Only then; since 2026-12.",
    )
    metrics_missing: list[str] = Field(
        default_factory=list,
        description="The metrics named in `metrics.patterns` that a successful run never printed. Only "
        "when there are any; since 2026-12.",
    )
    leftover_count: int | None = Field(
        None,
        description="How many processes the command left running when it exited (the job wrapper stopped "
        "them, as the scheduler stops a job's processes at its end). Only when there were any; since "
        "2026-12.",
    )
    leftover_processes: list[str] = Field(
        default_factory=list,
        description="The command lines of the first five of those processes. Only when there were any.",
    )
    stderr_tail: list[str] = Field(
        default_factory=list, description="The last lines of stderr. Only on failure."
    )
    diagnosis: DiagnosisRecord | None = Field(None, description="Why it failed and the fix. Only on failure.")
    attempts: list[AttemptRecord] = Field(
        default_factory=list,
        description="The job's attempts, as in the manifest, with why each ended (the scheduler's word where "
        "it kept one). Duration and CPU time are their sum. Only when the job ran more than once.",
    )
    attempt_count: int | None = Field(
        None, description="How many attempts the job took. Only when it ran more than once."
    )


# ---------------------------------------------------------------------------------------- sweep.json


class SweepMember(RecordModel):
    run_id: str = Field("", description="The member's run.")
    values: dict[str, Any] = Field(default_factory=dict, description="Its swept values (key -> value).")


class SkippedMember(RecordModel):
    values: dict[str, Any] = Field(default_factory=dict, description="The values of the member left out.")
    duplicate_of: str = Field("", description="The finished run (or member) it duplicates.")


class ArrayRecord(RecordModel):
    job_id: str = Field("", description="The job array's id.")
    size: int = Field(0, description="How many members it holds.")
    members: list[str] = Field(
        default_factory=list,
        description="The member runs by array task: task i (job `<job_id>_<i>`) runs `members[i]`. "
        "Since issue 11; older sweeps: the members' manifests hold their job ids.",
    )


class SweepRecord(RecordModel):
    """`sweep.json` in `runs/<name>-sweep_<stamp>/`: a sweep, submitted as one job array (or a few)."""

    schema_version: int = Field(SCHEMA_VERSION, description="The record's schema version (1).")
    sweep_id: str = Field("", description="The sweep directory's name.")
    name: str = Field("", description="The experiment's name.")
    created: str = Field("", description="When the sweep was created.")
    argv: list[str] = Field(default_factory=list, description="The clusterrun command line.")
    config_file: str = Field("", description="The config file, as given.")
    overrides: list[str] = Field(default_factory=list, description="The overrides, as given.")
    backend: str = Field("", description="`slurm` or `local`.")
    cluster: str | None = Field(None, description="The cluster profile's name.")
    git: GitRecord = Field(default_factory=GitRecord, description="The code's git state.")
    snapshot: SnapshotRecord = Field(default_factory=SnapshotRecord, description="The code's snapshot.")
    axes: list[str] = Field(default_factory=list, description="The swept keys given with --sweep.")
    sweep: dict[str, Any] | None = Field(None, description="The config's `sweep:` section, if any.")
    metric: str | None = Field(None, description="The metric that ranks members.")
    mode: str | None = Field(
        None,
        description="`min` or `max`: which end of the metric is best; null: from the metric's name (acc, "
        "f1, reward... are maximised, anything else minimised). Records before 2026-12 hold `min` when "
        "the config said nothing.",
    )
    parallelism: int | None = Field(None, description="At most this many members at once (the array's %N).")
    members: list[SweepMember] = Field(default_factory=list, description="The member runs, in order.")
    skipped: list[SkippedMember] = Field(
        default_factory=list, description="Members left out as duplicates of finished runs."
    )
    estimate: EstimateRecord | None = Field(None, description="The whole sweep's estimate.")
    arrays: list[ArrayRecord] = Field(default_factory=list, description="The job arrays, once submitted.")
    submissions: int | None = Field(None, description="How many sbatch calls it took. Once submitted.")
    max_array_size: int | None = Field(None, description="The cluster's MaxArraySize, when it mattered.")
    confirmation: Confirmation | None = Field(None, description="The cost gate's decision.")
    reproduces: str | None = Field(None, description="The sweep this one reproduces. Only in reproductions.")
    state: str = Field(
        "prepared",
        description="preparing (written at once when the sweep is created; a sweep left so was "
        "interrupted before its smoke tests ended), prepared, submitted, not_submitted, or partial (a "
        "later sbatch failed or was interrupted: `arrays` lists the ones accepted).",
    )


# ---------------------------------------------------------------------------------------- notes.jsonl


class Note(RecordModel):
    """One line of `notes.jsonl`: a note or tags added to a run (`clusterrun note`, `submit --tag`).
    Appended, never rewritten; the manifest is not touched. Since 2026-12."""

    at: str = Field("", description="When (ISO 8601 with UTC offset).")
    by: str = Field("", description="The user name.")
    text: str = Field("", description="The note. Absent when the line only adds tags.")
    tags: list[str] = Field(default_factory=list, description="Tags added to the run. Absent when none.")


# ------------------------------------------------------------------------------------------- loading

R = TypeVar("R", bound=RecordModel)

#: Upgrades of record data from one schema version to the next: {version: fn(data) -> data of version+1}.
#: None yet: every record ever written is schema_version 1. To change the layout incompatibly, bump
#: SCHEMA_VERSION, add the upgrade from the previous version here, and golden files under
#: tests/golden/records/v<N>/.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def load(model: type[R], data: Any, where: str) -> R:
    """The record in `data` (parsed JSON) as `model`, from any schema version ever written. `where`
    names it in errors (e.g. 'run X: manifest.json')."""
    if not isinstance(data, Mapping):
        raise DamagedRecord(
            f"{where} is not an object",
            hint="the record was damaged outside clusterrun; restore it from a backup",
        )
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DamagedRecord(
            f"{where} has an invalid schema_version {version!r}",
            hint="the record was damaged outside clusterrun; restore it from a backup",
        )
    if version > SCHEMA_VERSION:
        raise RecordTooNew(
            f"{where} was written by a newer clusterrun (schema_version {version}; this clusterrun reads "
            f"up to {SCHEMA_VERSION})",
            hint="upgrade clusterrun (pip install -U clusterrun) to read it",
        )
    upgraded = dict(data)
    while version < SCHEMA_VERSION:  # pragma: no cover - no older schema version exists yet
        upgraded = UPGRADES[version](upgraded)
        version += 1
    try:
        return model.model_validate(upgraded)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise DamagedRecord(
            f"{where} is damaged: {field}: {first['msg']}"
            + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""),
            hint="the record was changed outside clusterrun; fix that field or restore it from a backup",
        ) from None


def as_manifest(manifest: Manifest | Mapping[str, Any], where: str = "manifest") -> Manifest:
    """A manifest given as a model or as JSON data (for callers that still hold data)."""
    return manifest if isinstance(manifest, Manifest) else load(Manifest, manifest, where)


def as_summary(summary: Summary | Mapping[str, Any], where: str = "summary") -> Summary:
    """A summary given as a model or as JSON data."""
    return summary if isinstance(summary, Summary) else load(Summary, summary, where)


RECORDS: dict[str, type[RecordModel]] = {
    MANIFEST_FILE: Manifest,
    SUMMARY_FILE: Summary,
    SWEEP_FILE: SweepRecord,
}
