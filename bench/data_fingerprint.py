"""Benchmark: the data fingerprint every submit takes of its `data:` paths, against its floor.

Measured in the same run, on the same filesystem, as medians of --repeat tries:
- a dataset of N small files (default 200,000: MAX_WALK, an ImageNet-sized folder is cut there):
  clusterrun's `datafp.fingerprint` (a walk, one lstat per file, size+mtime digest) against the floor,
  os.walk with one lstat per file and nothing else; and the walk clusterrun used before (os.walk with a
  Path per file), for reference;
- a folder of M MB in a few files (default 200 MB in 50, under the hashing limits): the first
  fingerprint (every byte hashed) against the floor, reading every byte with sha256; then a second
  submit's fingerprint, from the user's cache of hashes (nothing read again when nothing changed).
Run:  python bench/data_fingerprint.py [--files 200000] [--mb 200] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clusterrun.inputs import datafp  # noqa: E402


def _timed(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _many_files(root: Path, count: int) -> None:
    per_folder = 1000
    for index in range(count):
        folder = root / f"class{index // per_folder:04d}"
        if index % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"img{index:07d}.jpg").write_bytes(b"")


def _few_big(root: Path, megabytes: int, files: int = 50) -> None:
    root.mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    for index in range(files):
        with open(root / f"shard{index:03d}.bin", "wb") as handle:
            for _ in range(max(1, megabytes // files)):
                handle.write(chunk)


def _floor_walk(top: Path) -> int:
    count = 0
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            os.lstat(os.path.join(dirpath, name))
            count += 1
    return count


def _path_walk(top: Path) -> int:
    """The walk before: a Path for every file and its relative_to (what the profile showed)."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            full = base / name
            full.relative_to(top).as_posix()
            os.lstat(full)
            count += 1
    return count


def _floor_read(top: Path) -> None:
    for path in sorted(top.iterdir()):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-datafp-", dir=args.dir))
    os.environ["XDG_CACHE_HOME"] = str(work / "user-cache")  # the user's cache, this run's own
    try:
        many, big = work / "many", work / "big"
        _many_files(many, args.files)
        _few_big(big, args.mb)
        floor = _timed(lambda: _floor_walk(many), args.repeat)
        ours = _timed(lambda: datafp.fingerprint(many), args.repeat)
        before = _timed(lambda: _path_walk(many), args.repeat)
        print(
            f"fingerprint of {args.files:,} files: {ours:.2f} s; floor (os.walk + lstat): {floor:.2f} s, "
            f"{ours / floor:.1f}x; the Path walk used before, alone: {before:.2f} s"
        )
        read = _timed(lambda: _floor_read(big), args.repeat)
        first_samples = []
        for _ in range(args.repeat):  # each time as a first submit: the user's cache emptied
            shutil.rmtree(work / "user-cache", ignore_errors=True)
            started = time.perf_counter()
            datafp.fingerprint(big)
            first_samples.append(time.perf_counter() - started)
        first = statistics.median(first_samples)
        datafp.RACY_NS = -(10**12)  # the files were just written: keep their hashes all the same
        datafp.fingerprint(big)
        again = _timed(lambda: datafp.fingerprint(big), args.repeat)
        print(
            f"fingerprint of {args.mb} MB in 50 files: first {first:.3f} s; floor (sha256 of every byte): "
            f"{read:.3f} s, {first / read:.1f}x; the next submit's, from the user's cache: "
            f"{again * 1000:.1f} ms ({again / read:.3f}x)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
