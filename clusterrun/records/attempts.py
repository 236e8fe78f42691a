"""A requeued run as status and its summary see it: the attempts the job wrapper recorded in the manifest
(execution/attempts.py), read together with the scheduler's word.

- State: PREEMPTED or NODE_FAIL is not the end while the scheduler may still requeue the job (the run
  allows it and attempts remain, and it ended moments ago): the run is `requeued`, as it is while a job
  that already ran waits in the queue again. A job the local backend reports failed after its wrapper
  stopped it at the time limit ended `timeout` (the wrapper's own record says so).
- Summary: the attempts, each with why it ended in the scheduler's word where accounting kept one
  (`sacct --duplicates`: REQUEUED, PREEMPTED, NODE_FAIL), and the duration and CPU time added up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from clusterrun.config.requeue import RequeuePolicy, recorded_policy
from clusterrun.records.models import AttemptRecord, Manifest
from clusterrun.scheduler import JobStatus
from clusterrun.scheduler.slurm_requeue import REQUEUED_EXIT

#: How long after a PREEMPTED or NODE_FAIL end the scheduler is given to queue the job again.
REQUEUE_WINDOW = 120.0
#: A scheduler record matches an attempt when it started at most this long before the attempt's wrapper.
MATCH_SLACK = 300.0
_SCHEDULER_ENDS = {"preempted": "preempted", "node_fail": "node_fail", "cancelled": "cancelled"}


def policy_of(manifest: Manifest) -> RequeuePolicy:
    """The run's `requeue` section; NEVER for records without one (or with a damaged one)."""
    return recorded_policy(manifest.config.requeue)


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.strip()).timestamp() if text.strip() else None
    except ValueError:
        return None


def _requeue_kind(state: str) -> str:
    return "preemption" if state == "preempted" else state


def may_requeue(manifest: Manifest, state: str) -> bool:
    """Whether the scheduler may still run the job again after it ended `state` (preempted, node_fail)."""
    policy = policy_of(manifest)
    return policy.allows(_requeue_kind(state)) and len(manifest.attempts) < policy.max_attempts


def adjust(manifest: Manifest, status: JobStatus, now: float | None = None) -> JobStatus:
    """The scheduler's state of a run's job, read with the run's attempts (see the module's doc)."""
    now = time.time() if now is None else now
    attempts = manifest.attempts
    if status.extra.get("array_range") and attempts:
        # the array's line for its members that had not started when accounting last wrote it (its
        # range stays as submitted): this member's wrapper has started since, so the line is no news of
        # it. CI: after `scancel` of the pending members, that line said CANCELLED for a member that had
        # just started; it was recorded cancelled, `cancel SWEEP` then skipped it, and it ran 10 minutes.
        status.state = "running"
        return status
    if status.state in ("preempted", "node_fail") and may_requeue(manifest, status.state):
        since = _timestamp(status.end) or _last_change(manifest, "requeued") or now
        if now - since < REQUEUE_WINDOW:
            status.state = "requeued"  # the scheduler queues it again moments after (sacct shows it then)
    elif status.state == "pending" and attempts:
        # it ran, and waits to run again; unless accounting has not yet heard that the attempt the
        # wrapper recorded started: a requeued job's pending record is newer than its last attempt
        status.state = "running" if _stale_pending(attempts[-1], status) else "requeued"
    elif status.state == "failed" and attempts and _requeue_in_flight(manifest, status, now):
        # the wrapper requeued the job and exited REQUEUED_EXIT: for a few seconds accounting may show
        # that exit as the job's end (FAILED, 75) before the requeued record comes (found by CI:
        # test_requeue, 'failed' != 'completed'); the job runs again, unless SLURM never requeues it
        status.state = "requeued"
    elif status.state == "failed" and status.source != "sacct" and attempts:
        last = attempts[-1]
        if last.reason in ("time_limit", "preempted") and not last.requeued_by:
            status.state = "timeout" if last.reason == "time_limit" else "preempted"
    return status


def _requeue_in_flight(manifest: Manifest, status: JobStatus, now: float) -> bool:
    """A FAILED record that is the exit of an attempt the wrapper itself requeued, moments ago."""
    last = manifest.attempts[-1]
    if last.requeued_by != "clusterrun" or status.exit_code != REQUEUED_EXIT:
        return False
    ended = _timestamp(last.ended)
    return ended is not None and now - ended < REQUEUE_WINDOW


def _stale_pending(last: AttemptRecord, status: JobStatus) -> bool:
    """Whether a pending record is older than the attempt the wrapper recorded (slurmdbd is seconds
    behind the controller): it was submitted before the attempt started, and the attempt is running, or
    ended as the scheduler never requeues (its command exited, 0 or not, and the wrapper did not requeue
    it). A job queued again has a record submitted at its requeue, after the start. (Under load an array
    member ran and ended before accounting printed a line of its own, and its array's pending line made
    it look requeued: CI, tests/test_array_states.py.)"""
    if last.ended and (last.requeued_by or last.reason not in ("completed", "failed")):
        return False
    submitted, started = _timestamp(status.submit_time), _timestamp(last.started)
    return submitted is not None and started is not None and submitted <= started


def _last_change(manifest: Manifest, state: str) -> float | None:
    history = manifest.state_history
    if history and history[-1].state == state:
        return _timestamp(history[-1].at)
    return None


def progress(manifest: Manifest, state: str) -> tuple[int, int]:
    """(the attempt running or next, max_attempts): (2, 3) for a job requeued after its first attempt;
    (0, 0) for a run that cannot run more than once."""
    policy = policy_of(manifest)
    if not policy.enabled:
        return len(manifest.attempts), 0
    count = len(manifest.attempts)
    if state == "requeued":
        # not running now: the next attempt is the one to come, even before the wrapper of the last one
        # has written its end (it is being stopped, or was killed without a word)
        count += 1
    return count, policy.max_attempts


# --- the summary -----------------------------------------------------------------------------------


def _matching(attempt: AttemptRecord, records: Sequence[JobStatus]) -> JobStatus | None:
    """The scheduler's record of an attempt: the last that started no later than the attempt's wrapper
    (and at most MATCH_SLACK before it)."""
    started = _timestamp(attempt.started)
    if started is None:
        return None
    best = None
    for record in records:
        begun = _timestamp(record.start)
        if begun is not None and started - MATCH_SLACK <= begun <= started + 5:
            best = record
    return best


def with_scheduler_reasons(
    attempts: Sequence[AttemptRecord], history: Sequence[JobStatus], final_state: str
) -> list[AttemptRecord]:
    """Each attempt with why it ended: the scheduler's word for attempts it ended (REQUEUED by hand,
    PREEMPTED, NODE_FAIL), the wrapper's for the others; who requeued each but the last."""
    out = [a.model_copy(deep=True) for a in attempts]
    for index, attempt in enumerate(out):
        last = index == len(out) - 1
        record = _matching(attempt, history)
        word = record.state if record is not None else ""
        requeued = record is not None and record.raw_state.upper().startswith("REQUEUE")
        if word in _SCHEDULER_ENDS and attempt.reason in ("", "terminated"):
            attempt.reason = _SCHEDULER_ENDS[word]
        elif requeued and attempt.reason in ("", "terminated"):
            attempt.reason = "requeued"  # scontrol requeue by hand, or the scheduler's own
        elif last and not attempt.reason:
            attempt.reason = final_state  # killed without a word from the job (a node failure...)
        if not last and not attempt.requeued_by:
            attempt.requeued_by = "scheduler"
        if record is not None and not attempt.node:
            attempt.node = record.node
    return out


def _history(manifest: Manifest, status: Mapping[str, Any]) -> list[JobStatus]:
    """The scheduler's records of this run's job (status["attempt_history"]): those since the run was
    created (an older job that had the same id is not one of its attempts)."""
    created = _timestamp(manifest.created) or 0.0
    out = []
    for item in status.get("attempt_history") or []:
        if not isinstance(item, Mapping):
            continue
        record = JobStatus(**{k: v for k, v in item.items() if k in JobStatus.__dataclass_fields__})
        begun = _timestamp(record.start)
        if begun is None or begun >= created - 60:
            out.append(record)
    return out


#: totals()' key for the wall time of a job's longest attempt (its time limit holds for each attempt)
LONGEST = "longest_attempt_seconds"


def totals(manifest: Manifest, status: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduler's last word with the attempts added up: elapsed_seconds and total_cpu_seconds from
    one source (every accounting record of the job, else the wrapper's own records), and the longest
    attempt's wall time (LONGEST). Unchanged for a job that ran once."""
    history = _history(manifest, status)
    attempts = manifest.attempts
    if len(attempts) <= 1 and len(history) <= 1:
        return dict(status)
    out = dict(status)
    extra = dict(out.get("extra") or {})
    ran = [h for h in history if h.elapsed_seconds is not None and h.start]
    if len(ran) >= len(attempts) and ran:
        out["elapsed_seconds"] = sum(h.elapsed_seconds or 0 for h in ran)
        out[LONGEST] = max(h.elapsed_seconds or 0 for h in ran)
        cpu = [h.extra.get("total_cpu_seconds") for h in ran]
        extra["total_cpu_seconds"] = (
            round(sum(float(c) for c in cpu if c is not None), 3) if all(c is not None for c in cpu) else None
        )
    else:
        seconds = [a.seconds for a in attempts]
        if seconds[-1] is None:  # the last one was killed before it could record its end
            seconds[-1] = status.get("elapsed_seconds")
        out["elapsed_seconds"] = round(sum(float(s or 0) for s in seconds), 3)
        out[LONGEST] = round(max(float(s or 0) for s in seconds), 3)
        cpu_own = [a.cpu_seconds for a in attempts]
        extra["total_cpu_seconds"] = (
            round(sum(float(c) for c in cpu_own if c is not None), 3)
            if all(c is not None for c in cpu_own)
            else None
        )
    out["extra"] = {k: v for k, v in extra.items() if v is not None}
    return out


def summary_fields(manifest: Manifest, status: Mapping[str, Any]) -> dict[str, Any]:
    """`attempts` and `attempt_count` for summary.json when the job ran more than once; else {}."""
    if len(manifest.attempts) <= 1:
        return {}
    history = _history(manifest, status)
    state = str(status.get("state", ""))
    attempts = with_scheduler_reasons(manifest.attempts, history, state)
    return {"attempts": attempts, "attempt_count": len(attempts)}
