"""Parse and normalise SLURM resource strings (time limits and memory sizes)."""

from __future__ import annotations

import math
import re

TIME_FORMATS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 30, 02:00:00, 1-12:00:00)"
MEM_FORMATS = "a number with an optional unit K, M, G or T (e.g. 500M, 4G, 1.5G; no unit means MB)"

_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?)?\s*$", re.IGNORECASE)
_MEM_FACTOR_MB = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


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
