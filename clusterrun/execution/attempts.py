"""The attempts of a run's job, on the job's side: a job that is requeued (preemption, node failure, a
time limit, `scontrol requeue`) runs again as the same job id, in the same run directory and working
directory; each run of it is an attempt, numbered 1, 2, ...

For each attempt the job wrapper (jobrun.py, through this module):
- numbers it: one more than the attempts recorded, or than the scheduler's restart count (a job
  restarted before its wrapper ever started still counts);
- tells the command: CLUSTERRUN_ATTEMPT, and CLUSTERRUN_RESUME=1 from the second attempt on
  (CLUSTERRUN_CHECKPOINT_DIR, the run's checkpoints/, is set by command.sh);
- records it in the manifest (`attempts`) and events.jsonl (job_started / job_ended carry `attempt`),
  with where its part of stdout.log, stderr.log and the metrics file begins; from the second attempt on
  both logs get a line `=== clusterrun: attempt N (node, time) ===`;
- on SIGUSR2, tells a time limit from a preemption's warning and, when `requeue.on` has `timeout` and
  attempts remain, gives the command until `signal_grace` has passed (or the job's end is near), then
  requeues the job through the scheduler layer (jobside.py): SLURM's `scontrol requeue`, the same job id;
- on its last allowed attempt, forbids the scheduler's own requeues (preemption, node failure), so that
  the job ends PREEMPTED or NODE_FAIL instead of running once more than `max_attempts`.

Only the job's first task (rank 0) records attempts and requeues; every task numbers its attempt the
same way and tells its command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.analysis import rowformat
from clusterrun.config.requeue import NEVER, RequeuePolicy, recorded_policy
from clusterrun.config.resources import time_limit_seconds
from clusterrun.errors import ClusterrunError
from clusterrun.execution.supervise import Outcome
from clusterrun.records import jobview
from clusterrun.records.jobview import JobManifest
from clusterrun.records.jsonio import append_jsonl
from clusterrun.records.names import now_iso
from clusterrun.records.paths import file_size
from clusterrun.scheduler.jobside import JobSide

ATTEMPT_VARIABLE = "CLUSTERRUN_ATTEMPT"
RESUME_VARIABLE = "CLUSTERRUN_RESUME"
CHECKPOINTS = "checkpoints"
#: Where a program that ignores $CLUSTERRUN_CHECKPOINT_DIR keeps its checkpoints, relative to its working
#: directory (work/, which a requeued attempt keeps): looked in when checkpoints/ has none.
WORKDIR_CHECKPOINTS = ("work/checkpoints", "work/checkpoint", "work/ckpt", "work/ckpts")
#: Never requeue closer than this to the job's end: the command must be stopped and `scontrol` answer.
END_MARGIN = 10.0
#: A warning whose job ends this much earlier than its time limit is a preemption's (its grace time).
PREEMPT_SLACK = 60.0
#: After a signal, a task on a scheduler that stops the job itself waits at most this long to be stopped.
LINGER_MAX = 1800.0
TAIL_BYTES = 256 * 1024  # of an attempt's part of the metrics file, read for its last step
MAX_SCAN = 10_000  # files looked at for the newest checkpoint
#: An attempt recorded as begun this close before a task's start is the task's own, not an earlier one
#: (its record keeps whole seconds; the tasks of one attempt are started together).
STARTED_SLACK = 1.5


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).astimezone().isoformat(timespec="seconds")


def number(recorded: int, restarts: int) -> int:
    """This attempt's number: after every attempt recorded and every restart the scheduler counted."""
    return max(recorded, restarts) + 1


def warning_reason(started: float, time_limit: float | None, end_time: float | None) -> str:
    """What a SIGUSR2 announces: 'time_limit', or 'preempted' when the scheduler ends the job well
    before its time limit (a preemption's grace time)."""
    if end_time is None or not time_limit:
        return "time_limit"
    return "preempted" if end_time < started + time_limit - PREEMPT_SLACK else "time_limit"


def stop_deadline(now: float, grace: float, job_end: float) -> float:
    """By when the command must have stopped: `grace` after the warning, and never later than END_MARGIN
    before the job's end (the warning may come late: SLURM checks time limits every ~30 s)."""
    return max(now, min(now + grace, job_end - END_MARGIN))


def _earlier_attempts(recorded: list[dict[str, Any]]) -> int:
    """The recorded attempts that began before this task's process: earlier attempts of the job. The
    lead's record of this very attempt may be there already, even ended (a short command; a task slow to
    read the manifest), but it began with this task: all tasks of an attempt start together. Records keep
    whole seconds; an earlier attempt began at least its own run and the restart before this one."""
    began = portable.process_identity()["started"] or time.time()
    starts = (_timestamp(str(a.get("started") or "")) for a in recorded)
    return sum(1 for at in starts if at is None or at < began - STARTED_SLACK)


def _number(attempt: dict[str, Any]) -> int:
    """A recorded attempt's number (AttemptRecord.attempt, 1 when absent)."""
    value = attempt.get("attempt", 1)
    return value if isinstance(value, int) else 1


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def delimiter(attempt: int, node: str, at: float) -> str:
    return f"=== clusterrun: attempt {attempt} ({node}, {_iso(at)}) ===\n"


def last_step(path: Path, offset: int, key: str = "step") -> int | float | None:
    """The last `key` value logged to a JSON-lines file (or a table: analysis/rowformat.py) past
    `offset` (this attempt's part)."""
    size = file_size(path)
    if size <= offset:
        return None
    start = max(offset, size - TAIL_BYTES)
    try:
        with open(path, "rb") as handle:
            parse = rowformat.parser(path, handle)
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    if start > offset and lines:  # read from inside a line: not a whole row
        lines = lines[1:]
    for line in reversed(lines):
        for record in parse(line):
            value = record.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
    return None


def last_checkpoint(root: Path) -> dict[str, Any] | None:
    """The newest file in the run's checkpoints/ ($CLUSTERRUN_CHECKPOINT_DIR), else in a checkpoints
    folder of its working directory (WORKDIR_CHECKPOINTS): {path (relative to the run), size, at}; None
    if none."""
    for folder in (CHECKPOINTS, *WORKDIR_CHECKPOINTS):
        found = _newest_file(root, folder)
        if found is not None:
            return found
    return None


def _newest_file(root: Path, folder: str) -> dict[str, Any] | None:
    newest: tuple[float, Path, int] | None = None
    seen = 0
    for directory, _dirs, files in os.walk(root / folder):
        for name in files:
            seen += 1
            if seen > MAX_SCAN:
                break
            path = Path(directory) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            if newest is None or stat.st_mtime > newest[0]:
                newest = (stat.st_mtime, path, stat.st_size)
    if newest is None:
        return None
    mtime, path, size = newest
    return {"path": str(path.relative_to(root)), "size": size, "at": _iso(mtime)}


@dataclass
class Attempt:
    """One attempt of the job, as its wrapper runs it."""

    root: Path
    side: JobSide
    number: int
    node: str
    started: float
    lead: bool  # the job's first task: records attempts and requeues
    policy: RequeuePolicy = NEVER
    time_limit: float | None = None
    metrics_file: Path | None = None
    step_key: str = "step"
    offsets: dict[str, int] = field(default_factory=dict)
    warning: str = ""  # what SIGUSR2 announced: time_limit or preempted
    planned: bool = False  # requeue once the command stopped (a time limit, attempts left)

    # --- start --------------------------------------------------------------------------------------

    @classmethod
    def begin(cls, root: Path, side: JobSide, node: str, lead: bool = True) -> Attempt:
        """Number this attempt and, as the lead task, record its start."""
        # missing, damaged or from a newer clusterrun: runs once, unrecorded
        manifest = jobview.read(root)
        recorded = manifest.attempts if manifest is not None else []
        # the lead counts every attempt it recorded. Another task may find the lead's record of this
        # attempt already there, even ended (a short command, a task slow to start): where the scheduler
        # counts restarts, that count alone numbers it, the same for every task; else the attempts that
        # began before this task did
        if lead:
            attempt_number = number(len(recorded), side.restarts)
        elif side.counts_restarts:
            attempt_number = side.restarts + 1
        else:
            attempt_number = number(_earlier_attempts(recorded), side.restarts)
        attempt = cls(root, side, attempt_number, node, time.time(), lead)
        if manifest is not None:
            attempt._configure(manifest)
        if lead and manifest is not None:
            attempt._record_start(recorded)
        return attempt

    def _configure(self, manifest: JobManifest) -> None:
        self.policy = recorded_policy(manifest.requeue)
        limit = time_limit_seconds(manifest.resources)
        if limit is not None:
            self.time_limit = float(limit)
        self.metrics_file = self.root / manifest.metrics_file
        step_metric = manifest.estimate.get("step_metric")
        if isinstance(step_metric, str):
            self.step_key = step_metric

    def _record_start(self, recorded: list[dict[str, Any]]) -> None:
        logs = {"stdout.log": self.root / "stdout.log", "stderr.log": self.root / "stderr.log"}
        if self.metrics_file is not None:
            logs[str(self.metrics_file.relative_to(self.root))] = self.metrics_file
        self.offsets = {name: file_size(path) for name, path in logs.items()}
        start = {
            "attempt": self.number,
            "job_id": self.side.job_id,
            "node": self.node,
            "started": _iso(self.started),
            "offsets": self.offsets,
        }
        self._write([*(a for a in recorded if _number(a) != self.number), start])
        last = self.policy.enabled and self.number >= self.policy.max_attempts
        if last and {"preemption", "node_fail"} & set(self.policy.on):
            problem = self.side.set_requeueable(False)  # the last one: the scheduler may not requeue it
            self.event("requeue_disabled", attempt=self.number, problem=problem or None)

    def environ(self, base: dict[str, str]) -> dict[str, str]:
        """The command's environment: `base` and the attempt."""
        resume = "1" if self.number > 1 else "0"
        return {**base, ATTEMPT_VARIABLE: str(self.number), RESUME_VARIABLE: resume}

    def mark_logs(self, *handles: Any) -> None:
        """From the second attempt on, a line that starts this attempt's part of each log."""
        if self.number <= 1:
            return
        line = delimiter(self.number, self.node, self.started).encode()
        for handle in handles:
            with contextlib.suppress(OSError):
                handle.write((b"\n" if _ends_unfinished(handle) else b"") + line)
                handle.flush()

    # --- while the command runs ----------------------------------------------------------------------

    def on_warning(self, now: float) -> float | None:
        """SIGUSR2 came: by when the command must stop (a requeue is planned), or None (it runs on)."""
        end_time = self.side.end_time()
        self.warning = warning_reason(self.started, self.time_limit, end_time)
        self.planned = (
            self.lead
            and self.warning == "time_limit"
            and self.policy.allows("timeout")
            and self.number < self.policy.max_attempts
            and self.side.can_requeue
        )
        job_end = end_time or (
            self.started + self.time_limit if self.time_limit else now + self.policy.signal_grace
        )
        self.event(
            "signal",
            signal="SIGUSR2",
            sent=f"SIG{self.policy.signal}",  # what the command was sent for it (requeue.signal)
            attempt=self.number,
            means=self.warning,
            requeue=self.planned,
            job_end=_iso(job_end),
        )
        if not self.planned:
            return None
        return stop_deadline(now, float(self.policy.signal_grace), job_end)

    def on_signal(self, name: str) -> None:
        if name != "SIGUSR2":
            self.event("signal", signal=name, attempt=self.number)

    # --- end -----------------------------------------------------------------------------------------

    def reason(self, outcome: Outcome) -> str:
        """Why the attempt ended, as far as the job can tell."""
        if outcome.terminated_at is not None:
            return "terminated"  # a cancel, a requeue, a preemption or the limit itself: the scheduler knows
        if outcome.returncode == 0:
            return "completed"  # exit 0 means done, even after a warning
        if outcome.warned_at is not None:
            return self.warning or "time_limit"
        return "failed"

    def finish(self, outcome: Outcome, exit_record: dict[str, Any]) -> str:
        """Record the attempt's end (the lead task); returns why it ended."""
        reason = self.reason(outcome)
        exit_record.update(
            attempt=self.number, reason=reason, requeued=self.planned and reason == "time_limit"
        )
        if not self.lead:
            return reason
        ended: dict[str, Any] = {  # an AttemptRecord's fields (records/models.py)
            "attempt": self.number,
            "job_id": self.side.job_id,
            "node": self.node,
            "started": _iso(self.started),
            "ended": _iso(float(exit_record.get("ended") or time.time())),
            "seconds": exit_record.get("seconds"),
            "returncode": outcome.returncode,
            "reason": reason,
            "cpu_seconds": exit_record.get("cpu_seconds"),
            "peak_rss_mb": exit_record.get("peak_rss_mb"),
            "offsets": self.offsets,
            "last_step": last_step(
                self.metrics_file, self.offsets.get(self._metrics_name(), 0), self.step_key
            )
            if self.metrics_file is not None
            else None,
            "checkpoint": last_checkpoint(self.root),
        }
        if outcome.signals:
            ended["signals"] = list(dict.fromkeys(outcome.signals))
        if exit_record["requeued"]:
            ended["requeued_by"] = "clusterrun"
        manifest = jobview.read(self.root)
        if manifest is None:
            return reason
        others = [a for a in manifest.attempts if _number(a) != self.number]
        self._write(sorted([*others, ended], key=_number))
        return reason

    def _metrics_name(self) -> str:
        return str(self.metrics_file.relative_to(self.root)) if self.metrics_file is not None else ""

    def requeue(self) -> int | None:
        """Make the job run again (a planned requeue): the exit status to end with; None if it failed."""
        try:
            code = self.side.requeue()
        except ClusterrunError as exc:
            self.event("requeue_failed", attempt=self.number, error=exc.message)
            return None
        self.event("requeued", attempt=self.number, by="clusterrun", next_attempt=self.number + 1)
        return code

    def linger(self) -> None:
        """After a signal, on a scheduler that stops the job itself (SLURM): wait to be stopped, so that
        its verdict stands (TIMEOUT, PREEMPTED, REQUEUED, CANCELLED) and not the command's exit, and a
        task that ended early does not take the others down (srun --kill-on-bad-exit) before the lead
        task requeued the job."""
        if not self.side.signals_every_process:
            return
        ignore = {
            s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)
        }
        try:
            end = self.side.end_time() or (self.started + (self.time_limit or 0))
            until = time.time() + min(LINGER_MAX, max(60.0, end - time.time() + 120.0))
            while time.time() < until:
                time.sleep(1.0)
        finally:
            for signum, handler in ignore.items():
                signal.signal(signum, handler)

    # --- records -------------------------------------------------------------------------------------

    def _write(self, attempts: list[dict[str, Any]]) -> None:
        try:
            jobview.write_attempts(self.root, attempts)
        except ClusterrunError as exc:  # a damaged manifest must not stop the job: events keep it
            self.event("attempt_not_recorded", attempt=self.number, error=exc.message)

    def event(self, kind: str, **data: Any) -> None:
        if self.lead:
            append_jsonl(self.root / "events.jsonl", {"at": now_iso(), "event": kind, **data})


def _ends_unfinished(handle: Any) -> bool:
    """Whether the file behind `handle` ends without a newline (a line the last attempt left unfinished)."""
    try:
        name = handle.name
        size = os.path.getsize(name)
        if not size:
            return False
        with open(name, "rb") as reader:
            reader.seek(size - 1)
            return reader.read(1) != b"\n"
    except (OSError, AttributeError, TypeError):
        return False


class EarlyWarning:
    """SIGUSR2 from the wrapper's start until the command runs: SLURM may send it up to a minute before
    `signal_grace`, so it can come first. Kept here for supervise(), which acts on it once the command
    started. Installing it also replaces submitit's own SIGUSR2 handler (which would requeue the job
    itself, or restart a local one): clusterrun's wrapper decides. It stays installed after the wrapper
    returns, while submitit writes its result, so that no late signal requeues a finished job."""

    def __init__(self) -> None:
        self.at: float | None = None

    @classmethod
    def install(cls) -> EarlyWarning:
        early = cls()
        signal.signal(signal.SIGUSR2, early.received)
        return early

    def received(self, _signum: int, _frame: Any) -> None:
        if self.at is None:
            self.at = time.time()
