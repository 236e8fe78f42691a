"""Parse sacct and squeue output into JobStatus records (pure functions, unit-tested)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from clusterrun.scheduler.base import JobStatus, SharedStrings

SACCT_FIELDS = (
    "JobID",
    "State",
    "ExitCode",
    "ElapsedRaw",
    "NodeList",
    "Start",
    "End",
    "MaxRSS",
    "TotalCPU",
    "Reason",
    "Submit",  # with Cluster and JobName: which job an id is (ids are reused; scheduler/identity.py)
    "Cluster",
    "JobName",  # last: a name may hold the delimiter
)
_REQUIRED = 9  # lines without the trailing Reason (older output, tests' fixtures) still parse
_SUBMIT, _CLUSTER, _NAME = 10, 11, 12
SQUEUE_FORMAT = "%i|%T|%M|%N|%r|%V|%j"  # with `squeue -r`, one line per array member; %j last
REASON_FORMAT = "%i|%r"  # `squeue -h -r -t PENDING`: why each pending job (or array member) waits
#: What sacct says, on either of its streams, where the cluster keeps no accounting.
_DISABLED = re.compile("accounting storage is disabled", re.IGNORECASE)
#: What SLURM says when a job has no reason to give.
NO_REASON = frozenset({"", "none", "(null)", "n/a"})

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


def accounting_disabled(*texts: str) -> bool:
    """Whether sacct's output (its streams, each searched as it is: a lowered copy of the answer for
    10,000 jobs was megabytes more at a big first status's peak) says accounting storage is disabled."""
    return any(_DISABLED.search(text) for text in texts)


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
    """Parse `sacct -n -P -o <SACCT_FIELDS>`: job id -> its newest record (the last line of the id)."""
    return {record.job_id: record for record in parse_sacct_records(output)}


_SHELL_STEPS = frozenset({"batch", "extern"})  # the batch script's shell and SLURM's own: not the command


def _time(text: str) -> str:
    return "" if text.strip() in ("Unknown", "None", "") else text.strip()


def parse_sacct_records(output: str) -> list[JobStatus]:
    """Every record of `sacct -n -P [-D] -o <SACCT_FIELDS>`, in sacct's order; job lines give the state,
    the step lines after a job line give its MaxRSS. With --duplicates an id has one record per job that
    had it (and per attempt of a requeued job): scheduler/identity.py tells which is whose.

    A pending array prints one line for many members (`123_[4-9%2]`): every member gets a record, except
    a member with a line of its own. Accounting keeps that line's range as it was when the array was
    submitted, and prints it after the members that have started since (seen on SLURM 22.05: `1049_1
    COMPLETED`, then `1049_[1-5%6] PENDING`): taken as the member's newest record, a finished member
    looked pending again, and was recorded as requeued.

    The text is read a line at a time, and values that recur (states, nodes, the cluster, an array's
    name and submit time) are one string each, shared by the records: a first status of 10,000 ended
    runs held every line of the answer at once, and eight strings per record."""
    records: list[JobStatus] = []
    own: set[str] = set()  # members with a line of their own
    last: dict[str, JobStatus] = {}  # base id -> its latest job record (its steps follow it)
    same = SharedStrings()  # for the parse's lifetime only
    for line in _lines(output):
        parts = line.split("|")
        if len(parts) < _REQUIRED:
            continue
        job_id, state, exit_code, elapsed, nodes, start, end, max_rss, total_cpu = parts[:_REQUIRED]
        reason = _reason(parts[_REQUIRED]) if len(parts) > _REQUIRED else ""
        base, _, step = job_id.partition(".")
        if step:
            step_rss = parse_rss_mb(max_rss)
            owner = last.get(base)
            if step_rss is not None and owner is not None:
                owner.max_rss_mb = max(owner.max_rss_mb or 0.0, step_rss)
            elif owner is not None and step not in _SHELL_STEPS:
                # a step of the command (submitit's srun) without its usage yet: a job stopped by a signal
                # is recorded ended seconds before its steps' usage is (seen on 22.05: `123.0 CANCELLED`
                # with no MaxRSS and TotalCPU 0 for ~4 s, while `.batch` had 12 MB): read as the job's,
                # that was 'memory 12M, CPU 0%' for a run that had used 800 MB and 22 CPU-seconds
                owner.extra["usage_pending"] = True
            continue
        normal, by = normalise_state(state)
        code, sig = parse_exit_code(exit_code)
        cpu = parse_cpu_seconds(total_cpu)
        members = expand_array_id(base)
        if members == [base]:
            own.add(base)
        for member in members:
            record = JobStatus(
                job_id=member,
                state=normal,
                raw_state=same(state.strip()),
                exit_code=code,
                signal=sig,
                elapsed_seconds=_int(elapsed),
                node="" if nodes in ("None assigned", "") else same(nodes),
                start=_time(start),
                end=_time(end),
                max_rss_mb=parse_rss_mb(max_rss),
                cancelled_by=same(by),
                reason=same(reason),
                source="sacct",
                extra={"total_cpu_seconds": cpu} if cpu is not None else {},
                submit_time=same(_time(parts[_SUBMIT])) if len(parts) > _SUBMIT else "",
                cluster=same(parts[_CLUSTER].strip()) if len(parts) > _CLUSTER else "",
                name=same("|".join(parts[_NAME:]).strip()) if len(parts) > _NAME else "",
            )
            records.append(record)
            last[member] = record
            if member != base:  # made from a pending array's range (records/attempts.adjust reads it too)
                record.extra["array_range"] = True
    return [r for r in records if not r.extra.get("array_range") or r.job_id not in own]


def _lines(text: str) -> Iterator[str]:
    """The lines of a command's output, one at a time (no list of them all), without their ends."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        yield text[start:end].removesuffix("\r")
        start = end + 1


def _duration_seconds(text: str) -> int | None:
    """squeue's %M: [days-][hours:]minutes:seconds."""
    match = re.match(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$", text.strip())
    if not match:
        return None
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def _reason(text: str) -> str:
    """A reason as SLURM prints it ('Priority', '(Resources)') -> 'Priority', 'Resources'; none -> ''."""
    word = text.strip().removeprefix("(").removesuffix(")").strip()
    return "" if word.lower() in NO_REASON else word


def parse_squeue(output: str) -> dict[str, JobStatus]:
    """Parse `squeue -h -r -o <SQUEUE_FORMAT>` (a reason field is optional; '(Reason)' in the node
    field, as %R prints it, is a reason too)."""
    jobs: dict[str, JobStatus] = {}
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        job_id, state, elapsed, nodes = parts[:4]
        normal, by = normalise_state(state)
        reason = _reason(parts[4]) if len(parts) > 4 else ""
        jobs[job_id] = JobStatus(
            job_id=job_id,
            state=normal,
            raw_state=state,
            elapsed_seconds=_duration_seconds(elapsed),
            node=nodes if not nodes.startswith("(") else "",
            cancelled_by=by,
            reason=reason or (_reason(nodes) if nodes.startswith("(") else ""),
            source="squeue",
            submit_time=_time(parts[5]) if len(parts) > 5 else "",
            name="|".join(parts[6:]).strip() if len(parts) > 6 else "",
        )
    return jobs


def parse_reasons(output: str) -> dict[str, str]:
    """Parse `squeue -h -r -o <REASON_FORMAT>`: job id -> why it waits (jobs without a reason left out)."""
    reasons: dict[str, str] = {}
    for line in output.splitlines():
        job_id, sep, text = line.strip().partition("|")
        reason = _reason(text)
        if sep and job_id and reason:
            reasons[job_id] = reason
    return reasons
