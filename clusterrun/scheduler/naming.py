"""How clusterrun's jobs are named in the scheduler's own tools (squeue, sacct, scancel -n).

A run's job is named after the run id, a sweep's job array after the sweep id, so `squeue` shows
what `clusterrun status` shows and `scancel -n RUN_ID` cancels one run. The job's comment carries the
same id in a form a program can read back: ``clusterrun:<id>`` (site/backends.md, "Job names and
comments"). A job found in the queue whose submission was interrupted is traced to its record by it.
"""

from __future__ import annotations

import re

#: The comment's prefix; what follows it is a run id or a sweep id (a run directory's name).
COMMENT_PREFIX = "clusterrun:"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def job_comment(record_id: str) -> str:
    """The comment of the job of a run (or of a sweep's array): 'clusterrun:<id>'."""
    if not _ID.fullmatch(record_id):
        raise ValueError(f"not a run or sweep id: {record_id!r}")
    return f"{COMMENT_PREFIX}{record_id}"


def id_from_comment(comment: str) -> str | None:
    """The run or sweep id in a job's comment, or None when the job is not clusterrun's.

    'clusterrun:quickstart_20261202-101500' -> 'quickstart_20261202-101500'; '' or 'other' -> None."""
    text = comment.strip()
    if not text.startswith(COMMENT_PREFIX):
        return None
    rest = text[len(COMMENT_PREFIX) :]
    return rest if _ID.fullmatch(rest) else None
