"""The registry index: what listings, filters and duplicate lookups need of every run, without opening
every run's manifest.

`<registry>/.cache/index.json` holds, per run, a few manifest fields (name, created, state, snapshot id,
config hash, sweep, backend, the run it reproduces) and the identity of the manifest file they were read
from (inode, size, mtime). It is a cache, never the only copy of anything: every use lists the registry
(one directory listing), stats the manifest of every run that may still change, re-reads only the
manifests that are new or changed since (a manifest is replaced by rename, so any rewrite changes its
inode), forgets runs that are gone, and rebuilds the whole file when it is missing, corrupt, edited (its
rows' digest) or of another version. Runs added or removed by anyone, and runs still going, are
therefore always seen.

A settled run (SETTLED_STATES: it ended) changes state only through Run.update, which appends its new
row to the journal (note_change); so a use does not stat settled runs' manifests, only a sixteenth of
them in turn (TURNS, TURN_SECONDS): a registry of 10,000 ended runs costs a submit one listing, not
10,000 stats, and a settled manifest edited by hand or by an older clusterrun is still seen within
about three minutes of use. A duplicate verdict is never taken from the index alone: the run it names
is read (services/plan.py).

A submit adds one run: its entry is appended to `index.journal` (one line; a line torn by writers on
NFS is skipped, and the stamps catch what it held), and index.json is written whole only when it is
missing or the journal has grown long, by write-to-temporary-then-rename (safe on NFS; no SQLite, no
lock): two processes writing at once each write a complete, correct index and the last rename wins.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records.jsonio import file_mode, write_text_atomic
from clusterrun.records.models import MANIFEST_FILE, Manifest
from clusterrun.records.paths import open_nofollow
from clusterrun.records.registry import _creation_key
from clusterrun.scheduler.base import TERMINAL

VERSION = 4  # 3: with the rows' digest; 4: with the run each run reproduces
INDEX_FILE = "index.json"
JOURNAL_FILE = "index.journal"  # JSON lines appended since index.json was last written whole
COMPACT_AFTER = 256  # journal lines before index.json is written whole again (or a tenth of the runs)

#: states a run leaves only through Run.update, which appends the change to the journal (note_change):
#: their rows are not stat'ed on every use, only a sixteenth of them per TURN_SECONDS in turn, so that a
#: manifest edited by hand or by an older clusterrun is still seen within TURNS * TURN_SECONDS of use
SETTLED_STATES = TERMINAL | {"submit_failed", "interrupted", "smoke_failed"}
TURNS = 16
TURN_SECONDS = 10
Stamp = tuple[int, int, int]  # (inode, size, mtime_ns) of the manifest an entry was read from
#: an entry as stored: a list, so that 10,000 of them parse in a few tens of milliseconds
_FIELDS = ("name", "created", "state", "snapshot_id", "config_hash", "sweep", "backend", "reproduces")
#: where a row holds the fields the duplicate lookup reads
_STATE, _SNAPSHOT, _HASH, _BACKEND = (
    4 + _FIELDS.index(f) for f in ("state", "snapshot_id", "config_hash", "backend")
)


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
    reproduces: str = ""  # the run it reproduces (`rm` finds a run's reproductions without reading them all)
    damaged: bool = False

    def row(self, stamp: Stamp) -> list[Any]:
        return [*stamp, int(self.damaged), *(getattr(self, f) for f in _FIELDS)]

    @classmethod
    def from_row(cls, run_id: str, row: list[Any]) -> tuple[Stamp, Entry]:
        if len(row) != 4 + len(_FIELDS) or not all(isinstance(v, str) for v in row[4:]):
            raise ValueError("an index row of another shape")
        name, created, state, snapshot_id, config_hash, sweep, backend, reproduces = row[4:]
        entry = cls(
            run_id, name, created, state, snapshot_id, config_hash, sweep, backend, reproduces, bool(row[3])
        )
        return (row[0], row[1], row[2]), entry


@dataclass
class Stats:
    """What the last `entries` call had to do (for tests and benchmarks)."""

    read: int = 0  # manifests read
    dropped: int = 0  # entries of runs that are gone
    rebuilt: bool = False  # the index file was missing, corrupt or of another version
    written: bool = False  # index.json written whole (and the journal emptied)
    appended: int = 0  # journal lines appended instead


def index_path(root: Path) -> Path:
    return root / ".cache" / INDEX_FILE


def _stamp(info: os.stat_result) -> Stamp:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _scan(root: Path, known: dict[str, Row], turn: int) -> tuple[list[str], list[tuple[str, Stamp]]]:
    """Every run directory (not a symlink) with a manifest, and the stamps of the manifests to compare:
    all but those of runs `known` as settled, that need no stat this time: ended (their state and
    fields change only through Run.update, which journals such a change), not damaged, and not in
    this turn's sixteenth. So a registry of 10,000 ended runs costs one listing and 600 stats, not
    10,000 stats. One plain loop: per run, it is most of what a submit spends on the registry."""
    names: list[str] = []
    stamped: list[tuple[str, Stamp]] = []
    add, get, stat, join = names.append, known.get, os.stat, os.path.join
    settled, crc32 = SETTLED_STATES, zlib.crc32
    try:
        listing = os.scandir(root)
    except OSError:
        return names, stamped
    with listing:
        for item in listing:
            name = item.name
            if name[0] == "." or not item.is_dir(follow_symlinks=False):
                continue
            row = get(name)
            if row is None or row[3] or row[_STATE] not in settled or crc32(name.encode()) % TURNS == turn:
                try:
                    info = stat(join(item.path, MANIFEST_FILE))
                except OSError:
                    continue
                stamped.append((name, _stamp(info)))
            add(name)
    return names, stamped


def _read_entry(root: Path, run_id: str) -> Entry:
    try:
        manifest = store.read_manifest(root / run_id)
    except ClusterrunError:
        return Entry(run_id, damaged=True)
    return _entry_of(run_id, manifest)


def _entry_of(run_id: str, manifest: Manifest) -> Entry:
    return Entry(
        run_id,
        name=manifest.name,
        created=manifest.created,
        state=manifest.state,
        snapshot_id=manifest.snapshot.id,
        config_hash=manifest.config_hash,
        sweep=manifest.sweep or "",
        backend=manifest.backend,
        reproduces=manifest.reproduces or "",
    )


Row = list[Any]  # as stored: inode, size, mtime_ns, damaged, then _FIELDS


def _is_row(row: Any) -> bool:
    return type(row) is list and len(row) == 4 + len(_FIELDS)


def _load(path: Path) -> dict[str, Row] | None:
    """The stored rows (of the right shape; a row of another shape is read again from its manifest).
    Rows are kept as stored: 10,000 entries made into objects cost more than the file's parse."""
    try:
        with open_nofollow(path) as handle:
            raw = handle.read()
        data = json.loads(raw)
        if data.get("version") != VERSION or data.get("digest") != _digest(
            raw[raw.index(_RUNS) + len(_RUNS) : -1]
        ):
            return None  # another version's, or edited since it was written: rebuilt
        return {str(run_id): row for run_id, row in data["runs"].items() if _is_row(row)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


_RUNS = b',"runs":'


def _digest(runs: bytes) -> str:
    """What index.json's rows hash to: a file edited since it was written (by hand, by a tool) is not
    taken at its word, since settled runs' rows are not checked against their manifests on every use."""
    return hashlib.blake2b(runs, digest_size=16).hexdigest()


def _replay(path: Path, known: dict[str, Row]) -> int:
    """Apply the journal's lines to `known` (a damaged line is skipped: the stamps catch what it held);
    returns how many lines it has."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    for line in lines:
        try:
            run_id, row = json.loads(line)
            if row is None:
                known.pop(str(run_id), None)
            elif _is_row(row):
                known[str(run_id)] = row
        except (ValueError, TypeError):
            continue
    return len(lines)


#: registry root -> its rows, inside `read_once()`: one submission reads the index once
_once: contextvars.ContextVar[dict[str, dict[str, Row]] | None] = contextvars.ContextVar("once", default=None)


@contextlib.contextmanager
def read_once() -> Iterator[None]:
    """Inside the block, each registry's index is brought up to date once and its rows reused: a
    submission asks it twice (the duplicate check, then the estimate's look back at completed runs),
    seconds apart, and both questions are about runs that had completed before it began."""
    token = _once.set({})
    try:
        yield
    finally:
        _once.reset(token)


def rows(root: Path, stats: Stats | None = None) -> dict[str, Row]:
    """Every run of the registry at `root` as an index row (see `entries`), up to date (inside
    `read_once()`: as it was brought up to date the first time)."""
    memo = _once.get()
    if memo is None:
        return _rows(root, stats)
    key = os.fspath(root)
    if key not in memo:
        memo[key] = _rows(root, stats)
    return memo[key]


def _rows(root: Path, stats: Stats | None = None) -> dict[str, Row]:
    stats = stats if stats is not None else Stats()
    path = index_path(root)
    journal = path.with_name(JOURNAL_FILE)
    known = _load(path)
    journal_lines = 0
    if known is None:
        stats.rebuilt = True
        known = {}
    else:
        journal_lines = _replay(journal, known)
    changes: list[tuple[str, Row | None]] = []
    turn = int(time.time() // TURN_SECONDS) % TURNS
    names, stamped = _scan(root, known, turn)
    for run_id, stamp in stamped:
        old = known.get(run_id)
        if old is None or old[0] != stamp[0] or old[1] != stamp[1] or old[2] != stamp[2]:
            row = _read_entry(root, run_id).row(stamp)
            known[run_id] = row
            changes.append((run_id, row))
            stats.read += 1
    current = known  # now holds every run listed, and those gone if any: the names are unique
    if len(current) > len(names):
        gone = set(current).difference(names)
        for run_id in gone:
            del current[run_id]
        stats.dropped = len(gone)
        changes += [(run_id, None) for run_id in sorted(gone)]
    if stats.rebuilt or journal_lines + len(changes) > max(COMPACT_AFTER, len(current) // 10):
        stats.written = _write(path, journal, current)
    elif changes:
        stats.appended = _append(journal, changes)
    return current


def entries(root: Path, stats: Stats | None = None) -> dict[str, Entry]:
    """Every run of the registry at `root` (damaged ones included, marked), up to date with the run
    directories as they are now; the index is brought up to date when anything changed: the changes
    appended to its journal, or index.json written whole when it was missing or the journal is long."""
    out: dict[str, Entry] = {}
    for run_id, row in rows(root, stats).items():
        try:
            out[run_id] = Entry.from_row(run_id, row)[1]
        except ValueError:  # a row of the right length holding other types: read as the manifest says
            out[run_id] = _read_entry(root, run_id)
    return out


def _write(path: Path, journal: Path, current: dict[str, Row]) -> bool:
    runs = dict(sorted(current.items()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # compact, one line: the index is a cache read by every submit, not a record for people
        rows_text = json.dumps(runs, separators=(",", ":"))
        digest = _digest(rows_text.encode("utf-8"))
        write_text_atomic(path, f'{{"version":{VERSION},"digest":"{digest}"{_RUNS.decode()}{rows_text}}}')
        journal.unlink(missing_ok=True)  # a line another process appends meanwhile: its stamp catches it
    except (OSError, ClusterrunError):
        return False  # a read-only or full registry: the index is only a cache, the answer stands
    return True


def _append(journal: Path, changes: list[tuple[str, list[Any] | None]]) -> int:
    text = "".join(json.dumps([run_id, row], separators=(",", ":")) + "\n" for run_id, row in changes)
    try:  # one write: whole lines; a line torn by a concurrent writer (NFS) is skipped when replayed
        fd = os.open(
            journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, file_mode(journal.parent)
        )
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        return 0
    return len(changes)


def finished(
    root: Path, backend: str | None = None, snapshot_id: str | None = None
) -> dict[tuple[str, str], str]:
    """(snapshot id, config hash) -> the newest run that completed with them (on `backend` only, when
    given; with `snapshot_id` only, when given): the duplicate lookup of every submit."""
    found: dict[tuple[str, str], str] = {}
    for run_id, row in rows(root).items():
        if (
            row[_STATE] == "completed"
            and not row[3]
            and (snapshot_id is None or row[_SNAPSHOT] == snapshot_id)
            and backend in (None, row[_BACKEND])
        ):
            key = (str(row[_SNAPSHOT]), str(row[_HASH]))
            held = found.get(key)
            if held is None or _creation_key(run_id) > _creation_key(held):
                found[key] = run_id
    return found


def newest_completed(root: Path, backend: str | None, hashes: set[str]) -> dict[str, str]:
    """config hash -> the newest run that completed with it (any code; on `backend` only, when given),
    for each hash in `hashes`: the runs an estimate without a timing of its own can look back on."""
    found: dict[str, str] = {}
    for (_snapshot, digest), run_id in finished(root, backend).items():
        if digest in hashes:
            held = found.get(digest)
            if held is None or _creation_key(run_id) > _creation_key(held):
                found[digest] = run_id
    return found


def note_change(run_dir: Path, manifest: Manifest) -> None:
    """A settled run's state changed (Run.update): its new row goes to the journal, since a use of the
    index does not stat a settled run's manifest (SETTLED_STATES). Nothing when there is no index."""
    journal = index_path(run_dir.parent).with_name(JOURNAL_FILE)
    try:
        stamp = _stamp(os.stat(run_dir / MANIFEST_FILE))
    except OSError:
        return
    if journal.parent.is_dir():
        _append(journal, [(run_dir.name, _entry_of(run_dir.name, manifest).row(stamp))])


def note_written(root: Path, written: list[tuple[str, Manifest, Stamp]]) -> None:
    """A submission's runs as it left them (run id, the manifest it wrote, that file's stamp taken right
    after: inode, size, mtime_ns): their rows go to the journal in one append, so that the next use of
    the index does not read every member of a large sweep again. A row whose stamp is no longer the
    file's (someone rewrote it since) is re-read as any changed run is. Nothing when there is no index."""
    journal = index_path(root).with_name(JOURNAL_FILE)
    if written and journal.parent.is_dir():
        _append(journal, [(run_id, _entry_of(run_id, m).row(stamp)) for run_id, m, stamp in written])
