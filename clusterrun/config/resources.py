"""Parse and normalise SLURM resource strings (time limits and memory sizes)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

TIME_FORMATS = (
    "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 30, 02:00:00, 1-12:00:00), or with units "
    "(90m, 2h, 1.5h, 1d12h)"
)
#: Seconds in a unit of a duration as people write one (`--since 2h`, `--older-than 1d`, `time: 90m`).
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: One number and its unit: what --since and --older-than take.
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
#: A time limit with units: 90m, 2h, 1.5h, 1d12h, 45s (recorded as SLURM's HH:MM:SS).
_TIME_UNITS = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)", re.IGNORECASE)
MEM_FORMATS = "a number with an optional unit K, M, G or T (e.g. 500M, 4G, 1.5G; no unit means MB)"

_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?)?\s*$", re.IGNORECASE)
_MEM_FACTOR_MB = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


def duration_seconds(text: str) -> float | None:
    """'90m', '2h', '3d', '1w', '45s' (one number, one unit) -> seconds; None for anything else."""
    match = _DURATION.fullmatch(text or "")
    return float(match.group(1)) * DURATION_UNITS[match.group(2)] if match else None


def _with_units(text: str, bad: ValueError) -> int:
    """'1d12h' -> 129600 seconds; a fraction rounds up to a whole second."""
    compact = text.replace(" ", "")
    if _TIME_UNITS.sub("", compact) != "":
        raise bad
    total = sum(float(n) * DURATION_UNITS[u.lower()[0]] for n, u in _TIME_UNITS.findall(compact))
    if total <= 0:
        raise ValueError(f"time must be positive, got {text!r}")
    return math.ceil(total)


def time_limit_seconds(resources: Mapping[str, Any] | None) -> int | None:
    """The time limit a resources mapping (a manifest's or a config's) gives, in seconds; None when it
    gives none, or one that does not parse (an old or hand-edited record)."""
    try:
        return parse_time_seconds(str((resources or {}).get("time") or ""))
    except ValueError:
        return None


def parse_time_seconds(value: str | int) -> int:
    """Return a SLURM time limit in seconds; raise ValueError with the accepted formats."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time limit; use {TIME_FORMATS}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"time must be positive, got {value}")
        return value * 60
    text = str(value).strip()
    bad = ValueError(f"{text!r} is not a time limit; use {TIME_FORMATS}")
    if text and text[-1:].isalpha():
        return _with_units(text, bad)
    day_part, dash, rest = text.rpartition("-")
    if dash and not day_part.isdigit():
        raise bad
    parts = rest.split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise bad
    nums = [int(p) for p in parts]
    if dash:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = [*nums, 0, 0][:3]
        limits = [("hours", hours, 23), ("minutes", minutes, 59), ("seconds", seconds, 59)]
    elif len(nums) == 3:  # HH:MM:SS
        hours, minutes, seconds = nums
        limits = [("minutes", minutes, 59), ("seconds", seconds, 59)]
    else:  # MM or MM:SS
        hours, minutes, seconds = 0, nums[0], (nums[1] if len(nums) == 2 else 0)
        limits = [("seconds", seconds, 59)]
    for label, number, top in limits:
        if number > top:
            raise ValueError(f"{text!r}: {label} must be 0-{top}; use {TIME_FORMATS}")
    days = int(day_part) if dash else 0
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ValueError(f"time must be positive, got {text!r}")
    return total


def format_seconds(seconds: float) -> str:
    """Format seconds as SLURM's [D-]HH:MM:SS."""
    total = max(0, round(seconds))
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    core = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{core}" if days else core


def parse_mem_mb(value: str | int | float) -> int:
    """Return a memory size in MB (SLURM's unit when none is given); raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a memory size; use {MEM_FORMATS}")
    match = _MEM_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a memory size; use {MEM_FORMATS}")
    amount = float(match.group(1)) * _MEM_FACTOR_MB[(match.group(2) or "").upper()]
    mb = math.ceil(amount)
    if mb <= 0:
        raise ValueError(f"memory must be positive, got {value!r}")
    return mb


def format_mem_mb(mb: int) -> str:
    """The shortest exact SLURM spelling of a size in MB: 4G rather than 4096M."""
    if mb % (1024 * 1024) == 0:
        return f"{mb // (1024 * 1024)}T"
    if mb % 1024 == 0:
        return f"{mb // 1024}G"
    return f"{mb}M"


def round_mem_mb(mb: float) -> int:
    """Round up to a sensible unit: 100M below 1G, whole G below 64G, 8G above."""
    if mb <= 1000:
        return max(100, math.ceil(mb / 100) * 100)
    if mb <= 64 * 1024:
        return math.ceil(mb / 1024) * 1024
    return math.ceil(mb / 8192) * 8192


def round_seconds(seconds: float) -> int:
    """Round up to whole minutes below 10 min, 5 min below 2 h, 30 min above."""
    step = 60 if seconds <= 600 else 300 if seconds <= 7200 else 1800
    return max(60, math.ceil(seconds / step) * step)


# --- GPUs and the rest of sbatch -------------------------------------------------------------------

GPU_FORMATS = "a count (2) or a type and a count (a100:2)"
_GPU_RE = re.compile(r"^\s*(?:([A-Za-z0-9_.-]+):)?(\d+)\s*$")
#: What `mail_type` accepts (sbatch --mail-type), comma-separated.
MAIL_TYPES = frozenset(
    {
        "NONE",
        "BEGIN",
        "END",
        "FAIL",
        "REQUEUE",
        "ALL",
        "INVALID_DEPEND",
        "STAGE_OUT",
        "TIME_LIMIT",
        "TIME_LIMIT_90",
        "TIME_LIMIT_80",
        "TIME_LIMIT_50",
        "ARRAY_TASKS",
    }
)
#: sbatch options clusterrun sets itself, or that have their own key: `resources.extra` refuses them
#: with the key to use instead.
OWNED_SBATCH_OPTIONS: dict[str, str] = {
    "output": "clusterrun writes the job's logs into the run directory",
    "error": "clusterrun writes the job's logs into the run directory",
    "input": "a job reads no standard input",
    "open-mode": "clusterrun appends to its logs (attempts are kept)",
    "chdir": "the job runs in the run's own working directory",
    "job-name": "clusterrun names the job after the run",
    "comment": "clusterrun writes the run id into the job's comment",
    "array": "sweeps are job arrays: use sweep: (and sweep.parallelism for %N)",
    "wrap": "the command is the config's command",
    "parsable": "clusterrun reads sbatch's answer itself",
    "wait": "use clusterrun submit --wait",
    "test-only": "use clusterrun submit --dry-run",
    "signal": "clusterrun asks for the time-limit signal itself",
    "requeue": "requeueing is clusterrun's (see the requeue: section)",
    "no-requeue": "requeueing is clusterrun's (see the requeue: section)",
    "export": "use env: (the job inherits your shell's environment)",
    "export-file": "use env: (the job inherits your shell's environment)",
    "get-user-env": "use env: or setup:",
    "uid": "jobs run as you",
    "gid": "jobs run as you",
    "help": "not an option for a job",
    "usage": "not an option for a job",
    "version": "not an option for a job",
    "quiet": "clusterrun reads sbatch's messages",
    "verbose": "clusterrun reads sbatch's messages",
    "partition": "use resources.partition",
    "time": "use resources.time",
    "nodes": "use resources.nodes",
    "ntasks": "use resources.nodes and resources.tasks_per_node",
    "ntasks-per-node": "use resources.tasks_per_node",
    "cpus-per-task": "use resources.cpus_per_task",
    "mem": "use resources.mem",
    "mem-per-cpu": "use resources.mem (per node)",
    "mem-per-gpu": "use resources.mem (per node)",
    "gpus": "use resources.gpus (per node) or resources.gpus_per_task",
    "gpus-per-node": "use resources.gpus (per node), e.g. gpus: a100:2",
    "gpus-per-task": "use resources.gpus_per_task",
    "account": "use resources.account",
    "qos": "use resources.qos",
    "constraint": "use resources.constraint",
    "exclusive": "use resources.exclusive",
    "reservation": "use resources.reservation",
    "dependency": "use resources.after / resources.afterok (or submit --after / --afterok RUN_ID)",
    "mail-type": "use resources.mail_type",
    "mail-user": "use resources.mail_user",
}
#: Other sbatch options (SLURM 22.05 to 24.x) that `resources.extra` passes through, quoted.
EXTRA_SBATCH_OPTIONS = frozenset(
    {
        "acctg-freq",
        "batch",
        "bb",
        "bbf",
        "begin",
        "cluster-constraint",
        "clusters",
        "container",
        "container-id",
        "contiguous",
        "core-spec",
        "cores-per-socket",
        "cpu-freq",
        "cpus-per-gpu",
        "deadline",
        "delay-boot",
        "distribution",
        "exclude",
        "extra",
        "extra-node-info",
        "gpu-bind",
        "gpu-freq",
        "gpus-per-socket",
        "gres",
        "gres-flags",
        "hint",
        "hold",
        "ignore-pbs",
        "kill-on-invalid-dep",
        "licenses",
        "mcs-label",
        "mem-bind",
        "mincpus",
        "network",
        "nice",
        "no-kill",
        "nodefile",
        "nodelist",
        "ntasks-per-core",
        "ntasks-per-gpu",
        "ntasks-per-socket",
        "overcommit",
        "oversubscribe",
        "power",
        "prefer",
        "priority",
        "profile",
        "propagate",
        "reboot",
        "resv-ports",
        "segment",
        "sockets-per-node",
        "spread-job",
        "switches",
        "thread-spec",
        "threads-per-core",
        "time-min",
        "tmp",
        "tres-bind",
        "tres-per-task",
        "use-min-nodes",
        "wait-all-nodes",
        "wckey",
    }
)


def parse_gpus(value: str | int) -> tuple[str | None, int]:
    """A GPU request: 2 -> (None, 2); 'a100:2' -> ('a100', 2); raise ValueError with the formats."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a GPU request; use {GPU_FORMATS}")
    match = _GPU_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a GPU request; use {GPU_FORMATS}")
    return match.group(1), int(match.group(2))


def sbatch_option(key: str) -> str:
    """A `resources.extra` key as sbatch spells it ('mem_bind' -> 'mem-bind'); ValueError when the key is
    owned by clusterrun (with the key to use) or is not an sbatch option (with the closest one)."""
    name = key.strip().removeprefix("--").replace("_", "-").lower()
    if name in OWNED_SBATCH_OPTIONS:
        raise ValueError(f"{key!r} is not passed through: {OWNED_SBATCH_OPTIONS[name]}")
    if name not in EXTRA_SBATCH_OPTIONS:
        close = difflib.get_close_matches(name, sorted(EXTRA_SBATCH_OPTIONS | set(OWNED_SBATCH_OPTIONS)), 1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"{key!r} is not an sbatch option clusterrun knows; {guess}give the long option name without "
            "'--' (e.g. exclude: node07), as 'sbatch --help' lists it"
        )
    return name
