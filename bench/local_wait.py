"""Benchmark: where the time of `submit --backend local --wait` of `true` goes, for this checkout and,
with `--against DIR`, another checkout of clusterrun (a baseline measured in the same run, alternating).

For each run it prints the medians of: the whole command; when the job was submitted (submitit's
`*_submitted.pkl`); how long after the submission the job's wrapper started (exit.json's `started`); and
from the job's end (exit.json's `ended`) to the command's exit.

Run:  python bench/local_wait.py [--repeat 11] [--against /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'name: true-cmd\ncommand: "true"\nresources: {time: "00:05:00", mem: 100M, cpus_per_task: 1}\n'


def project(root: Path) -> Path:
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "true.yaml").write_text(CONFIG)
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *args], cwd=root, check=True)
    return root


def once(checkout: Path, root: Path) -> tuple[float, float, float, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    argv = [sys.executable, "-m", "clusterrun", "submit", "configs/true.yaml", "--backend", "local"]
    started = time.time()
    subprocess.run([*argv, "--wait", "--force"], cwd=root, env=env, capture_output=True, check=True)
    ended = time.time()
    run = max((p for p in (root / "runs").glob("true-cmd_*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    record = json.loads((run / "exit.json").read_text())
    submitted = next((run / "scheduler").glob("*_submitted.pkl")).stat().st_mtime
    return ended - started, submitted - started, record["started"] - submitted, ended - record["ended"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--against", type=Path, help="another checkout of clusterrun (the baseline)")
    args = parser.parse_args()
    checkouts = [REPO, *([args.against.resolve()] if args.against else [])]
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as tmp:
        roots = {c: project(Path(tmp) / f"p{i}") for i, c in enumerate(checkouts)}
        for checkout, root in roots.items():
            once(checkout, root)  # the smoke test, cached from now on
        times: dict[Path, list[tuple[float, float, float, float]]] = {c: [] for c in checkouts}
        for _ in range(args.repeat):
            for checkout in checkouts:  # alternating: a noisy moment hits both
                times[checkout].append(once(checkout, roots[checkout]))
    for checkout in checkouts:
        columns = [statistics.median(column) for column in zip(*times[checkout], strict=True)]
        total, submitted, start, end = columns
        print(
            f"{checkout}: total {total:.3f} s; submitted at {submitted:.3f} s; the job started "
            f"{start:.3f} s after; its end to the exit {end:.3f} s (medians of {args.repeat})"
        )


if __name__ == "__main__":
    main()
