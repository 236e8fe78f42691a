"""Atomic JSON/text writes: write to a temporary file in the same directory, then rename over.

Modes follow the directory a file is written into, not the process umask: in a private directory (no
access for group or others, as every directory of a private registry) a new file is 0600 (0700 when
executable); in a group-shared one (setgid, as every directory of a shared registry) 0660 (0770);
elsewhere (an export into the user's own directory) the umask decides, as for any other program.
A full disk (ENOSPC, EDQUOT) is a DiskFull naming the file, never a bare OSError.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import itertools
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from clusterrun.errors import DiskFull

#: errnos that mean "no room left": the filesystem is full, or the user's quota is
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, default=str) + "\n"


def _read_umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once at import, so no thread ever sees a changed umask later


def is_shared_dir(info: os.stat_result) -> bool:
    """A group-shared directory: setgid (new entries keep its group) and open to the group."""
    return bool(info.st_mode & stat.S_ISGID) and info.st_mode & 0o070 == 0o070


def file_mode(directory: Path, executable: bool = False) -> int:
    """The mode of a new file in `directory` (see the module's docstring)."""
    try:
        info = os.stat(directory)
    except OSError:
        info = None
    if info is not None and is_shared_dir(info):
        return 0o770 if executable else 0o660
    if info is not None and info.st_mode & 0o077 == 0:
        return 0o700 if executable else 0o600
    return (0o777 if executable else 0o666) & ~_UMASK


def no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


#: path -> [inode, size, mtime_ns] of each file replaced inside noting_writes() (None: not noting)
_noted: contextvars.ContextVar[dict[str, list[int]] | None] = contextvars.ContextVar("noted", default=None)


@contextlib.contextmanager
def noting_writes() -> Iterator[dict[str, list[int]]]:
    """Inside the block, each file write_text_atomic replaces is noted as this process wrote it: its
    path -> [inode, size, mtime_ns], taken from its temporary file before the rename (a rename keeps
    all three). A later stat of the path that gives the same three sees this very write, whatever other
    process may have replaced the file since (records/rowcache.py keeps rows made from such files)."""
    noted: dict[str, list[int]] = {}
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


def write_text_atomic(
    path: Path, text: str | Iterable[str], mode: int | None = None, executable: bool = False
) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one, never half.
    `text` may come in pieces (an iterable of strings, written as they come). `mode` overrides the
    directory's (file_mode); a full disk raises DiskFull(path)."""
    if mode is None:
        mode = file_mode(path.parent, executable)
    try:
        fd, tmp = _temporary(path)
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(path) from None
        raise
    # No fsync: the rename alone gives readers the old file or the new one, never half of one, and on
    # ext4 (auto_da_alloc) and XFS the data of a replace-by-rename reaches disk before the rename does.
    # An fsync per file forced a journal commit each time: 1,000-member sweeps spent most of their
    # submission there (bench/sweep_submit.py).
    fill(fd, text, mode, Path(tmp), path)
    noted = _noted.get()
    try:
        info = os.stat(tmp, follow_symlinks=False) if noted is not None else None
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if no_space(exc) and not isinstance(exc, DiskFull):
            raise DiskFull(path) from None
        raise
    if noted is not None and info is not None:
        noted[os.fspath(path)] = [info.st_ino, info.st_size, info.st_mtime_ns]


def create_text(path: Path, text: str, mode: int | None = None, executable: bool = False) -> None:
    """A new file with `text`, created and written in place (no temporary file, no rename): for a
    directory no reader opens yet (a run directory made under a hidden name). FileExistsError when the
    file exists; `mode` as for write_text_atomic; a full disk raises DiskFull(path)."""
    if mode is None:
        mode = file_mode(path.parent, executable)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(path) from None
        raise
    fill(fd, text, mode, path, path)


_serial = itertools.count()


def _temporary(path: Path) -> tuple[int, str]:
    """A new private file beside `path`, `.<name>.<pid>.<n>.tmp`: unique to this process (one taken by
    a killed process with the same pid is skipped), without tempfile's random names (a sweep's
    submission writes a thousand)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    prefix = os.path.join(path.parent, f".{path.name}.{os.getpid()}.")
    for _ in range(100):
        name = f"{prefix}{next(_serial)}.tmp"
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def fill(fd: int, text: str | Iterable[str], mode: int, written: Path, target: Path) -> None:
    """Write `text` (or its pieces, one after the other: a big file made without holding it) to a new
    file's descriptor (closed after) and give the file `mode` when the umask took bits of it; on
    failure `written` is removed, and a full disk is DiskFull(target)."""
    try:
        try:  # plain writes on the descriptor: no file object (a sweep's submission writes thousands)
            for piece in [text] if isinstance(text, str) else batched(text):
                view = memoryview(piece.encode("utf-8"))
                while view:
                    view = view[os.write(fd, view) :]
            if os.fstat(fd).st_mode & 0o7777 != mode:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
    except BaseException as exc:
        written.unlink(missing_ok=True)
        if no_space(exc) and not isinstance(exc, DiskFull):
            raise DiskFull(target) from None
        raise


def batched(pieces: Iterable[str], size: int = 1 << 20) -> Iterator[str]:
    """Pieces joined into strings of about `size` characters: one write each, not one per line."""
    batch: list[str] = []
    length = 0
    for piece in pieces:
        batch.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(batch)
            batch, length = [], 0
    if batch:
        yield "".join(batch)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data))


def read_json(path: Path) -> Any:
    """The JSON in `path`; a symlink is never followed (OSError ELOOP): records are plain files."""
    return read_json_text(path)[0]


def read_json_text(path: Path) -> tuple[Any, str]:
    """read_json's data, and the text it was read from."""
    with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), encoding="utf-8") as handle:
        text = handle.read()
    return json.loads(text), text


def read_json_or_empty(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when the file is missing, unreadable, malformed or not an object."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def append_jsonl(path: Path, record: dict[str, Any], *more: dict[str, Any]) -> None:
    """Append one line per record, with one write(): a single write() of short lines is atomic for
    O_APPEND files. A new file gets its directory's mode (file_mode); a symlink is never followed
    (OSError ELOOP); a full disk raises DiskFull(path)."""
    line = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in (record, *more)).encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    mode = file_mode(path.parent)
    try:
        fd = os.open(path, flags, mode)
        try:
            info = os.fstat(fd)
            if info.st_size == 0 and info.st_mode & 0o777 != mode and info.st_uid == os.getuid():
                os.fchmod(fd, mode)  # just made: the umask may have taken the group bits a shared one needs
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(path) from None
        raise
