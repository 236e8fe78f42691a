"""Read metrics a run produced: a JSON-lines file the job writes, and regexes over its stdout."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterrun.records.paths import open_nofollow, read_text, readable_run_file

MAX_LOG_BYTES = 64 * 1024 * 1024  # never read more than this much of a log for metrics


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None


def from_jsonl(path: Path) -> dict[str, float | int]:
    """Last value of every numeric key; a truncated final line (job killed mid-write) is skipped."""
    last: dict[str, float | int] = {}
    try:
        lines = read_text(path).splitlines()  # never through a symlink planted in the run directory
    except OSError:
        return last
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for key, value in record.items():
            number = _number(value)
            if number is not None:
                last[str(key)] = number
    return last


def _read_tail(path: Path) -> str:
    try:
        with open_nofollow(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_LOG_BYTES:
                handle.seek(size - MAX_LOG_BYTES)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def from_patterns(log: Path, patterns: Mapping[str, str]) -> dict[str, float]:
    """Last match of each pattern's first group, as a number."""
    if not patterns:
        return {}
    text = _read_tail(log)
    found: dict[str, float] = {}
    for name, pattern in patterns.items():
        for match in re.finditer(pattern, text):
            try:
                value = float(match.group(1))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                found[name] = value
    return found


def collect(output_dir: Path, metrics_file: str, patterns: Mapping[str, str]) -> dict[str, float | int]:
    """The run's metrics; a file that leads out of the registry (records/paths.py) counts as empty."""
    jsonl, log = readable_run_file(output_dir, metrics_file), readable_run_file(output_dir, "stdout.log")
    values: dict[str, float | int] = dict(from_jsonl(jsonl)) if jsonl else {}
    values.update(from_patterns(log, patterns) if log else {})
    return dict(sorted(values.items()))


def format_metrics(values: Mapping[str, Any], limit: int = 4) -> str:
    shown = []
    for key, value in list(values.items())[:limit]:
        shown.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    more = len(values) - limit
    return " ".join(shown) + (f" (+{more})" if more > 0 else "")
