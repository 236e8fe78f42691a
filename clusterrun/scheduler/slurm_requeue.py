"""SLURM's side of requeues: what a job asks about itself (its end time), requeueing it (`scontrol
requeue`, the same job id), allowing or forbidding SLURM's own requeues, and the accounting records of
every attempt of a job (`sacct --duplicates`: one record per run of a requeued job)."""

from __future__ import annotations

from datetime import datetime

from clusterrun.errors import SchedulerError
from clusterrun.scheduler import _proc
from clusterrun.scheduler.base import JobStatus
from clusterrun.scheduler.sacct import normalise_state, parse_cpu_seconds

#: The exit status of the job wrapper once it requeued its job (EX_TEMPFAIL): SLURM records the attempt
#: as REQUEUED whatever it is; it only shows in submitit's log.
REQUEUED_EXIT = 75
HISTORY_FIELDS = ("JobID", "State", "Start", "End", "NodeList", "ElapsedRaw", "TotalCPU")


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def _timestamp(text: str) -> float | None:
    """SLURM's local 'YYYY-MM-DDTHH:MM:SS' -> Unix time; None for Unknown, N/A, NONE."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def end_time(job_id: str) -> float | None:
    """When SLURM will stop the job: its time limit, or the end of a preemption's grace time."""
    result = _proc.run(["squeue", "-h", "-j", job_id, "-o", "%e"], timeout=20)
    if result.returncode != 0:
        return None
    return _timestamp(result.stdout.strip().splitlines()[0] if result.stdout.strip() else "")


def requeue(job_id: str) -> int:
    """`scontrol requeue JOB`: SLURM stops the job and queues it again under the same id."""
    result = _proc.run(["scontrol", "requeue", job_id], timeout=30)
    if result.returncode != 0:
        raise SchedulerError(f"scontrol requeue {job_id} failed: {_first_line(result.stderr)}")
    return REQUEUED_EXIT


def set_requeueable(job_id: str, allowed: bool) -> None:
    """`scontrol update JobId=JOB Requeue=0|1`: whether SLURM may requeue it after a preemption or a
    node failure (a job that may not is ended PREEMPTED or NODE_FAIL instead)."""
    result = _proc.run(["scontrol", "update", f"JobId={job_id}", f"Requeue={int(allowed)}"], timeout=30)
    if result.returncode != 0:
        raise SchedulerError(f"scontrol update {job_id} Requeue={int(allowed)}: {_first_line(result.stderr)}")


def parse_history(output: str) -> dict[str, list[JobStatus]]:
    """`sacct -D -n -P -o HISTORY_FIELDS`: every record of each job (a requeued job has one per run,
    oldest first: REQUEUED, PREEMPTED, NODE_FAIL..., then the current one); step lines are skipped."""
    found: dict[str, list[JobStatus]] = {}
    for line in output.splitlines():
        parts = line.split("|")
        if len(parts) < len(HISTORY_FIELDS) or "." in parts[0]:
            continue
        job_id, state, start, end, nodes, elapsed, cpu = parts[: len(HISTORY_FIELDS)]
        normal, by = normalise_state(state)
        seconds = parse_cpu_seconds(cpu)
        found.setdefault(job_id, []).append(
            JobStatus(
                job_id=job_id,
                state=normal,
                raw_state=state.strip(),
                elapsed_seconds=int(elapsed) if elapsed.strip().isdigit() else None,
                node="" if nodes in ("None assigned", "") else nodes,
                start="" if start in ("Unknown", "None") else start,
                end="" if end in ("Unknown", "None") else end,
                cancelled_by=by,
                source="sacct",
                extra={"total_cpu_seconds": seconds} if seconds is not None else {},
            )
        )
    for records in found.values():
        records.sort(key=lambda r: r.start or "9999")  # pending (no start yet) last
    return found


def history(job_ids: list[str]) -> dict[str, list[JobStatus]]:
    """Every accounting record of the given jobs, in one sacct call; {} when accounting does not answer."""
    if not job_ids:
        return {}
    result = _proc.run(
        ["sacct", "-D", "-n", "-P", "-o", ",".join(HISTORY_FIELDS), "-j", ",".join(sorted(set(job_ids)))]
    )
    return parse_history(result.stdout) if result.returncode == 0 else {}
