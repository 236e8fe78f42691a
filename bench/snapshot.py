"""Benchmark: the first snapshot of a repository of N files (default 5,000), against its floor.

Measured in the same run, on the same filesystem, as medians of --repeat tries:
- clusterrun: `snapshot.create(repo, commit, "", registry)` into an empty registry: `git archive | tar -x`,
  the file listing, the content digest (sha256 of every file, the immutability check) and read-only bits,
- floor: `git archive HEAD | tar -x` alone (what any snapshot has to pay),
- tarfile: the extraction clusterrun used before (Python's tarfile with the "tar" filter), for reference.

Goal (issue "Fast at the scale labs run"): clusterrun within 1.5x of the floor... the digest reads every
byte once, so the honest floor for a verified snapshot is the extraction plus one read of the tree; the
line "floor + sha256 of the tree" shows it.
Run:  python bench/snapshot.py [--files 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from workdir import make_repo  # noqa: E402

from clusterrun.inputs import snapshot  # noqa: E402


def median_seconds(action: Callable[[Path], object], repeat: int, base: Path, name: str) -> float:
    times = []
    for n in range(repeat):
        dest = base / f"{name}-{n}"
        dest.mkdir(parents=True)
        started = time.perf_counter()
        action(dest)
        times.append(time.perf_counter() - started)
        shutil.rmtree(dest, ignore_errors=True)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as tmp:
        base = Path(tmp)
        repo = base / "repo"
        commit = make_repo(repo, args.files)

        def ours(dest: Path) -> None:
            snapshot.create(repo, commit, "", dest)

        def floor(dest: Path) -> None:
            subprocess.run(f"git -C {repo} archive {commit} | tar -x -C {dest}", shell=True, check=True)

        def floor_and_read(dest: Path) -> None:
            floor(dest)
            digest = hashlib.sha256()
            for dirpath, _dirs, files in os.walk(dest):
                for name in sorted(files):
                    digest.update(Path(dirpath, name).read_bytes())

        def with_tarfile(dest: Path) -> None:
            data = subprocess.run(["git", "-C", str(repo), "archive", commit], capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(dest, filter="tar")

        results = {
            "clusterrun snapshot.create": median_seconds(ours, args.repeat, base / "out", "ours"),
            "git archive | tar -x (floor)": median_seconds(floor, args.repeat, base / "out", "floor"),
            "floor + sha256 of the tree": median_seconds(floor_and_read, args.repeat, base / "out", "read"),
            "tarfile, filter='tar' (before)": median_seconds(with_tarfile, args.repeat, base / "out", "tf"),
        }
        base_s = results["git archive | tar -x (floor)"]
        print(f"repository: {args.files} files; medians of {args.repeat}")
        print(f"{'method':32} {'median s':>9} {'vs floor':>9}")
        for name, seconds in results.items():
            print(f"{name:32} {seconds:9.3f} {seconds / base_s:8.2f}x")


if __name__ == "__main__":
    main()
