"""Every rank's metrics, for a multi-process job configured with `metrics.ranks: all`.

Rank 0 writes the metrics file (metrics.jsonl) and stdout.log; rank R > 0 writes `metrics.rank<R>.jsonl`,
`stdout.rank<R>.log` and `stderr.rank<R>.log` beside them (execution/ranks.py, command.sh). by_rank()
reads each rank's last values the way analysis/metrics.py reads rank 0's; across() condenses them per
metric (min, mean, max, how many ranks logged it), to spot a rank that diverged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterrun.analysis.metrics import from_jsonl, printed_last
from clusterrun.records.paths import readable_run_file

_RANK = r"\.rank(\d+)"


def rank_files(output_dir: Path, metrics_file: str) -> dict[int, Path]:
    """Rank -> the metrics file it wrote, for ranks other than 0 (`metrics.rank<R>.jsonl`)."""
    relative = Path(metrics_file)
    folder = output_dir / relative.parent
    stem, suffix = relative.stem, relative.suffix
    pattern = re.compile(re.escape(stem) + _RANK + re.escape(suffix) + r"\Z")
    found: dict[int, Path] = {}
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return found
    for name in names:
        match = pattern.match(name)
        if match and int(match.group(1)) > 0:
            found[int(match.group(1))] = relative.parent / name
    return found


def rank_logs(output_dir: Path) -> dict[int, str]:
    """Rank -> its stdout log, for ranks other than 0 (`stdout.rank<R>.log`)."""
    found: dict[int, str] = {}
    try:
        names = [p.name for p in output_dir.iterdir()]
    except OSError:
        return found
    for name in names:
        match = re.fullmatch(r"stdout" + _RANK + r"\.log", name)
        if match and int(match.group(1)) > 0:
            found[int(match.group(1))] = name
    return found


def _read(
    output_dir: Path, metrics: str | None, log: str | None, patterns: Mapping[str, str]
) -> dict[str, Any]:
    jsonl = readable_run_file(output_dir, metrics) if metrics else None  # never through a planted symlink
    values: dict[str, Any] = dict(from_jsonl(jsonl)) if jsonl else {}
    if log and patterns:  # its stdout, else its stderr (metrics.printed_last), as rank 0's are read
        values.update(printed_last(output_dir, patterns, log)[0])
    return dict(sorted(values.items()))


def by_rank(
    output_dir: Path, metrics_file: str, patterns: Mapping[str, str], rank0: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Rank (as a string, JSON's keys) -> its metrics' last values; rank 0's are `rank0`, the run's own.
    Ranks that logged nothing are left out; {} when no rank but 0 wrote any file (a single process)."""
    files, logs = rank_files(output_dir, metrics_file), rank_logs(output_dir) if patterns else {}
    ranks = sorted(set(files) | set(logs))
    if not ranks:
        return {}
    out: dict[str, dict[str, Any]] = {"0": dict(rank0)} if rank0 else {}
    for rank in ranks:
        found = _read(output_dir, str(files[rank]) if rank in files else None, logs.get(rank), patterns)
        if found:
            out[str(rank)] = found
    return out


def across(per_rank: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Metric -> {min, mean, max, ranks (how many logged it), min_rank, max_rank} over the ranks."""
    out: dict[str, dict[str, Any]] = {}
    names = sorted({name for values in per_rank.values() for name in values})
    for name in names:
        points = [(values[name], int(rank)) for rank, values in per_rank.items() if name in values]
        low, high = min(points), max(points)
        out[name] = {
            "min": low[0],
            "mean": sum(v for v, _ in points) / len(points),
            "max": high[0],
            "ranks": len(points),
            "min_rank": low[1],
            "max_rank": high[1],
        }
    return out
