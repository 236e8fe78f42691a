"""`clusterrun status --disk`: what each run takes on disk, du-style, with every file counted once.

Per run: its working copies (`work/`, `smoke*/work/`: only what the run wrote or changed there; the rest
are hard links to the snapshot), its artifacts (`artifacts/`), its logs (`*.log`, `scheduler/`, the smoke
tests' logs) and its records (manifest, config, scripts, patch...). Snapshots are shared by many runs:
each is counted once in the total, never in a run's own size.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.records.registry import Registry

Inode = tuple[int, int]
PARTS = ("work", "artifacts", "logs", "records")


@dataclass
class RunDisk:
    run_id: str
    work: int = 0
    artifacts: int = 0
    logs: int = 0
    records: int = 0
    snapshot: str = ""  # the snapshot id it uses ("" when unknown or gone)

    @property
    def own(self) -> int:
        return self.work + self.artifacts + self.logs + self.records

    def as_record(self) -> dict[str, Any]:
        return asdict(self) | {"own": self.own}


@dataclass
class DiskReport:
    runs: list[RunDisk] = field(default_factory=list)
    snapshots: dict[str, int] = field(default_factory=dict)  # id -> bytes, each counted once
    total: int = 0  # every file under the runs and their snapshots, each inode once

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def as_record(self) -> dict[str, Any]:
        return {
            "runs": [r.as_record() for r in self.runs],
            "snapshots": self.snapshots,
            "total_bytes": self.total,
        }


def _files(top: Path) -> Iterable[tuple[Path, os.stat_result]]:
    if not top.exists():
        return
    if top.is_file():
        yield top, os.lstat(top)
        return
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            path = Path(dirpath) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                yield path, info


def _size(info: os.stat_result) -> int:
    return int(info.st_blocks) * 512 if hasattr(info, "st_blocks") else int(info.st_size)


def _part(rel: Path) -> str:
    """Which part of a run directory a file (relative to it) belongs to."""
    first = rel.parts[0]
    if "work" in rel.parts[:-1] and (first == "work" or first.startswith("smoke")):
        return "work"
    if first == "artifacts":
        return "artifacts"
    if rel.suffix == ".log" or first == "scheduler" or first.startswith("smoke"):
        return "logs"
    return "records"


def disk_usage(registry: Registry, run_ids: list[str]) -> DiskReport:
    """Sizes of the runs, their snapshots once each, and the total with every inode counted once."""
    report = DiskReport()
    seen: set[Inode] = set()
    snapshot_inodes: dict[str, set[Inode]] = {}
    for run_id in run_ids:
        run = registry.get(run_id)
        usage = RunDisk(run.id)
        try:
            snap = run.load_manifest().snapshot
            usage.snapshot, snap_path = snap.id, Path(snap.path) if snap.path else None
        except ClusterrunError:
            snap_path = None
        if usage.snapshot and usage.snapshot not in snapshot_inodes:
            inodes: set[Inode] = set()
            size = 0
            for _path, info in _files(snap_path) if snap_path is not None else []:
                key = (info.st_dev, info.st_ino)
                if key not in inodes:
                    inodes.add(key)
                    size += _size(info)
            snapshot_inodes[usage.snapshot] = inodes
            if inodes:
                report.snapshots[usage.snapshot] = size
                seen |= inodes
                report.total += size
        shared = snapshot_inodes.get(usage.snapshot, set())
        own: set[Inode] = set()
        for path, info in _files(run.path):
            key = (info.st_dev, info.st_ino)
            if key in shared or key in own:
                continue  # a hard link to the snapshot (or to a file already counted)
            own.add(key)
            part = _part(path.relative_to(run.path))
            setattr(usage, part, getattr(usage, part) + _size(info))
            if key not in seen:
                seen.add(key)
                report.total += _size(info)
        report.runs.append(usage)
    return report
