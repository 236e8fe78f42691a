"""Parse sacct and squeue output into JobStatus records (pure functions, unit-tested)."""

from __future__ import annotations

import re

from clusterrun.scheduler.base import JobStatus

SACCT_FIELDS = ("JobID", "State", "ExitCode", "ElapsedRaw", "NodeList", "Start", "End", "MaxRSS", "TotalCPU")
SQUEUE_FORMAT = "%i|%T|%M|%N"  # with `squeue -r`, one line per array member

_STATE_MAP = {
    "PENDING": "pending",
    "CONFIGURING": "pending",
    "REQUEUED": "pending",
    "REQUEUE_FED": "pending",
    "REQUEUE_HOLD": "pending",
    "RESV_DEL_HOLD": "pending",
    "RUNNING": "running",
    "COMPLETING": "running",
    "RESIZING": "running",
    "STAGE_OUT": "running",
    "SIGNALING": "running",
    "SUSPENDED": "suspended",
    "STOPPED": "suspended",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "BOOT_FAIL": "boot_fail",
    "TIMEOUT": "timeout",
    "DEADLINE": "deadline",
    "CANCELLED": "cancelled",
    "REVOKED": "cancelled",
    "OUT_OF_MEMORY": "out_of_memory",
    "NODE_FAIL": "node_fail",
    "PREEMPTED": "preempted",
    "SPECIAL_EXIT": "failed",
}


def normalise_state(raw: str) -> tuple[str, str]:
    """'CANCELLED by 1000' -> ('cancelled', '1000'); flags -> the first word; unknown words -> 'unknown'."""
    text = raw.strip()
    by = ""
    match = re.match(r"^(\S+)\s+by\s+(\S+)", text)
    if match:
        text, by = match.group(1), match.group(2)
    word = re.split(r"[\s,+]", text, maxsplit=1)[0].upper() if text else ""
    return _STATE_MAP.get(word, "unknown"), by


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """sacct's 'code:signal' -> (code, signal)."""
    match = re.match(r"^\s*(\d+):(\d+)\s*$", text or "")
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(2))


def parse_rss_mb(text: str) -> float | None:
    match = re.match(r"^\s*([\d.]+)\s*([KMGT]?)\s*$", text or "", re.I)
    if not match:
        return None
    factor = {"": 1 / 1024 / 1024, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 * 1024}
    return round(float(match.group(1)) * factor[match.group(2).upper()], 1)


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def expand_array_id(job_id: str) -> list[str]:
    """'123_[0-3,7%2]' -> ['123_0', '123_1', '123_2', '123_3', '123_7']; other ids unchanged."""
    match = re.fullmatch(r"(\d+)_\[([^\]]+)\]", job_id)
    if not match:
        return [job_id]
    base, spec = match.group(1), match.group(2).split("%")[0]
    out: list[str] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            out += [f"{base}_{i}" for i in range(int(low), int(high or low) + 1)]
    return out


def parse_cpu_seconds(text: str) -> float | None:
    """sacct's TotalCPU: [D-][HH:]MM:SS[.mmm] -> seconds."""
    match = re.fullmatch(r"\s*(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*", text or "")
    if not match:
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups()[:3])
    return ((days * 24 + hours) * 60 + minutes) * 60 + float(match.group(4))


def parse_sacct(output: str) -> dict[str, JobStatus]:
    """Parse `sacct -n -P -o <SACCT_FIELDS>`; job lines give the state, step lines give MaxRSS.

    A pending array prints one line for many members (`123_[4-9%2]`): every member gets a status."""
    jobs: dict[str, JobStatus] = {}
    rss: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split("|")
        if len(parts) < len(SACCT_FIELDS):
            continue
        job_id, state, exit_code, elapsed, nodes, start, end, max_rss, total_cpu = parts[: len(SACCT_FIELDS)]
        base, _, step = job_id.partition(".")
        step_rss = parse_rss_mb(max_rss)
        if step_rss is not None:
            rss[base] = max(rss.get(base, 0.0), step_rss)
        if step:
            continue
        normal, by = normalise_state(state)
        code, sig = parse_exit_code(exit_code)
        cpu = parse_cpu_seconds(total_cpu)
        for member in expand_array_id(base):
            jobs[member] = JobStatus(
                job_id=member,
                state=normal,
                raw_state=state.strip(),
                exit_code=code,
                signal=sig,
                elapsed_seconds=_int(elapsed),
                node="" if nodes in ("None assigned", "") else nodes,
                start="" if start in ("Unknown", "None") else start,
                end="" if end in ("Unknown", "None") else end,
                cancelled_by=by,
                source="sacct",
                extra={"total_cpu_seconds": cpu} if cpu is not None else {},
            )
    for base, value in rss.items():
        if base in jobs:
            jobs[base].max_rss_mb = value
    return jobs


def _duration_seconds(text: str) -> int | None:
    """squeue's %M: [days-][hours:]minutes:seconds."""
    match = re.match(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$", text.strip())
    if not match:
        return None
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def parse_squeue(output: str) -> dict[str, JobStatus]:
    jobs: dict[str, JobStatus] = {}
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        job_id, state, elapsed, nodes = parts[:4]
        normal, by = normalise_state(state)
        jobs[job_id] = JobStatus(
            job_id=job_id,
            state=normal,
            raw_state=state,
            elapsed_seconds=_duration_seconds(elapsed),
            node=nodes if not nodes.startswith("(") else "",
            cancelled_by=by,
            source="squeue",
        )
    return jobs
