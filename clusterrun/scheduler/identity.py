"""Which of the scheduler's records of a job id is a run's own job.

A job id alone names nothing for long: SLURM's ids wrap after MaxJobId, a second cluster (another
SLURM_CONF) numbers its own jobs from 1, and `sacct` answers for an id with its newest record (another
job's, after a wrap). A run's job is therefore known by its cluster, its name in the scheduler (the run
or sweep id) and the submit time of its first attempt, recorded when sbatch answered. A requeued job
(preemption, node failure, `scontrol requeue`) gets a new record with a newer submit time under the same
id: it stays the run's job as long as the name matches (or, where no name is known, as long as the
record before it ended in a requeue). The first record that is not the run's ends the chain: a job that
took the id afterwards is never the run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from clusterrun.scheduler.base import JobRef, JobStatus

#: How far clocks may differ between this machine and the controller (seconds): munge refuses
#: credentials beyond 300 s, so a working cluster is within this.
SKEW = 300.0
#: Raw end states after which the scheduler runs the same job again under the same id.
REQUEUE_STATES = frozenset({"REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED", "NODE_FAIL"})


def epoch(text: str) -> float | None:
    """'2026-12-02T12:45:24' (the scheduler's local time) -> seconds since the epoch; None if not a time."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp() if text.strip() else None
    except ValueError:
        return None


def to_time(seconds: float) -> str:
    """Seconds since the epoch -> '2026-12-02T12:45:24' in local time (what sacct -S takes)."""
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S")


def _same(a: str, b: str) -> bool:
    """Equal, or one of them unknown."""
    return not a or not b or a == b


def _first_attempt(ref: JobRef, records: list[JobStatus]) -> int | None:
    """Index of the record of the job's first attempt (records oldest first), or None."""
    if ref.submit_time:
        pinned = epoch(ref.submit_time)
        for i, record in enumerate(records):
            if record.submit_time == ref.submit_time or (
                pinned is not None and epoch(record.submit_time) == pinned
            ):
                return i
        return None
    if ref.submitted_after is None:
        return None
    low = ref.submitted_after
    high = ref.submitted_before if ref.submitted_before is not None else low
    best: tuple[float, int] | None = None
    for i, record in enumerate(records):
        at = epoch(record.submit_time)
        if at is None or not _same(ref.name, record.name):
            continue
        distance = max(0.0, low - at, at - high)
        if distance <= SKEW and (best is None or distance < best[0]):
            best = (distance, i)
    return best[1] if best is not None else None


def pick(ref: JobRef, records: Iterable[JobStatus]) -> JobStatus | None:
    """The newest record of `ref`'s own job among the scheduler's records (any ids, any clusters);
    None when every record of its id belongs to other jobs.

    A ref that knows nothing of its job but the id (records written before clusterrun kept more), or
    records without submit times (a backend that keeps none), give the newest record of the id, as sacct
    itself would answer."""
    ours = [r for r in records if r.job_id == ref.job_id and _same(ref.cluster, r.cluster)]
    ours.sort(key=lambda r: epoch(r.submit_time) or 0.0)  # stable: sacct's own order among equals
    if not ours:
        return None
    if (not ref.submit_time and ref.submitted_after is None) or not any(r.submit_time for r in ours):
        return ours[-1]  # nothing to tell jobs apart by (an old record, or a backend without times)
    first = _first_attempt(ref, ours)
    if first is None:
        return _requeued_since(ref, ours)
    chain = ours[first]
    for record in ours[first + 1 :]:
        if ref.name and record.name:
            if record.name != ref.name:
                break
        elif chain.raw_state.split(" ")[0].upper() not in REQUEUE_STATES:
            break
        chain = record
    return chain


def _requeued_since(ref: JobRef, records: list[JobStatus]) -> JobStatus | None:
    """Without the first attempt's record (sacct asked from a later start time, or squeue, which shows
    only the current attempt): a later attempt of the job, known by its name, submitted after the first."""
    pinned = epoch(ref.submit_time) if ref.submit_time else ref.submitted_after
    if not ref.name or pinned is None:
        return None
    later = [
        r
        for r in records
        if r.name == ref.name and (epoch(r.submit_time) or 0.0) >= pinned - (0.0 if ref.submit_time else SKEW)
    ]
    return later[-1] if later else None


def matches(ref: JobRef, status: JobStatus) -> bool:
    """Whether a status (from a cache, or the only record at hand) can be `ref`'s job."""
    return pick(ref, [status]) is status


def earliest(refs: Iterable[JobRef]) -> float | None:
    """The earliest moment any of the jobs can have been submitted (None: some job's time is unknown)."""
    times: list[float] = []
    for ref in refs:
        at = epoch(ref.submit_time) if ref.submit_time else ref.submitted_after
        if at is None:
            return None
        times.append(at)
    return min(times) if times else None
