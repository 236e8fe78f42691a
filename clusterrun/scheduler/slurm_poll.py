"""Asking SLURM about runs' jobs without ever taking another job's record for theirs.

One `sacct --duplicates` for all jobs (every record of their ids since the earliest submission, on the
clusters they went to), then each job gets its own newest record (identity.py); tasks of an array that
have not run yet are first looked for in the controller's queue (`squeue -t PENDING`), and those it
lists as waiting are not asked of accounting (queued_tasks). When accounting does not answer, the
controller's `squeue -t all` (which still knows ended jobs for MinJobAge seconds) is asked instead, and
the answer says so (a warning). The job's identity (cluster, submit time, name) is
read once when sbatch has answered, and checked again before anything is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler import _proc, _submitit, identity, info
from clusterrun.scheduler.base import JobMismatch, JobRef, JobStatus, PollResult
from clusterrun.scheduler.sacct import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    accounting_disabled,
    parse_sacct_records,
    parse_squeue,
)

#: sacct is asked from this many seconds before the earliest submission (clock skew, queueing).
MARGIN = 15 * 60.0
#: Said once per refresh when states come from weaker sources than accounting.
SACCT_DOWN = "sacct unavailable: states from squeue and the job's own records"
IDENTIFY_TIMEOUT = 15.0


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def sacct_argv(refs: list[JobRef], current: str) -> list[str]:
    """One sacct for every job: all records of their ids (--duplicates) since the earliest submission,
    on every cluster they went to (-M only when one is not the current cluster)."""
    argv = ["sacct", "-n", "-P", "-D", "-o", ",".join(SACCT_FIELDS), "-j", query_ids(refs)]
    start = identity.earliest(refs)
    if start is not None:
        argv += ["-S", identity.to_time(start - MARGIN)]
    clusters = {r.cluster for r in refs if r.cluster}
    if clusters - {current}:
        argv += ["-M", ",".join(sorted(clusters | ({current} if current else set())))]
    return argv


def query_ids(refs: list[JobRef]) -> str:
    """The ids sacct is asked for: a job's own, or, for a task of an array that has not run yet, its
    array's (a pending task has no record of its own, only the array's pending range; its array's id
    answers every task of the array). A task that has run is asked for by its own id unless its array is
    asked for anyway: 20 running members of a 10,000-task array read 20 tasks' records, not 10,000."""
    whole = {_submitit.array_of(r.job_id) for r in refs if not (r.started and _is_task(r.job_id))}
    tasks = {r.job_id for r in refs if r.started and _is_task(r.job_id)}
    return ",".join(sorted(whole | {t for t in tasks if _submitit.array_of(t) not in whole}))


def _is_task(job_id: str) -> bool:
    """One task of an array (`123_4`), not a plain job nor a range of tasks."""
    return "_" in job_id and "[" not in job_id


def _pick_all(refs: list[JobRef], records: list[JobStatus]) -> PollResult:
    """Each ref's own record; two refs with one id (a stale run and the job that reused its id): the
    newer job's record is kept under the id, and the older run finds it is not its own."""
    result = PollResult()
    by_id: dict[str, list[JobStatus]] = {}  # pick looks at one id's records: grouped once, not per ref
    for status in records:
        by_id.setdefault(status.job_id, []).append(status)
    for ref in refs:
        record = identity.pick(ref, by_id.get(ref.job_id) or _remainder(ref.job_id, by_id))
        if record is None:
            continue
        held = result.get(ref.job_id)
        newer = (
            (identity.epoch(record.submit_time) or 0) >= (identity.epoch(held.submit_time) or 0)
            if held
            else True
        )
        if newer:
            result[ref.job_id] = record
    return result


def _remainder(job_id: str, by_id: dict[str, list[JobStatus]]) -> list[JobStatus]:
    """A task of an array with no record of its own never started. While it waits, accounting prints the
    array's pending range (`123_[2-3]`: each task's record); once those tasks ended without starting
    (scancel of a sweep whose members wait for sweep.parallelism, or are held), it prints that remainder
    as the array's bare id (`123 CANCELLED`, seen on SLURM 22.05). That record is the task's: without it
    the task stayed 'submitted' forever. Marked as a range's (array_range), so a task that started since
    is not taken for ended by it (records/attempts.adjust)."""
    if not _is_task(job_id):
        return []
    return [
        replace(record, job_id=job_id, extra={**record.extra, "array_range": True})
        for record in by_id.get(_submitit.array_of(job_id), [])
    ]


def poll(refs: list[JobRef], annotate: Callable[[PollResult], object] = lambda _r: None) -> PollResult:
    """States of the given jobs: sacct, else squeue (with a warning); jobs neither knows are left out.
    `annotate` completes sacct's answer (pending jobs' reasons). SchedulerUnavailable when neither answers.

    Tasks of an array that have not run yet, and that the controller lists as pending, take its record
    (queued_tasks) and are not asked of accounting: only its array's id finds them there, and that id
    answers every task of the array, each with its steps. Accounting looks up each job's steps in a query
    of its own, so a sweep of 10,000 members half done cost seconds of slurmdbd per refresh of its
    watchers, for the tasks that ended long ago (bench/RESULTS.md)."""
    if not refs:
        return PollResult()
    current = info.cluster_name()
    queued = queued_tasks(refs, current)
    asked = [r for r in refs if r.job_id not in queued] if queued else refs
    if not asked:  # every job is a task the controller says waits: accounting has nothing newer
        answer = PollResult(queued, asked=[QUEUED_TASKS])
        annotate(answer)
        return answer
    result = _proc.run(sacct_argv(asked, current))
    if result.returncode == 0 and not accounting_disabled(result.stderr, result.stdout):
        records = parse_sacct_records(result.stdout)
        del result  # its records are made: the text (megabytes for 10,000 jobs) is not held on
        for record in records:
            record.cluster = record.cluster or current
        answer = _pick_all(asked, records)
        answer.asked.append("sacct")
        if queued:
            answer.update(queued)
            answer.asked.append(QUEUED_TASKS)
        _requeued_exits(asked, answer, current)
        annotate(answer)
        return answer
    problem = _first_line(result.stderr or result.stdout)
    here = [r for r in refs if not r.cluster or not current or r.cluster == current]
    if not here:  # every job went to another cluster, and only this one's controller can be asked
        raise SchedulerUnavailable(
            f"SLURM did not answer: {problem}",
            hint="showing the last known state; the runs' jobs went to another cluster: select it "
            "(SLURM_CONF) to follow them",
        )
    ids = ",".join(sorted({_submitit.array_of(r.job_id) for r in here}))
    fallback = _proc.run(["squeue", "-h", "-r", "-t", "all", "-o", SQUEUE_FORMAT, "-j", ids])
    if fallback.returncode == 0 or "Invalid job id" in fallback.stderr:  # no job left the queue's memory
        records = list(parse_squeue(fallback.stdout).values()) if fallback.returncode == 0 else []
        for record in records:
            record.cluster = current
        answer = _pick_all(here, records)
        answer.warnings.append(f"{SACCT_DOWN} ({problem})")
        answer.asked += [f"sacct ({problem})", "squeue -t all (the controller's queue)"]
        return answer
    raise SchedulerUnavailable(
        f"SLURM did not answer: {problem}",
        hint="showing the last known state; check 'sinfo' and that slurmctld/slurmdbd are running",
    )


#: How the pending tasks' states were found (PollResult.asked).
QUEUED_TASKS = "squeue (tasks of arrays that have not run yet)"


def queued_tasks(refs: list[JobRef], current: str) -> dict[str, JobStatus]:
    """job id -> the controller's record, for each task of an array that has not run yet (`started`
    False) and that `squeue -t PENDING` lists as this very job (identity.pick: its cluster, submit time
    and name) waiting. One squeue for all their arrays; {} when there are none, or squeue does not answer
    (accounting is then asked for them through their arrays' ids, as before). A task the controller does
    not list as waiting (it started a moment ago, was cancelled while it waited, or the controller has
    forgotten it) is left to accounting."""
    waiting = [
        r
        for r in refs
        if not r.started and _is_task(r.job_id) and (not r.cluster or not current or r.cluster == current)
    ]
    if not waiting:
        return {}
    ids = ",".join(sorted({_submitit.array_of(r.job_id) for r in waiting}))
    try:
        result = _proc.run(["squeue", "-h", "-r", "-t", "PENDING", "-o", SQUEUE_FORMAT, "-j", ids])
    except SchedulerUnavailable:
        return {}
    if result.returncode != 0:
        return {}
    listed = parse_squeue(result.stdout)
    found: dict[str, JobStatus] = {}
    for ref in waiting:
        record = listed.get(ref.job_id)
        if record is None or record.state != "pending":
            continue
        record.cluster = current
        if identity.pick(ref, [record]) is record:
            found[ref.job_id] = record
    return found


def _requeued_exits(refs: list[JobRef], answer: PollResult, current: str) -> None:
    """A job its wrapper requeued exits REQUEUED_EXIT (or is killed by the requeue first); until its next
    attempt may start (SLURM sets a requeued job's begin time in the future: it waits with reason
    BeginTime), accounting can show that end as the job's: FAILED, with 75 or another exit. The
    controller knows better. Jobs accounting shows FAILED (only those: no call otherwise; a run is
    polled until its end is recorded, so a real failure costs one lookup) are looked up in one squeue,
    and a job the controller still lists as pending or running takes that record: it has not ended.
    (CI's 'failed' != 'timeout' in test_requeue was at last traced to the test releasing a requeued job
    in the second of its requeue, whose next run then really failed; this lookup stays, for accounting
    that is behind the controller.)"""
    suspects = [
        ref
        for ref in refs
        if (record := answer.get(ref.job_id)) is not None
        and record.state == "failed"
        and (not ref.cluster or not current or ref.cluster == current)
    ]
    if not suspects:
        return
    ids = ",".join(sorted({_submitit.array_of(r.job_id) for r in suspects}))
    try:
        result = _proc.run(["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "-j", ids])
    except SchedulerUnavailable:
        return  # accounting's word stands: adjust() gives a fresh requeue its window
    if result.returncode != 0:
        return
    queued = list(parse_squeue(result.stdout).values())
    for record in queued:
        record.cluster = current
    for ref in suspects:
        live = identity.pick(ref, queued)
        if live is not None and not live.terminal:
            answer[ref.job_id] = live
    answer.asked.append("squeue (jobs accounting shows FAILED, in case they were requeued)")


def identify(job_id: str) -> tuple[str, str, str]:
    """(cluster, submit time, name) of a job sbatch has just accepted, from the controller; what it does
    not say (it is slow, or gone) stays '' and is taken at the first refresh that finds the job."""
    cluster = info.cluster_name()
    try:
        result = _proc.run(
            ["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "-j", _submitit.array_of(job_id)], IDENTIFY_TIMEOUT
        )
    except SchedulerUnavailable:
        return cluster, "", ""
    if result.returncode != 0:
        return cluster, "", ""
    for record in parse_squeue(result.stdout).values():
        if record.submit_time:
            return cluster, record.submit_time, record.name
    return cluster, "", ""


def verify_cancel(refs: list[JobRef]) -> list[JobRef]:
    """The refs whose job is still theirs and still in the controller's queue (legacy refs, which know
    only the id, are taken as they are). JobMismatch for a job that is another cluster's or another job."""
    current = info.cluster_name()
    for ref in refs:
        if ref.cluster and current and ref.cluster != current:
            raise JobMismatch(
                ref.job_id,
                f"job {ref.job_id} was submitted to cluster {ref.cluster!r}, but SLURM's commands here talk "
                f"to cluster {current!r}: not cancelled",
                hint=f"select cluster {ref.cluster!r} (its SLURM_CONF) and cancel again",
            )
    known = [r for r in refs if r.submit_time or r.submitted_after is not None]
    if not known:
        return refs
    ids = ",".join(sorted({_submitit.array_of(r.job_id) for r in known}))
    result = _proc.run(["squeue", "-h", "-r", "-t", "all", "-o", SQUEUE_FORMAT, "-j", ids])
    if result.returncode != 0 and "Invalid job id" not in result.stderr:
        raise SchedulerUnavailable(
            f"squeue did not answer: {_first_line(result.stderr)}",
            hint="nothing was cancelled; check that slurmctld is running, then cancel again",
        )
    live = parse_squeue(result.stdout) if result.returncode == 0 else {}
    keep = [r for r in refs if r not in known]
    for ref in known:
        status = live.get(ref.job_id)
        if status is None:
            continue  # no longer in the queue: nothing to cancel
        status.cluster = current
        if not identity.matches(ref, status):
            mine = ref.submit_time or "at " + identity.to_time(ref.submitted_after or 0)
            raise JobMismatch(
                ref.job_id,
                f"job {ref.job_id} is now another job ({status.name or 'unnamed'}, submitted "
                f"{status.submit_time or 'at an unknown time'}; this run's was submitted {mine}): "
                "not cancelled",
                hint="the run's own job has ended and its id was reused; 'clusterrun status' shows "
                "what is known of the run",
            )
        if not status.terminal:
            keep.append(ref)
    return keep
