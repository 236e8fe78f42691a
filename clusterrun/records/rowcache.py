"""What a table of runs shows of each settled run, kept so that a wide `status` opens no run's records.

A settled run (it ended and its summary is collected: nothing a refresh asks can change it) is shown
from its manifest, its summary and its notes. `<registry>/.cache/status-rows.json` keeps, per such run,
the row a table shows (state, job, node, elapsed, metrics, attempt, tags) with the identity (inode,
size, mtime) of the three files it was made from. A row is used only while all three are as they were:
records are replaced by rename and notes appended, so any change to any of them is seen, whoever made
it. It is a cache, never the only copy of anything: missing, corrupt, of another version or out of date,
rows are made again from the records, and the file is rewritten whole (write-to-temporary-then-rename,
safe on NFS: no lock, the last rename wins and every version of the file is correct).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.records.jsonio import read_json, write_text_atomic
from clusterrun.records.models import MANIFEST_FILE, NOTES_FILE, SUMMARY_FILE

VERSION = 1
SAVE_BATCH = 500  #: rows encoded at once when the file is written
CACHE_FILE = "status-rows.json"
#: the files a row is made from, in the order of its stamps
SOURCES = (MANIFEST_FILE, SUMMARY_FILE, NOTES_FILE)

Stamps = list[list[int] | None]  # per source: [inode, size, mtime_ns], or None when it does not exist


def cache_path(root: Path) -> Path:
    return root / ".cache" / CACHE_FILE


def stamps(run_dir: Path) -> Stamps:
    """The identity of the files a row is made from, as they are now."""
    out: Stamps = []
    base = os.fspath(run_dir)
    for name in SOURCES:
        try:
            info = os.stat(os.path.join(base, name), follow_symlinks=False)
        except OSError:
            out.append(None)
            continue
        out.append([info.st_ino, info.st_size, info.st_mtime_ns])
    return out


class RowCache:
    """The cached rows of one registry: `get` a row still valid, `put` a new one, `save` if any changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = cache_path(root)
        self.rows: dict[str, list[Any]] = self._load()
        self.changed = False
        self.hits = 0

    def _load(self) -> dict[str, list[Any]]:
        try:
            data = read_json(self.path)
            if not isinstance(data, dict) or data.get("version") != VERSION:
                return {}
            rows = data["rows"]
            return rows if isinstance(rows, dict) else {}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def get(self, run_id: str, current: Stamps) -> dict[str, Any] | None:
        """The run's cached row, if the files it was made from are as `current` (stamps()) says they
        are now; else None."""
        entry = self.rows.get(run_id)
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], dict):
            return None
        if entry[0] != current:
            return None
        self.hits += 1
        return entry[1]

    def put(self, run_id: str, run_dir: Path, before: Stamps, row: dict[str, Any]) -> None:
        """Keep a settled run's row, made from its files as they were `before` it was read: kept only if
        they are still the same (nothing changed them meanwhile, not even this refresh, which may have
        just collected the summary: the row is kept at the next one) and the run has a summary."""
        if before[0] is None or before[1] is None or stamps(run_dir) != before:
            return
        self.rows[run_id] = [before, row]
        self.changed = True

    def save(self) -> None:
        """Write the rows if any changed (dropping the rows of runs that are gone); a read-only or full
        registry keeps the old file: the cache only saves time."""
        if not self.changed:
            return
        for run_id in [r for r in self.rows if not os.path.isdir(os.path.join(self.root, r))]:
            del self.rows[run_id]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, self._text())
            self.changed = False
        except (OSError, ClusterrunError):
            return

    def _text(self) -> Iterator[str]:
        """The file's JSON, `{"version": .., "rows": {..}}`, in pieces of SAVE_BATCH rows (each encoded
        at once by json's C encoder): the text of 10,000 rows was 5 MB more at a big first status's peak."""
        yield f'{{"version":{VERSION},"rows":{{'
        rows = list(self.rows.items())
        for start in range(0, len(rows), SAVE_BATCH):
            text = json.dumps(dict(rows[start : start + SAVE_BATCH]), separators=(",", ":"))
            yield ("," if start else "") + text[1:-1]
        yield "}}"
