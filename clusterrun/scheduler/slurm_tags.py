"""Jobs looked up by their tag: the name clusterrun gives every job (the run id, a sweep's id).

What `clusterrun status` asks when a submission was interrupted before its answer was recorded (an
sbatch that timed out, a kill -9): one squeue (jobs the controller holds) and one sacct --name (jobs
accounting knows, also after the controller forgot them) for every tag at once. The job name is
asked, not the comment: sacct keeps comments only with AccountingStoreFlags=job_comment.
"""

from __future__ import annotations

from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler import _proc, _submitit
from clusterrun.scheduler.base import JobRef

#: How far back accounting is searched for a tag (sacct's own default is midnight today).
SACCT_SINCE = "now-30days"
_SEP = "|"


def _rows(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        parts = line.split(_SEP)
        if len(parts) >= fields and parts[0].strip():
            rows.append([p.strip() for p in parts])
    return rows


def find_by_tag(tags: list[str]) -> dict[str, list[JobRef]]:
    """tag -> the jobs under it (one per job or array task; arrays as the scheduler lists them), oldest
    submission first; tags without a job are absent. SchedulerUnavailable when neither squeue nor sacct
    answered (nothing can be said); one that answers is enough."""
    wanted = sorted({t for t in tags if t and "," not in t})
    if not wanted:
        return {}
    names = ",".join(wanted)
    found: dict[str, dict[str, JobRef]] = {}
    answered = 0
    queue = _ask(["squeue", "-h", "-r", "-n", names, "-o", "%i|%j|%V"])
    if queue is not None:
        answered += 1
        for job_id, name, submit in _rows(queue, 3):
            found.setdefault(name, {})[job_id] = JobRef(job_id, "", submit_time=submit, name=name)
    accounting = _ask(
        ["sacct", "-n", "-P", "-X", "-S", SACCT_SINCE, "--name", names, "-o", "JobID,JobName,Submit,Cluster"]
    )
    if accounting is not None:
        answered += 1
        for job_id, name, submit, cluster in _rows(accounting, 4):
            known = found.setdefault(name, {})
            if job_id not in known:
                known[job_id] = JobRef(job_id, "", cluster=cluster, submit_time=submit, name=name)
    if not answered:
        raise SchedulerUnavailable(
            "neither squeue nor sacct answered: jobs of interrupted submissions cannot be looked up",
            hint="check that slurmctld is running ('sinfo'); 'clusterrun status' looks again",
        )
    return {
        tag: sorted(jobs.values(), key=lambda r: (r.submit_time, _number(r.job_id)))
        for tag, jobs in found.items()
        if tag in wanted
    }


def arrays_by_tag(tags: list[str]) -> dict[str, list[str]]:
    """tag -> the submissions (job or array ids) under it, oldest first."""
    return {
        tag: list(dict.fromkeys(_submitit.array_of(r.job_id) for r in refs))
        for tag, refs in find_by_tag(tags).items()
    }


def _number(job_id: str) -> int:
    head = _submitit.array_of(job_id)
    return int(head) if head.isdigit() else 0


def _ask(argv: list[str]) -> str | None:
    try:
        result = _proc.run(argv, timeout=30)
    except SchedulerUnavailable:
        return None
    return result.stdout if result.returncode == 0 else None
