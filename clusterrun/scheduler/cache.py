"""A poll cache shared by concurrent `clusterrun status` invocations (a JSON file per backend).

Ten terminals watching the same runs cost the scheduler one query per `max_age` seconds, not ten.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from clusterrun.records.jsonio import read_json, write_json_atomic
from clusterrun.scheduler.base import JobRef, JobStatus, Scheduler

_STATUS_FIELDS = {f.name for f in fields(JobStatus)}


def _load(path: Path) -> tuple[float, dict[str, JobStatus]]:
    try:
        data = read_json(path)
        jobs = {
            k: JobStatus(**{f: v for f, v in rec.items() if f in _STATUS_FIELDS})
            for k, rec in data["jobs"].items()
        }
        return float(data["at"]), jobs
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0.0, {}


def cached_poll(
    scheduler: Scheduler, refs: list[JobRef], cache_file: Path, max_age: float
) -> dict[str, JobStatus]:
    """Answer from the cache when it is fresh and covers every job; else ONE scheduler query."""
    wanted = {r.job_id for r in refs}
    at, jobs = _load(cache_file)
    if wanted and time.time() - at <= max_age and wanted <= set(jobs):
        return {k: jobs[k] for k in wanted}
    result = scheduler.poll(refs)
    merged = {k: v for k, v in jobs.items() if k not in wanted} | result
    if len(merged) > 5000:  # keep the file small: drop the oldest-looking ids
        merged = dict(list(merged.items())[-5000:])
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(cache_file, {"at": time.time(), "jobs": {k: v.as_record() for k, v in merged.items()}})
    return result
