"""What a table of runs shows of each settled run, kept so that a wide `status` opens no run's records.

A settled run (it ended and its summary is collected: nothing a refresh asks can change it) is shown
from its manifest, its summary and its notes. `<registry>/.cache/status-rows.json` keeps, per such run,
the row a table shows (state, job, node, elapsed, metrics, attempt, tags) with the identity (inode,
size, mtime) of the three files it was made from, as one string (`ino:size:mtime` per file, `-` for a
file that is not there, joined by commas: the stamps of 10,000 runs held as lists of numbers were 4 MB
of a big first status's peak). A row is used only while all three are as they were:
records are replaced by rename and notes appended, so any change to any of them is seen, whoever made
it. It is a cache, never the only copy of anything: missing, corrupt, of another version or out of date,
rows are made again from the records, and the file is rewritten whole (write-to-temporary-then-rename,
safe on NFS: no lock, the last rename wins and every version of the file is correct).

A listing that filters or sorts (`--where`, `--sort`, `--state`, `--tag`, `--columns`) needs each run's
whole record (its params, data, resources, notes...), not only its tags: its rows, those and the status,
are kept apart in `<registry>/.cache/status-records.json` (RECORDS_FILE), by the same rules, so that
`status --where params.lr=0.1` over 10,000 ended runs reads one file, not 30,000, and the plain table's
file stays small.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.records.jsonio import read_json, write_text_atomic
from clusterrun.records.models import MANIFEST_FILE, NOTES_FILE, SUMMARY_FILE

VERSION = 2  #: 2: a row's stamps are one string (1: a list of [inode, size, mtime] lists)
SAVE_BATCH = 500  #: rows encoded at once when the file is written
CACHE_FILE = "status-rows.json"
RECORDS_FILE = "status-records.json"  #: the rows of listings that filter or sort: each run's whole record
#: the files a row is made from, in the order of its stamps
SOURCES = (MANIFEST_FILE, SUMMARY_FILE, NOTES_FILE)

Stamps = str  #: per source `inode:size:mtime_ns`, or `-` when it does not exist; joined by commas
MISSING = "-"


def cache_path(root: Path, name: str = CACHE_FILE) -> Path:
    return root / ".cache" / name


def stamps(run_dir: Path) -> Stamps:
    """The identity of the files a row is made from, as they are now."""
    out: list[str] = []
    base = os.fspath(run_dir)
    for name in SOURCES:
        try:
            info = os.stat(os.path.join(base, name), follow_symlinks=False)
        except OSError:
            out.append(MISSING)
            continue
        out.append(stamp_of(info.st_ino, info.st_size, info.st_mtime_ns))
    return ",".join(out)


def stamp_of(inode: int, size: int, mtime_ns: int) -> str:
    """One file's part of a row's stamps."""
    return f"{inode}:{size}:{mtime_ns}"


def merged(before: Stamps, written: Mapping[str, Sequence[int]]) -> Stamps:
    """`before`, with the files of `written` (name: [inode, size, mtime_ns], as a writer noted them) as
    they were written."""
    parts = before.split(",")
    return ",".join(
        stamp_of(*written[name][:3]) if name in written else part
        for name, part in zip(SOURCES, parts, strict=True)
    )


def _complete(found: Stamps) -> bool:
    """Whether the manifest and the summary were there (a row is kept only for a run with both)."""
    manifest, summary, _notes = found.split(",")
    return manifest != MISSING and summary != MISSING


class RowCache:
    """The cached rows of one registry: `get` a row still valid, `put` a new one, `save` if any changed."""

    def __init__(self, root: Path, name: str = CACHE_FILE) -> None:
        self.root = root
        self.path = cache_path(root, name)
        self.rows: dict[str, list[Any]] = self._load()
        # rows put by this process, as the JSON text of their entries: a row as text is a third of the
        # memory of its dicts (10,000 rows kept at the end of a big first status: about 10 MB less)
        self.encoded: dict[str, str] = {}
        # rows put by this process whose parts its caller holds anyway (put_held): made when saved
        self.held: dict[str, tuple[Stamps, Callable[[], dict[str, Any]]]] = {}
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
        if entry is None and run_id in self.encoded:
            entry = json.loads(self.encoded[run_id])
        if entry is None and run_id in self.held:
            made_from, row = self.held[run_id]
            entry = [made_from, row()]
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
        if self._admits(run_id, run_dir, before):
            self.encoded[run_id] = json.dumps([before, row], separators=(",", ":"))

    def put_held(self, run_id: str, run_dir: Path, before: Stamps, row: Callable[[], dict[str, Any]]) -> None:
        """`put` of the row `row()` makes, made when the rows are saved: for a caller that holds its parts
        anyway (a filtered listing keeps every run's whole record), which must not change before its
        last save. Neither a copy nor the text of 10,000 rows is held meanwhile (a first `status --where` of
        10,000 runs held 11 MB of their text besides the records)."""
        if self._admits(run_id, run_dir, before):
            self.held[run_id] = (before, row)

    def _admits(self, run_id: str, run_dir: Path, before: Stamps) -> bool:
        """Whether a row made from the run's files as they were `before` may be kept (see put); when it
        may, the run's other row, read or put, is forgotten for it."""
        if not _complete(before) or stamps(run_dir) != before:
            return False
        self._forget(run_id)
        self.changed = True
        return True

    def _forget(self, run_id: str) -> None:
        self.rows.pop(run_id, None)
        self.encoded.pop(run_id, None)
        self.held.pop(run_id, None)

    def save(self) -> None:
        """Write the rows if any changed (dropping the rows of runs that are gone); a read-only or full
        registry keeps the old file: the cache only saves time."""
        if not self.changed:
            return
        gone = [
            r
            for r in {*self.rows, *self.encoded, *self.held}
            if not os.path.isdir(os.path.join(self.root, r))
        ]
        for run_id in gone:
            self._forget(run_id)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, self._text())
            self.changed = False
        except (OSError, ClusterrunError):
            return

    def _text(self) -> Iterator[str]:
        """The file's JSON, `{"version": .., "rows": {..}}`, in pieces of SAVE_BATCH rows (the rows read
        encoded at once by json's C encoder, the rows put joined as they were encoded): the text of 10,000
        rows was 5 MB more at a big first status's peak."""
        yield f'{{"version":{VERSION},"rows":{{'
        rows = list(self.rows.items())
        first = True
        for start in range(0, len(rows), SAVE_BATCH):
            text = json.dumps(dict(rows[start : start + SAVE_BATCH]), separators=(",", ":"))
            yield ("" if first else ",") + text[1:-1]
            first = False
        encoded = list(self.encoded.items())
        for start in range(0, len(encoded), SAVE_BATCH):
            pieces = (f"{json.dumps(run_id)}:{text}" for run_id, text in encoded[start : start + SAVE_BATCH])
            yield ("" if first else ",") + ",".join(pieces)
            first = False
        held = list(self.held.items())
        for start in range(0, len(held), SAVE_BATCH):
            made = {run_id: [before, row()] for run_id, (before, row) in held[start : start + SAVE_BATCH]}
            yield ("" if first else ",") + json.dumps(made, separators=(",", ":"))[1:-1]
            first = False
        yield "}}"
