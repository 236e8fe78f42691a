"""Benchmark: what a sweep member's files cost on this disk, whatever the code around them.

A member of a submitted sweep is a complete run directory (../shared/DESIGN.md, "The run directory"):
made under a hidden name and renamed into place, with .lock, manifest.json and events.jsonl created and
env.json linked to the submission's first one; its config.yaml and command.sh are kept at the sweep level
(two files for all members, records/memberfiles.py) until its job starts; the launch then rewrites its
manifest with the job id (a temporary file and a rename), appends to its events and links its sbatch.sh.
submitit's `map_array`, the floor of issue 13's sweep row, writes one pickle per member.

This measures those file operations alone, in plain Python with no clusterrun code, for N members:
  floor     one pickle-sized file per member in one folder (what map_array writes)
  contract  the member directories as clusterrun makes them (the operations above)
  before    as they were made until 2026-12-07: config.yaml and command.sh created in each member
  lighter   a member holding only manifest.json and events.jsonl (no lock, no job id written at launch)
  no dirs   a member's manifest and events as two files in the sweep's folder (no directory per member
            until its job starts)
and prints each against the floor: the ratio the contract alone costs, before any Python of ours runs.

Run:  python bench/member_files.py [--members 1000] [--repeat 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PICKLE = b"x" * 900  # a DelayedSubmission pickle of map_array(abs, ...) is about this size
MANIFEST = b"m" * 6000
CONFIG = b"c" * 1000
SCRIPT = b"s" * 2600
EVENTS = b"e" * 500


def _create(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def floor(root: Path, members: int) -> None:
    folder = root / "scheduler"
    folder.mkdir()
    for i in range(members):
        _create(f"{folder}/{i}_submitted.pkl", PICKLE)


def contract(root: Path, members: int) -> None:
    _members(root, members, whole=False)


def before(root: Path, members: int) -> None:
    _members(root, members, whole=True)


def _members(root: Path, members: int, whole: bool) -> None:
    shared_env, shared_sbatch = root / "env.json", root / "sbatch.sh"
    for path, data in ((shared_env, b"{}" * 2500), (shared_sbatch, SCRIPT[:1000])):
        _create(str(path), data)
    if not whole:  # every member's config.yaml and command.sh, in the sweep's two member files
        _create(str(root / "member-files.txt"), (CONFIG + SCRIPT) * members)
        _create(str(root / "member-files.json"), b"i" * 90 * members)
    own = (("config.yaml", CONFIG), ("command.sh", SCRIPT)) if whole else ()
    for i in range(members):  # prepare: each member made under a hidden name, then renamed
        hidden, final = root / f".m{i}.new", root / f"m{i}"
        os.mkdir(hidden)
        for name, data in (*own, ("manifest.json", MANIFEST), ("events.jsonl", EVENTS), (".lock", b"")):
            _create(f"{hidden}/{name}", data)
        os.link(shared_env, hidden / "env.json")
        os.rename(hidden, final)
    for i in range(members):  # launch: the job id into the manifest, an event, the array's script
        final = root / f"m{i}"
        _create(f"{final}/.manifest.json.tmp", MANIFEST)
        os.replace(f"{final}/.manifest.json.tmp", final / "manifest.json")
        fd = os.open(final / "events.jsonl", os.O_WRONLY | os.O_APPEND)
        os.write(fd, EVENTS[:120])
        os.close(fd)
        os.link(shared_sbatch, final / "sbatch.sh")


def lighter(root: Path, members: int) -> None:
    for i in range(members):  # what stays per member when the shared facts live at the sweep level
        final = root / f"m{i}"
        os.mkdir(final)
        _create(f"{final}/manifest.json", MANIFEST)
        _create(f"{final}/events.jsonl", EVENTS)


def no_dirs(root: Path, members: int) -> None:
    folder = root / "members"
    folder.mkdir()
    for i in range(members):
        _create(f"{folder}/m{i}.json", MANIFEST)
        _create(f"{folder}/m{i}.events.jsonl", EVENTS)


def measure(action: Callable[[Path, int], None], members: int, where: Path) -> float:
    """One try, after the disk has written out what came before (deletions included: on a disk mounted
    with `discard`, a large rmtree slows whatever follows it, so nothing is removed until the end)."""
    root = Path(tempfile.mkdtemp(prefix="try-", dir=where))
    os.sync()
    started = time.perf_counter()
    action(root, members)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to write (the registry's disk)")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    where = Path(tempfile.mkdtemp(prefix="clusterrun-member-files-", dir=args.dir))
    variants = (
        ("floor", floor),
        ("contract", contract),
        ("before", before),
        ("lighter", lighter),
        ("no dirs", no_dirs),
    )
    try:
        for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits all alike
            for name, action in variants:
                results.setdefault(name, []).append(measure(action, args.members, where))
    finally:
        shutil.rmtree(where, ignore_errors=True)
    base = statistics.median(results["floor"])
    print(f"{args.members} members, medians of {args.repeat}, in {args.dir}")
    for name, _action in variants:
        seconds = statistics.median(results[name])
        print(f"  {name:<9} {seconds * 1000:7.0f} ms  {seconds / base:5.1f}x the floor")


if __name__ == "__main__":
    main()
