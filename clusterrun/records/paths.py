"""Paths from records, and files in run directories, are trusted only inside the registry.

Anyone who can write to a registry (a shared project directory) can edit a manifest or plant a symlink
in a run directory. So every path a reader takes from a record (`git.patch_file`, `snapshot.path`,
`scheduler_folder`, log paths) and every file it opens in a run directory goes through here: resolved
with every symlink followed, and refused with OutsideRegistry (a DamagedRecord: one line, exit 3) unless
it stays inside the registry, or for a snapshot inside the registry's snapshot store. `logs`, `show`,
`compare`, `site` and `status` therefore never print, copy, parse or write a file outside the registry,
whatever a record or a symlink says.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import BinaryIO

from clusterrun.records.names import DamagedRecord

#: The registry's snapshot store (inputs/snapshot.py SNAPSHOT_DIR; tests/test_security.py checks they agree).
SNAPSHOT_STORE = ".snapshots"

_HINT = (
    "a record or a symlink in the run directory points outside the registry, and clusterrun never reads "
    "or writes there; remove the link or restore the record from a backup"
)


class OutsideRegistry(DamagedRecord):
    """A path from a record, or a symlink in a run directory, that leads out of the registry."""


def _within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def inside(path: Path | str, root: Path, what: str = "", where: str = "the run registry") -> Path:
    """`path` resolved (every symlink followed; it need not exist) when it stays inside `root`, which is
    resolved too; OutsideRegistry otherwise. Relative paths are relative to the current directory."""
    real_root = _real_root(os.fspath(root)) if os.path.isabs(root) else os.path.realpath(root)
    real = os.path.realpath(path)
    if not _within(real, real_root):
        label = f"{what}: {path}" if what else str(path)
        raise OutsideRegistry(f"{label} leads out of {where} {root} (to {real})", hint=_HINT)
    return Path(real)


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    """A registry root or snapshot store, resolved once per process: a refresh checks a few thousand
    paths against the same root, each resolution an lstat per component."""
    return os.path.realpath(root)


def inside_registry(path: Path | str, registry_root: Path, what: str = "") -> Path:
    """`path` resolved, when it stays inside the registry; OutsideRegistry otherwise."""
    return inside(path, registry_root, what)


def snapshot_path(recorded: Path | str, registry_root: Path, what: str = "snapshot.path") -> Path:
    """A recorded snapshot directory, resolved, when it lies in the registry's snapshot store (none
    recorded: the store itself, where no snapshot is found)."""
    store = registry_root / SNAPSHOT_STORE
    return inside(recorded or store, store, what, "the snapshot store")


def run_file(run_dir: Path, name: str | Path) -> Path:
    """`run_dir / name` when no symlink on the way leads out of the registry (run_dir's parent);
    OutsideRegistry otherwise. Cheap for the usual case: one lstat per component of `name`, and a full
    resolution only when one of them is a symlink (or `name` is absolute or climbs with '..')."""
    if isinstance(name, str) and "/" not in name and os.sep not in name and name not in ("", ".", ".."):
        try:  # the usual case, one plain file name: one lstat, no path parsing
            mode = os.lstat(os.path.join(run_dir, name)).st_mode
        except OSError:
            return run_dir / name
        if stat.S_ISLNK(mode):
            inside_registry(run_dir / name, run_dir.parent, f"run {run_dir.name}: {name}")
        return run_dir / name
    path = run_dir / name
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        inside_registry(path, run_dir.parent, f"run {run_dir.name}: {name}")
        return path
    current = run_dir
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return path  # missing: nothing further to follow
        if stat.S_ISLNK(mode):
            inside_registry(path, run_dir.parent, f"run {run_dir.name}: {name}")
            return path
    return path


def rebased(recorded: str, recorded_root: str, root: str) -> str:
    """`recorded`, a path a record holds, in the registry where the record is now: a path inside
    `recorded_root` (the registry the record was written in) moved to the same place inside `root` (the
    registry moved or copied whole: `mv ~/project ~/work/`); any other path as it is. A path is only
    ever moved into the registry, so every check of this module still applies to what it gives."""
    if not recorded or recorded_root == root or not _within(recorded, recorded_root):
        return recorded
    inner = recorded[len(recorded_root.rstrip(os.sep)) + 1 :]  # what follows the root ('' for the root)
    return os.path.join(root, inner) if inner else root


def readable(path: Path, registry_root: Path) -> Path | None:
    """`path` when it stays inside the registry, else None: for readers that skip such a file."""
    try:
        inside_registry(path, registry_root)
    except OutsideRegistry:
        return None
    return path


def open_nofollow(path: Path) -> BinaryIO:
    """`path` opened for reading, unless it is a symlink (OSError ELOOP): a run's files are plain files,
    so a link planted in place of one is never followed."""
    return open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def read_text(path: Path) -> str:
    """The text of a run's file (never through a symlink: OSError), undecodable bytes replaced."""
    with open_nofollow(path) as handle:
        return handle.read().decode("utf-8", errors="replace")


def readable_run_file(run_dir: Path, name: str | Path) -> Path | None:
    """run_file(), or None when it leads out of the registry: for readers that skip such a file."""
    try:
        return run_file(run_dir, name)
    except OutsideRegistry:
        return None


def file_size(path: Path) -> int:
    """The file's size in bytes; 0 when it is missing or cannot be looked at."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
