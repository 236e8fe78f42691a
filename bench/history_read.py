"""Benchmark: read the metric history of one run with N points (default 100,000) per source.

Measured as medians of --repeat tries, on a run directory made here:
- file:   metrics.jsonl with N lines of {"step", "loss", "acc", "time"} (3N points),
- stdout: stdout.log with N lines matched by two patterns (a step group; 2N points), with stdout.times,
          computed from the log (a running job) and read back from stdout_metrics.jsonl (an ended one),
- best:   best_values over everything loaded (what summary.json keeps),
- cached: load_cached on an unchanged run (site, plot and export read through it),
- last:   the last value of each metric of metrics.jsonl (jsonl_last: what the summary's metrics are),
          beside reading it line by line (one json.loads per line, as it was first written).

Goal (issue 12): reading 100,000 points of one run stays well under a second.
Run:  python bench/history_read.py [--points 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clusterrun.analysis import history  # noqa: E402
from clusterrun.analysis.metrics import jsonl_last  # noqa: E402


def per_line_last(path: Path) -> dict[str, object]:
    """The baseline: one json.loads per line, then each key (jsonl_last before it read in one call)."""
    last: dict[str, object] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            last.update((str(k), v) for k, v in record.items() if isinstance(v, int | float))
    return last


def make_run(root: Path, points: int) -> history.Sources:
    with open(root / "metrics.jsonl", "w") as handle:
        for step in range(points):
            row = {"step": step, "loss": 1 / (step + 1), "acc": step / points, "time": step * 0.01}
            handle.write(json.dumps(row) + "\n")
    with open(root / "stdout.log", "w") as out, open(root / "stdout.times", "w") as times:
        size = 0
        for step in range(points):
            line = f"step {step} train_loss={1 / (step + 1):.6f} lr=0.001\n"
            out.write(line)
            size += len(line)
            if step % 100 == 99:
                times.write(f"{1_700_000_000 + step * 0.01:.3f} {size}\n")
    return history.Sources(
        patterns={"train_loss": r"step (?P<step>\d+) train_loss=([0-9.]+)", "lr": r"lr=([0-9.]+)"}
    )


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = make_run(root, args.points)
        file_only = history.Sources()
        t_file = timed(lambda: history.load(root, file_only), args.repeat)
        t_live = timed(lambda: history.load(root, sources), args.repeat)
        rows = history.stdout_rows(root / "stdout.log", sources.patterns, root / "stdout.times")
        (root / history.STDOUT_HISTORY).write_text(history.jsonl_text(rows))
        t_ended = timed(lambda: history.load(root, sources), args.repeat)
        loaded = history.load(root, sources)
        t_best = timed(lambda: history.best_values(loaded), args.repeat)
        cache = root / "cache"
        history.load_cached(root, sources, cache)
        t_cached = timed(lambda: history.load_cached(root, sources, cache), args.repeat)
        t_last = timed(lambda: jsonl_last(root / "metrics.jsonl"), args.repeat)
        t_lines = timed(lambda: per_line_last(root / "metrics.jsonl"), args.repeat)
        n = args.points
        print(f"metrics.jsonl, {n:,} lines ({3 * n:,} points):              {t_file * 1000:7.1f} ms")
        print(f"+ stdout patterns from stdout.log ({loaded.points:,} points):   {t_live * 1000:7.1f} ms")
        print(f"+ stdout_metrics.jsonl as written ({loaded.points:,} points):   {t_ended * 1000:7.1f} ms")
        print(f"best values of every metric:                           {t_best * 1000:7.1f} ms")
        print(f"all of it again, unchanged (load_cached):               {t_cached * 1000:7.1f} ms")
        print(
            f"last value of each metric of metrics.jsonl (jsonl_last):  {t_last * 1000:7.1f} ms"
            f"  (line by line: {t_lines * 1000:.1f} ms, {t_lines / t_last:.1f}x)"
        )


if __name__ == "__main__":
    main()
