"""A run's job as the scheduler knows it: its id, and what tells it from other jobs that had the same id
(cluster, name, submit time; scheduler/identity.py). Taken when the scheduler accepts the job, checked on
every refresh and before a cancel."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun.records.models import JobIdentity, Manifest
from clusterrun.scheduler import JobRef, JobStatus, Submitted
from clusterrun.scheduler.base import SharedStrings


def recorded(submitted: Submitted) -> dict[str, Any]:
    """The manifest fields of a job the scheduler has just accepted (none when it said nothing)."""
    if not (submitted.cluster or submitted.submit_time or submitted.name):
        return {}
    return {
        "job_identity": JobIdentity(
            cluster=submitted.cluster, submit_time=submitted.submit_time, name=submitted.name
        )
    }


def _at(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def submission_window(manifest: Manifest) -> tuple[float | None, float | None]:
    """(when clusterrun began submitting the job, when the scheduler had answered), from the state
    history (the last 'submitting' and the 'submitted' after it); None where the history does not say."""
    after = before = None
    for change in manifest.state_history:
        if change.state == "submitting":
            after, before = _at(change.at), None
        elif change.state == "submitted" and after is not None and before is None:
            moment = _at(change.at)
            before = moment + 1.0 if moment is not None else None  # the history keeps whole seconds
    return after, before


#: the values runs share (a sweep's scheduler folder, its cluster, name and submit time), one string
#: each: a first status of 10,000 members held 10,000 equal copies of each (3 MB), and sent them back
#: from its workers one by one (pickle shares an object, not equal strings)
_shared = SharedStrings(at_most=4096)


def job_ref(manifest: Manifest, folder: Path | str, run_dir: Path | str) -> JobRef:
    """What a poll or a cancel needs to know of the run's job."""
    known = manifest.job_identity or JobIdentity()
    after, before = submission_window(manifest)
    return JobRef(
        str(manifest.job_id),
        _shared(str(folder)),
        str(run_dir),
        cluster=_shared(known.cluster),
        submit_time=_shared(known.submit_time),
        name=_shared(known.name),
        submitted_after=after,
        submitted_before=before,
        started=bool(manifest.attempts),
    )


def pinned(manifest: Manifest, status: JobStatus) -> dict[str, Any]:
    """The identity a refresh learns from the job's first record, when submission could not take it."""
    known = manifest.job_identity
    if (known is not None and known.submit_time) or not status.submit_time:
        return {}
    after, before = submission_window(manifest)
    at = _at(status.submit_time)
    if after is None or at is None:
        return {}
    if not after - 300 <= at <= (before or after) + 300:
        return {}  # a later attempt of a requeued job: its first attempt's time is not this one
    return {
        "job_identity": JobIdentity(
            cluster=status.cluster or (known.cluster if known else ""),
            submit_time=status.submit_time,
            name=status.name or (known.name if known else ""),
        )
    }


def seconds_since(text: str | None) -> float | None:
    """Seconds since an ISO time (None when there is none)."""
    at = _at(text) if text else None
    return None if at is None else time.time() - at
