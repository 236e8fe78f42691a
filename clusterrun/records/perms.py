"""Who may read a registry: private by default, group-shared on request.

A new registry is private: its directories 0700, its files 0600 (0700 for scripts), whatever the
process umask. A group-shared registry (one directory a team's members all submit into and read) is
asked for with CLUSTERRUN_SHARED=group when the registry is first used, or made by hand with
`chgrp TEAM runs && chmod 2770 runs`: then directories are 2770 (setgid, so everything below keeps the
team's group) and files 0660. Which one a registry is, is read from its root directory each time, so
every member of the team (and every job) follows it without configuring anything.

Files are given their mode where they are written (jsonio.file_mode); directories here; and while a
submission writes (snapshot, smoke test, the scheduler's folder, sbatch, which passes the umask on to
the job), the process umask is 077 (007 when shared), restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from clusterrun.errors import DiskFull, UsageError
from clusterrun.records.jsonio import is_shared_dir, no_space

SHARED_ENV = "CLUSTERRUN_SHARED"
PRIVATE_DIR, SHARED_DIR = 0o700, 0o2770
PRIVATE_UMASK, SHARED_UMASK = 0o077, 0o007


def requested() -> bool | None:
    """CLUSTERRUN_SHARED: 'group' -> True, 'private' -> False, unset or empty -> None (the registry's
    root decides); anything else is a UsageError."""
    value = os.environ.get(SHARED_ENV, "").strip().lower()
    if not value:
        return None
    if value in ("group", "private"):
        return value == "group"
    raise UsageError(
        f"{SHARED_ENV}={value!r} is not a registry sharing mode",
        hint=f"use {SHARED_ENV}=group (a registry the group shares) or {SHARED_ENV}=private, or unset it",
    )


def is_shared(root: Path) -> bool:
    """The registry at `root` is group-shared (its root is setgid and open to its group)."""
    try:
        return is_shared_dir(os.stat(root))
    except OSError:
        return bool(requested())


def describe(root: Path) -> str:
    """One line for doctor: who may read the registry."""
    try:
        info = os.stat(root)
    except OSError:
        mode = "group-shared (2770)" if requested() else "private (0700)"
        return f"{root} does not exist yet; it will be created {mode}"
    octal = f"{stat.S_IMODE(info.st_mode):04o}"
    if is_shared_dir(info):
        return f"{root} is group-shared ({octal}, group {info.st_gid})"
    if info.st_mode & 0o077 == 0:
        return f"{root} is private ({octal})"
    return f"{root} is readable by others ({octal})"


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(PermissionError):  # a teammate's directory in a shared registry: theirs
        os.chmod(path, mode)


def make_dir(path: Path, parents: bool = False) -> bool:
    """Create `path` with its parent's policy (2770 under a shared directory, else 0700); False when it
    existed. A full disk is DiskFull."""
    parent = path.parent
    if parents and not parent.exists():
        make_dir(parent, parents=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return False
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(path) from None
        raise
    try:
        shared = is_shared_dir(os.stat(parent))
    except OSError:
        shared = False
    if shared:
        _chmod(path, SHARED_DIR)
    return True


def like_parent(path: Path) -> None:
    """A directory made private by its maker (tempfile.mkdtemp: 0700) opened to the group when its
    parent is group-shared, as if make_dir had made it."""
    with contextlib.suppress(OSError):
        if is_shared_dir(os.stat(path.parent)):
            _chmod(path, SHARED_DIR)


def prepare_root(root: Path) -> None:
    """Create the registry's root private (or shared when CLUSTERRUN_SHARED=group asks), or bring an
    existing one in line: CLUSTERRUN_SHARED=group shares it, =private makes it private; without the
    variable a root nobody else may write (a registry created before clusterrun made them private,
    0755) is made private, and a shared one is left as it is."""
    wanted = requested()
    if not root.is_dir():
        if root.parent != root and not root.parent.exists():
            root.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(root, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            if no_space(exc):
                raise DiskFull(root) from None
            raise
    info = os.stat(root)
    current = stat.S_IMODE(info.st_mode)
    if wanted is True and not is_shared_dir(info):
        _chmod(root, SHARED_DIR)
    elif wanted is False and current != PRIVATE_DIR:
        _chmod(root, PRIVATE_DIR)
    elif wanted is None and not is_shared_dir(info) and current & 0o022 == 0 and current & 0o077:
        _chmod(root, PRIVATE_DIR)  # readable by others only because of the umask it was made with


def umask_for(root: Path) -> int:
    return SHARED_UMASK if is_shared(root) else PRIVATE_UMASK


@contextlib.contextmanager
def writing(root: Path) -> Iterator[None]:
    """Run a submission's writes under the registry's umask (077, or 007 when shared): what other
    programs create for it (tar into the snapshot, submitit's folder, the smoke test's files; sbatch
    hands the umask on to the job) is as private as the records. The caller's umask is restored."""
    previous = os.umask(umask_for(root))
    try:
        yield
    finally:
        os.umask(previous)
