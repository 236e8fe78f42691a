"""Benchmark: a long run's metrics, as a status row and a summary read them.

A training that logs every step writes a metrics.jsonl of a million lines (about 100 MB) and, if it
prints its progress, a stdout.log of as many. Each is measured in its own process (wall time and peak
RSS), beside a floor measured in the same run:
  metrics.jsonl  the last values a status row shows (metrics.jsonl_last):
                   floor    reading the file's bytes once
                   before   the file parsed whole into rows (as jsonl_last did before 397fb11)
                   first    clusterrun now, nothing kept from an earlier look
                   next     clusterrun now, in a new process, after the job logged 10 more lines
  stdout.log     the last value of two printed patterns (metrics.patterns_last over the last 64 MB):
                   before   every match of the window walked (as before 53fd440)
                   now      clusterrun now (read from the end)

  event file   the last values of a TensorBoard event file of as many scalars (metric_fold.read of
               its folder: analysis/tfevents.py), first look and next (10 more scalars), as above

Run:  python bench/long_metrics.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, run

SETUP = "import sys; from pathlib import Path; path = Path(sys.argv[1])\n"
MEASURED = {
    "floor": SETUP + "path.read_bytes()",
    "before": SETUP  # jsonl_last as it was: the rows parsed whole, then walked for each key's last value
    + "import math\n"
    + "from clusterrun.analysis.metrics import parse_rows\n"
    + "last, non_finite = {}, {}\n"
    + "for row in parse_rows(path.read_text()):\n"
    + "    for key, value in row.items():\n"
    + "        if type(value) is int or (type(value) is float and math.isfinite(value)):\n"
    + "            last[key] = value; non_finite.pop(key, None)\n"
    + "        elif type(value) is float:\n"
    + "            non_finite[key] = 'nan'; last.pop(key, None)\n"
    + "print(last, non_finite)",
    "now": SETUP + "from clusterrun.analysis.metrics import jsonl_last\nprint(jsonl_last(path))",
    "events": SETUP + "from clusterrun.analysis.metric_fold import read\nprint(read(path).last)",
    "printed-before": SETUP
    + "import re, math\n"
    + "from clusterrun.analysis.metrics import log_tail, NUMBER, PLAIN_NUMBER\n"
    + "from clusterrun.analysis.patterns import finditer\n"
    + "text = log_tail(path)\n"
    + "for pattern in (r'\\bloss=' + PLAIN_NUMBER, r'\\bacc ' + PLAIN_NUMBER):\n"
    + "    last = None\n"
    + "    for match in finditer(re.compile(pattern.replace(PLAIN_NUMBER, NUMBER)), text):\n"
    + "        last = float(match.group(1))\n"
    + "    print(last)",
    "printed-now": SETUP
    + "from clusterrun.analysis.metrics import patterns_last, PLAIN_NUMBER\n"
    + "print(patterns_last(path, {'loss': r'\\bloss=' + PLAIN_NUMBER, 'acc': r'\\bacc ' + PLAIN_NUMBER}))",
}


@dataclass
class Figure:
    seconds: float
    peak_mb: float

    def __str__(self) -> str:
        time = f"{self.seconds * 1000:.0f} ms" if self.seconds < 1 else f"{self.seconds:.2f} s"
        return f"{time}, {self.peak_mb:.0f} MB"


def write_files(root: Path, lines: int) -> tuple[Path, Path]:
    metrics, stdout = root / "metrics.jsonl", root / "stdout.log"
    with metrics.open("w") as handle:
        for step in range(lines):
            row = {"step": step, "loss": 1 / (step + 1), "lr": 0.001, "grad_norm": math.sin(step)}
            handle.write(json.dumps(row) + "\n")
    with stdout.open("w") as handle:
        for step in range(lines):
            handle.write(
                f"step {step} | train loss={1 / (step + 1):.6f} acc {step % 100 / 100:.3f} lr=0.001\n"
            )
    return metrics, stdout


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def event_record(step: int, tag: str, value: float) -> bytes:
    """One TFRecord of an Event with one simple_value, as PyTorch's SummaryWriter writes it (the CRCs
    left zero: clusterrun does not check them)."""
    raw_tag = tag.encode()
    item = b"\x0a" + _varint(len(raw_tag)) + raw_tag + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(item)) + item
    event = b"\x09" + struct.pack("<d", 1.8e9 + step) + b"\x10" + _varint(step) + b"\x2a"
    event += _varint(len(summary)) + summary
    return struct.pack("<Q", len(event)) + b"\0" * 4 + event + b"\0" * 4


def write_events(root: Path, scalars: int, start: int = 0) -> Path:
    """A TensorBoard log folder with one event file of `scalars` scalars, two tags a step (appended to
    from step `start`)."""
    folder = root / "tb"
    folder.mkdir(exist_ok=True)
    with open(folder / "events.out.tfevents.1800000000.node", "ab") as handle:
        for step in range(start, start + scalars // 2):
            handle.write(event_record(step, "train/loss", 1 / (step + 1)) + event_record(step, "lr", 0.001))
    return folder


def measure(name: str, path: Path, env: dict[str, str], repeat: int) -> Figure:
    tries = [
        run([sys.executable, "-c", MEASURED[name], str(path)], env=env, memory=True) for _ in range(repeat)
    ]
    return Figure(median([t.seconds for t in tries]), median([t.peak_mb for t in tries]))


def figures(lines: int, repeat: int, tmp: Path) -> dict[str, Figure]:
    metrics, stdout = write_files(tmp, lines)
    cache = tmp / "user-cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    out = {name: measure(name, metrics, env, repeat) for name in ("floor", "before")}
    firsts, nexts = [], []
    for _ in range(repeat):
        if cache.exists():
            for entry in cache.rglob("*.json"):
                entry.unlink()
        firsts.append(run([sys.executable, "-c", MEASURED["now"], str(metrics)], env=env, memory=True))
        with metrics.open("a") as handle:  # the job logged on meanwhile
            for step in range(10):
                handle.write(json.dumps({"step": lines + step, "loss": 1e-9}) + "\n")
        nexts.append(run([sys.executable, "-c", MEASURED["now"], str(metrics)], env=env, memory=True))
    out["first"] = Figure(median([t.seconds for t in firsts]), median([t.peak_mb for t in firsts]))
    out["next"] = Figure(median([t.seconds for t in nexts]), median([t.peak_mb for t in nexts]))
    out["imports"] = Figure(
        median(
            [run([sys.executable, "-c", "import clusterrun.analysis.metrics"]).seconds for _ in range(repeat)]
        ),
        0.0,
    )
    for name in ("printed-before", "printed-now"):
        out[name] = measure(name, stdout, env, repeat)
    folder = write_events(tmp, lines)
    out["events-floor"] = measure("floor", next(folder.iterdir()), env, repeat)
    firsts, nexts = [], []
    for attempt in range(repeat):
        for entry in cache.rglob("*.json"):
            entry.unlink()
        firsts.append(run([sys.executable, "-c", MEASURED["events"], str(folder)], env=env, memory=True))
        write_events(tmp, 10, start=lines // 2 + attempt * 5)  # the job logged on meanwhile
        nexts.append(run([sys.executable, "-c", MEASURED["events"], str(folder)], env=env, memory=True))
    out["events-first"] = Figure(median([t.seconds for t in firsts]), median([t.peak_mb for t in firsts]))
    out["events-next"] = Figure(median([t.seconds for t in nexts]), median([t.peak_mb for t in nexts]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = figures(args.lines, args.repeat, Path(tmp))
    for name, figure in found.items():
        print(f"{name:15s} {figure}")


if __name__ == "__main__":
    main()
