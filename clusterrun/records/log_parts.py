"""Parts of a run's logs that `clusterrun logs` prints on request: one rank's logs (`--rank R`), and one
attempt's part of stdout.log / stderr.log (`--attempt N`).

Rank R > 0 of a multi-process job writes `stdout.rank<R>.log` and `stderr.rank<R>.log`; rank 0's are
stdout.log and stderr.log (execution/ranks.py). Each attempt of a requeued job records in the
manifest the sizes of stdout.log, stderr.log and the metrics file when it started (`offsets`,
execution/attempts.py): attempt N's part of a log runs from its offset to the next attempt's.
"""

from __future__ import annotations

import re
from pathlib import Path

from clusterrun.errors import UsageError
from clusterrun.records.models import Manifest

_RANK_LOG = re.compile(r"(?:stdout|stderr)\.rank(\d+)\.log")


def logged_ranks(folder: Path) -> list[int]:
    """The ranks with logs in `folder` (0 always: stdout.log)."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return [0]
    found = {int(m.group(1)) for m in map(_RANK_LOG.fullmatch, names) if m}
    return sorted(found | {0})


def rank_log(folder: Path, stream: str, rank: int, run_id: str) -> Path:
    """Rank `rank`'s log of `stream` (stdout or stderr) in `folder` (the run's, or its smoke test's);
    UsageError listing the ranks that have logs when it has none."""
    if rank == 0:
        return folder / f"{stream}.log"
    path = folder / f"{stream}.rank{rank}.log"
    if path.exists() or path.is_symlink():
        return path
    ranks = logged_ranks(folder)
    nodes = sorted(p.name for p in folder.glob(f"{stream}.node*.log"))
    if len(ranks) == 1:
        hint = "it ran a single process (rank 0): clusterrun logs " + run_id
        if nodes:
            hint = f"its logs are per node (launcher: torchrun): {', '.join(nodes)} in the run directory"
    else:
        hint = f"its ranks: {', '.join(map(str, ranks))}"
    raise UsageError(f"run {run_id} has no {stream} log of rank {rank}", hint=hint)


def attempt_span(manifest: Manifest, name: str, attempt: int, run_id: str) -> tuple[int, int | None]:
    """Where attempt `attempt`'s part of log `name` (stdout.log, stderr.log) starts and ends (None: at
    the end of the file); UsageError listing the attempts recorded when it is not one of them."""
    recorded = sorted(manifest.attempts, key=lambda a: a.attempt)
    numbers = [a.attempt for a in recorded]
    if attempt not in numbers:
        if not numbers:
            hint = "it has no attempts recorded (not started yet, or made before attempts were recorded)"
        else:
            hint = f"its attempts: {', '.join(map(str, numbers))}"
        raise UsageError(f"run {run_id} has no attempt {attempt}", hint=hint)
    at = numbers.index(attempt)
    start = recorded[at].offsets.get(name, 0)
    later = [a.offsets[name] for a in recorded[at + 1 :] if name in a.offsets]
    return start, (later[0] if later else None)
