"""The registry index: what listings, filters and duplicate lookups need of every run, without opening
every run's manifest.

`<registry>/.cache/index.json` holds, per run, a few manifest fields (name, created, state, snapshot id,
config hash, sweep) and the identity of the manifest file they were read from (inode, size, mtime).
It is a cache, never the only copy of anything: every use lists the registry (one directory listing
and one `stat` per run) and re-reads only the manifests that are new or changed since (a manifest is
replaced by rename, so any rewrite changes its inode), forgets runs that are gone, and rebuilds the
whole file when it is missing, corrupt or of another version. Runs added, changed or removed by another
process, another clusterrun version or by hand are therefore always seen.

The file is rewritten by write-to-temporary-then-rename (safe on NFS; no SQLite, no lock): two
processes writing at once each write a complete, correct index and the last rename wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records.jsonio import read_json, write_text_atomic
from clusterrun.records.models import MANIFEST_FILE
from clusterrun.records.registry import _creation_key

VERSION = 1
INDEX_FILE = "index.json"

Stamp = tuple[int, int, int]  # (inode, size, mtime_ns) of the manifest an entry was read from


@dataclass(frozen=True)
class Entry:
    """One run as the index knows it (`damaged`: its manifest could not be read; nothing else is set)."""

    run_id: str
    name: str = ""
    created: str = ""
    state: str = ""
    snapshot_id: str = ""
    config_hash: str = ""
    sweep: str = ""
    backend: str = ""
    damaged: bool = False

    def as_data(self, stamp: Stamp) -> dict[str, Any]:
        data: dict[str, Any] = {"stamp": list(stamp)}
        if self.damaged:
            return data | {"damaged": True}
        return data | {
            "name": self.name,
            "created": self.created,
            "state": self.state,
            "snapshot_id": self.snapshot_id,
            "config_hash": self.config_hash,
            "sweep": self.sweep,
            "backend": self.backend,
        }


@dataclass
class Stats:
    """What the last `entries` call had to do (for tests and benchmarks)."""

    read: int = 0  # manifests read
    dropped: int = 0  # entries of runs that are gone
    rebuilt: bool = False  # the index file was missing, corrupt or of another version
    written: bool = False


def index_path(root: Path) -> Path:
    return root / ".cache" / INDEX_FILE


def _stamp(info: os.stat_result) -> Stamp:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _scan(root: Path) -> Iterator[tuple[str, Stamp]]:
    """Every run directory (not a symlink) with a manifest, and its manifest's stamp."""
    try:
        listing = os.scandir(root)
    except OSError:
        return
    with listing:
        for item in listing:
            if item.name.startswith(".") or not item.is_dir(follow_symlinks=False):
                continue
            try:
                info = os.stat(os.path.join(item.path, MANIFEST_FILE))
            except OSError:
                continue
            yield item.name, _stamp(info)


def _read_entry(root: Path, run_id: str) -> Entry:
    try:
        manifest = store.read_manifest(root / run_id)
    except ClusterrunError:
        return Entry(run_id, damaged=True)
    return Entry(
        run_id,
        name=manifest.name,
        created=manifest.created,
        state=manifest.state,
        snapshot_id=manifest.snapshot.id,
        config_hash=manifest.config_hash,
        sweep=manifest.sweep or "",
        backend=manifest.backend,
    )


def _load(path: Path) -> dict[str, tuple[Stamp, Entry]] | None:
    try:
        data = read_json(path)
        if data.get("version") != VERSION:
            return None
        out: dict[str, tuple[Stamp, Entry]] = {}
        for run_id, item in data["runs"].items():
            stamp = tuple(int(x) for x in item["stamp"])
            if len(stamp) != 3:
                return None
            fields = {k: str(v) for k, v in item.items() if k not in ("stamp", "damaged")}
            entry = Entry(run_id, damaged=bool(item.get("damaged")), **fields)
            out[str(run_id)] = ((stamp[0], stamp[1], stamp[2]), entry)
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def entries(root: Path, stats: Stats | None = None) -> dict[str, Entry]:
    """Every run of the registry at `root` (damaged ones included, marked), up to date with the run
    directories as they are now; the index file is brought up to date when anything changed."""
    stats = stats if stats is not None else Stats()
    path = index_path(root)
    known = _load(path)
    if known is None:
        stats.rebuilt = True
        known = {}
    current: dict[str, tuple[Stamp, Entry]] = {}
    for run_id, stamp in _scan(root):
        old = known.get(run_id)
        if old is not None and old[0] == stamp:
            current[run_id] = old
        else:
            current[run_id] = (stamp, _read_entry(root, run_id))
            stats.read += 1
    stats.dropped = len(set(known) - set(current))
    if stats.rebuilt or stats.read or stats.dropped:
        _write(path, current)
        stats.written = True
    return {run_id: entry for run_id, (_stamp_, entry) in current.items()}


def _write(path: Path, current: dict[str, tuple[Stamp, Entry]]) -> None:
    runs = {run_id: entry.as_data(stamp) for run_id, (stamp, entry) in sorted(current.items())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # compact, one line: the index is a cache read by every submit, not a record for people
        write_text_atomic(path, json.dumps({"version": VERSION, "runs": runs}, separators=(",", ":")))
    except (OSError, ClusterrunError):
        pass  # a read-only or full registry: the index is only a cache, the answer stands


def finished(root: Path, backend: str | None = None) -> dict[tuple[str, str], str]:
    """(snapshot id, config hash) -> the newest run that completed with them (on `backend` only, when
    given): the duplicate lookup of every submit."""
    found: dict[tuple[str, str], str] = {}
    for run_id, entry in entries(root).items():
        if entry.state == "completed" and not entry.damaged and backend in (None, entry.backend):
            key = (entry.snapshot_id, entry.config_hash)
            if key not in found or _creation_key(run_id) > _creation_key(found[key]):
                found[key] = run_id
    return found
