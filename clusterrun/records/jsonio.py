"""Atomic JSON/text writes: write to a temporary file in the same directory, then rename over."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, default=str) + "\n"


def _read_umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once at import, so no thread ever sees a changed umask later


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one, never half."""
    if mode is None:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            # No fsync: the rename alone gives readers the old file or the new one, never half of one,
            # and on ext4 (auto_da_alloc) and XFS the data of a replace-by-rename reaches disk before the
            # rename does. An fsync per file forced a journal commit each time: 1,000-member sweeps
            # spent most of their submission there (bench/sweep_submit.py).
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_json_or_empty(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when the file is missing, unreadable, malformed or not an object."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line; a single write() of a short line is atomic for O_APPEND files."""
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
