"""Benchmark: reading a run's metrics from a large log with init's patterns (`\\bname=([0-9.eE+-]+)`).

A log of progress bars (tqdm redraws its line: tens of MB in a short run) is read for the summary when
the run ends and for every `status --watch` refresh while it runs. Python's `re` does not scan for a
literal prefix past a leading `\\b`, which every pattern `init` writes has: this measures
analysis/metrics.patterns_last (analysis/patterns.finditer) against the same patterns run through
`re.finditer`, the baseline, in the same run.

Run:  python bench/metric_patterns.py [--mb 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clusterrun.analysis.metrics import NUMBER, PLAIN_NUMBER, log_tail, patterns_last

BAR = "epoch 0:  50%|#####     | 31/63 [00:00<00:00, 805.92it/s, loss=0.6874]\r"
END = "INFO epoch 2 train_loss=0.6256 val_error=0.5030\n"
PATTERNS = {"train_loss": rf"\btrain_loss={PLAIN_NUMBER}", "val_error": rf"\bval_error={PLAIN_NUMBER}"}


def baseline(log: Path) -> dict[str, float]:
    text = log_tail(log)
    found = {}
    for name, pattern in PATTERNS.items():
        for match in re.finditer(pattern.replace(PLAIN_NUMBER, NUMBER), text):
            found[name] = float(match.group(1))
    return found


def timed(action: object, log: Path, repeat: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action(log)  # type: ignore[operator]
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stdout.log"
        log.write_text(BAR * (args.mb * 1_000_000 // len(BAR)) + END)
        ours, found = timed(lambda path: patterns_last(path, PATTERNS)[0], log, args.repeat)
        floor, expected = timed(baseline, log, args.repeat)
    if found != expected:
        sys.exit(f"different values: {found} vs {expected}")
    print(f"{args.mb} MB log, {len(PATTERNS)} patterns matching once at its end (medians of {args.repeat}):")
    print(f"  patterns_last        {ours * 1000:7.0f} ms")
    print(f"  re.finditer (before) {floor * 1000:7.0f} ms   {floor / ours:.1f}x slower")


if __name__ == "__main__":
    main()
