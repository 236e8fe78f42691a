"""Benchmark: the first snapshot of a repository of N files (default 5,000), against its floor.

Measured in the same run, on the same filesystem, as medians of --repeat tries:
- clusterrun: `snapshot.create(repo, commit, "", registry)` into an empty registry: `git archive | tar -x`,
  the file listing, the content digest (sha256 of every file, the immutability check) and read-only bits,
- floor: `git archive HEAD | tar -x` alone (what any snapshot has to pay),
- tarfile: the extraction clusterrun used before (Python's tarfile with the "tar" filter), for reference.

Goal (issue "Fast at the scale labs run"): clusterrun within 1.5x of the floor... the digest reads every
byte once, so the honest floor for a verified snapshot is the extraction plus one read of the tree; the
line "floor + sha256 of the tree" shows it.
Built on tmpfs (/dev/shm) when there is one, as the issue measures it; --dir elsewhere. The floor's tar
runs with clusterrun's flags (--no-same-owner: as root, plain tar would chown every file).
Run:  python bench/snapshot.py [--files 5000] [--repeat 5] [--dir DIR]
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


def median_seconds(actions: dict[str, Callable[[Path], object]], repeat: int, base: Path) -> dict[str, float]:
    """Each action's median over `repeat` rounds; the actions take turns within each round, so that a
    machine that slows down or speeds up meanwhile weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for n in range(repeat):
        for index, (name, action) in enumerate(actions.items()):
            dest = base / f"{index}-{n}"
            dest.mkdir(parents=True)
            started = time.perf_counter()
            action(dest)
            times[name].append(time.perf_counter() - started)
            shutil.rmtree(dest, ignore_errors=True)
    return {name: statistics.median(found) for name, found in times.items()}


def _scratch() -> str | None:
    """tmpfs (/dev/shm) when there is one, as issue 13 measures it: the disk's noise left out."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=_scratch(), help="where to build (default: /dev/shm if any)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-", dir=args.dir) as tmp:
        base = Path(tmp)
        repo = base / "repo"
        commit = make_repo(repo, args.files)

        def ours(dest: Path) -> None:
            snapshot.create(repo, commit, "", dest)

        def floor(dest: Path) -> None:  # tar's flags as clusterrun's (as root, no chown of every file)
            untar = f"tar -x --no-same-owner --no-same-permissions -C {dest}"
            subprocess.run(f"git -C {repo} archive {commit} | {untar}", shell=True, check=True)

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

        actions = {
            "clusterrun snapshot.create": ours,
            "git archive | tar -x (floor)": floor,
            "floor + sha256 of the tree": floor_and_read,
            "tarfile, filter='tar' (before)": with_tarfile,
        }
        results = median_seconds(actions, args.repeat, base / "out")
        base_s = results["git archive | tar -x (floor)"]
        print(f"repository: {args.files} files in {tmp}; medians of {args.repeat}, in turns")
        print(f"{'method':32} {'median s':>9} {'vs floor':>9}")
        for name, seconds in results.items():
            print(f"{name:32} {seconds:9.3f} {seconds / base_s:8.2f}x")


if __name__ == "__main__":
    main()
