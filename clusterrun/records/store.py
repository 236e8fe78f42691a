"""The one loader and the one writer of a run directory's JSON records: manifest.json, summary.json,
sweep.json and notes.jsonl. Records are read through their models (records/models.py, any schema version
ever written) and written from them, atomically, with sorted keys (jsonio); nothing else writes these
files. Every write redacts secrets (config/redact.py) and gets the registry's private or group-shared
mode; no record is read or written through a symlink out of the registry (records/paths.py).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, TypeVar

from clusterrun.config.redact import may_need_redaction, redact_data
from clusterrun.errors import ClusterrunError, RunNotFound
from clusterrun.records.jsonio import append_jsonl, create_text, read_json_text, write_text_atomic
from clusterrun.records.models import (
    MANIFEST_FILE,
    NOTES_FILE,
    SUMMARY_FILE,
    SWEEP_FILE,
    DamagedRecord,
    Manifest,
    Note,
    RecordModel,
    Summary,
    SweepRecord,
    load,
)
from clusterrun.records.paths import SNAPSHOT_STORE, open_nofollow, read_text, rebased, run_file
from clusterrun.records.prettyjson import (
    INDENT,
    compact,
    join_members,
    member_texts,
    nested,
    record_text,
    split_members,
)
from clusterrun.records.rowcache import stamp_of

R = TypeVar("R", bound=RecordModel)


def _read(model: type[R], path: Path, where: str) -> R:
    """Raises FileNotFoundError when missing, DamagedRecord or RecordTooNew (ClusterrunErrors) else;
    OutsideRegistry (a DamagedRecord) when the file is a symlink out of the registry."""
    return _read_text(model, path, where)[0]


def _read_text(model: type[R], path: Path, where: str) -> tuple[R, Any, str]:
    """_read's record, with the data and the text it was read from."""
    path = run_file(path.parent, path.name)
    try:
        data, text = read_json_text(path)
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise DamagedRecord(
            f"{where} is not valid JSON ({exc})",
            hint="the record was damaged outside clusterrun; restore it from a backup",
        ) from None
    except OSError as exc:
        raise DamagedRecord(
            f"{where} cannot be read ({exc.strerror or exc})", hint="check the file's permissions"
        ) from None
    return load(model, data, where), data, text


def read_manifest(run_dir: Path) -> Manifest:
    """A run's manifest; RunNotFound when it has none, a ClusterrunError when it cannot be read. It
    carries the identity of the file as it was before the read (RecordModel._file_stamp) when that
    identity is settled: a file replaced meanwhile never passes for the one read."""
    path = run_dir / MANIFEST_FILE
    before = file_stamp(path)
    try:
        manifest = _read(Manifest, path, f"run {run_dir.name}: {MANIFEST_FILE}")
    except FileNotFoundError:
        raise RunNotFound(
            f"run {run_dir.name} has no {MANIFEST_FILE}", hint="is this a clusterrun run?"
        ) from None
    manifest._file_stamp = before if settled(before) else None
    _manifest_here(manifest, run_dir)
    return manifest


def _where_written(recorded_run_dir: str, run_dir: Path) -> tuple[str, str] | None:
    """(the registry a record of `run_dir` was written in, the registry it is in now) when they differ:
    the registry was moved or copied whole; None when it is where it was written (or the record names
    another run's directory: its paths are left as they are)."""
    if recorded_run_dir == os.fspath(run_dir):  # read where it was written: the usual case, one compare
        return None
    recorded_root, name = os.path.split(recorded_run_dir.rstrip(os.sep))
    root = os.fspath(run_dir.parent)
    if not recorded_root or recorded_root == root or name != run_dir.name:  # (read where it was written)
        return None
    root = _absolute(root)
    if recorded_root == root:
        return None
    return recorded_root, root


@functools.lru_cache(maxsize=64)
def _absolute(root: str) -> str:
    """A registry root made absolute, once per process (every record of a moved registry asks)."""
    return os.path.abspath(root)


def _manifest_here(manifest: Manifest, run_dir: Path) -> None:
    """A manifest read in a registry moved or copied since it was written: the paths it holds inside
    the registry (its run directory, working copy, scheduler folder, snapshot) as they are now, instead
    of paths to where the registry was (records/paths.py: rebased). They stay so on disk until the
    manifest is next written whole."""
    moved = _where_written(manifest.run_dir, run_dir)
    if moved is None:
        return
    for name in ("run_dir", "workdir", "scheduler_folder"):
        _rebase(manifest, name, moved)
    _rebase(manifest.snapshot, "path", moved)


def _rebase(part: RecordModel, name: str, moved: tuple[str, str]) -> None:
    """`part.name` (a path) rebased, set only when that changes it (a field the record lacks stays
    unset: the record reads, and is rewritten, as it was)."""
    recorded = part.__dict__.get(name)
    if isinstance(recorded, str) and recorded:
        here = rebased(recorded, *moved)
        if here != recorded:  # a str for a str field, set where pydantic keeps it: no validation per
            part.__dict__[name] = here  # assignment (10,000 runs of a moved registry: ~0.3 s of it)


def manifest_members(run_dir: Path, manifest: Manifest) -> Members | None:
    """The manifest file's text by member (for rewrite_manifest), when the file is exactly what
    write_manifest makes of `manifest` as read (its keys: the fields it holds); else None."""
    try:
        text = read_text(run_dir / MANIFEST_FILE)
    except OSError:
        return None
    return split_members(text, manifest.model_fields_set)


#: A record replaced this recently (seconds) has a stamp that may not tell it apart from another: file
#: times tick coarsely (a few ms), and two replacements within one tick can reuse an inode and a size.
STAMP_SETTLE = 2.0

Stamp = tuple[int, int, int]


def file_stamp(path: Path) -> Stamp | None:
    """What changes whenever a record is replaced (by rename: a new inode): (inode, size, mtime_ns)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def settled(stamp: Stamp | None, settle: float = STAMP_SETTLE) -> bool:
    """Whether a stamp identifies its file: it was last replaced more than `settle` seconds ago."""
    return stamp is not None and time.time_ns() - stamp[2] > settle * 1e9


def read_summary(run_dir: Path) -> Summary | None:
    """A run's summary; None when there is none yet, or it is damaged (it is collected again).
    A summary written by a newer clusterrun is an error (RecordTooNew), never overwritten."""
    try:
        summary = _read(Summary, run_dir / SUMMARY_FILE, f"run {run_dir.name}: {SUMMARY_FILE}")
    except (FileNotFoundError, DamagedRecord):
        return None
    _summary_here(summary, run_dir)
    return summary


def read_summary_nested(run_dir: Path) -> str | None:
    """`prettyjson.nested(read_summary(run_dir).to_data())`, None where read_summary gives None, without
    encoding the summary again when its file holds exactly that data, read where it was written, as
    write_summary lays it out: then it is the file's own text, indented one level (`status --json` of
    10,000 runs spent most of its time encoding their summaries again). A file laid out otherwise (by
    hand) that holds the same data gives the same JSON, with its own spacing."""
    where = f"run {run_dir.name}: {SUMMARY_FILE}"
    try:
        summary, data, text = _read_text(Summary, run_dir / SUMMARY_FILE, where)
    except (FileNotFoundError, DamagedRecord):
        return None
    moved = _summary_here(summary, run_dir)
    shown = summary.to_data()
    if _own_text(moved, shown, data, text):
        return _nested_text(text)
    return nested(shown)


def _own_text(moved: bool, shown: Any, data: Any, text: str) -> bool:
    """Whether a summary file's text is what encoding its record gives: read where it was written (not
    `moved`), laid out as write_summary lays it out, holding exactly `shown` (its to_data())."""
    return not moved and _laid_out(text) and compact(shown) == compact(data)


def _laid_out(text: str) -> bool:
    """A record's text as write_record lays one out (an indented object, a newline at its end)."""
    return text.startswith("{\n") and text.endswith("\n}\n")


def _nested_text(text: str) -> str:
    """A record's file text (_laid_out) one level in, as prettyjson.nested would encode its data: valid
    JSON has no newline inside a string, so each is layout, and one more indent nests it."""
    return text[:-1].replace("\n", "\n" + INDENT)


def summary_as_written(run_dir: Path) -> bool:
    """Whether read_summary_nested gives the summary file's own text (indented): it holds what
    `Summary.to_data()` gives of it, laid out as write_summary lays it out, where it was written. A listing
    keeps this in its row of the run (services/listing.py), so that `status --json` may take the text
    itself while the file is the same one (summary_text_verified)."""
    try:
        summary, data, text = _read_text(
            Summary, run_dir / SUMMARY_FILE, f"run {run_dir.name}: {SUMMARY_FILE}"
        )
    except (FileNotFoundError, ClusterrunError):
        return False
    moved = _summary_here(summary, run_dir)
    return _own_text(moved, summary.to_data(), data, text) and _names_its_run(text, run_dir)


def _names_its_run(text: str, run_dir: Path) -> bool:
    """Whether a summary's text names `run_dir` as its run's directory (it was written there)."""
    return f'"run_dir": {json.dumps(os.fspath(run_dir))}' in text


def summary_text_verified(run_dir: Path, stamp: str) -> str | None:
    """read_summary_nested's text of a summary found as written (summary_as_written) when its file had
    `stamp` (rowcache.stamp_of: inode, size, mtime): the file's own text, indented, without parsing or
    validating it again, while the file is that one and names this run's directory; None otherwise (the
    caller reads it as read_summary_nested does)."""
    try:
        with open_nofollow(run_file(run_dir, SUMMARY_FILE)) as handle:
            info = os.fstat(handle.fileno())
            if stamp_of(info.st_ino, info.st_size, info.st_mtime_ns) != stamp:
                return None
            text = handle.read().decode("utf-8")
    except (OSError, ClusterrunError, UnicodeDecodeError):
        return None
    if not _laid_out(text) or not _names_its_run(text, run_dir):
        return None
    return _nested_text(text)


def _summary_here(summary: Summary, run_dir: Path) -> bool:
    """A summary read in a registry moved or copied whole since it was written: its run directory and
    logs where they are now (True; False when it is where it was written)."""
    moved = _where_written(summary.run_dir, run_dir)
    if moved is None:
        return False
    _rebase(summary, "run_dir", moved)
    for name in ("stdout", "stderr", "traceback"):
        _rebase(summary.logs, name, moved)
    if summary.logs.scheduler:
        summary.logs.scheduler = [rebased(path, *moved) for path in summary.logs.scheduler]
    return True


def read_sweep(sweep_dir: Path) -> SweepRecord:
    """A sweep's record; RunNotFound when there is none, a ClusterrunError when it cannot be read."""
    try:
        record = _read(SweepRecord, sweep_dir / SWEEP_FILE, f"sweep {sweep_dir.name}: {SWEEP_FILE}")
    except FileNotFoundError:
        raise RunNotFound(
            f"sweep {sweep_dir.name} has no {SWEEP_FILE}",
            hint="list sweeps and runs with 'clusterrun status'",
        ) from None
    store_dir = os.path.dirname(record.snapshot.path)  # <registry>/.snapshots/<id>, where it was written
    if os.path.basename(store_dir) == SNAPSHOT_STORE:
        root = os.path.dirname(store_dir)
        here = _absolute(os.fspath(sweep_dir.parent))
        _rebase(record.snapshot, "path", (root, here))  # a registry moved or copied whole
    return record


def write_record(path: Path, data: Any, new: bool = False) -> None:
    """Every JSON record goes to disk here: secrets redacted (config/redact.py: URL passwords, tokens,
    values of secret-named keys), atomically, with the directory's private or group-shared mode
    (jsonio.file_mode), never through a symlink out of the registry; DiskFull when there is no room.
    `new`: the file is created in place instead (FileExistsError if it exists), for a directory no
    reader sees yet (Registry.create's hidden directory), where no temporary file and rename are needed."""
    text = record_text(data)  # jsonio.dumps's text, made faster (prettyjson)
    if may_need_redaction(text):  # most records hold nothing to redact: written without a walk
        text = record_text(redact_data(data))
    _write_text(path, text, new)


#: A manifest's text as its top-level members (prettyjson.member_texts), for a later rewrite_manifest.
Members = dict[str, str]


def write_manifest(run_dir: Path, manifest: Manifest, new: bool = False) -> Members | None:
    """Write a run's manifest (`new`: see write_record). Returns its text as members, for
    rewrite_manifest, or None when it is unusual or held something to redact (write it whole again)."""
    data = manifest.to_data()
    members = member_texts(data)
    text = join_members(members) if members is not None else ""
    if members is None or may_need_redaction(text):
        write_record(run_dir / MANIFEST_FILE, data, new)
        return None
    _write_text(run_dir / MANIFEST_FILE, text, new)
    return members


def rewrite_manifest(run_dir: Path, members: Members, changed: dict[str, Any]) -> Members | None:
    """Write again the manifest last written as `members`, with the top-level fields in `changed` (JSON
    data, e.g. `model_dump(include=...)` of the updated manifest) replaced: only those are encoded, and
    the text is the one write_manifest would write. Returns the new members; None, with nothing written,
    when the changed fields are unusual or may need redaction (then write_manifest it whole)."""
    fresh = member_texts(changed)
    if fresh is None or may_need_redaction("".join(fresh.values())):
        return None
    members = members | fresh
    _write_text(run_dir / MANIFEST_FILE, join_members(members), False)
    return members


def _write_text(path: Path, text: str, new: bool) -> None:
    if new:
        create_text(path, text)
    else:
        write_text_atomic(run_file(path.parent, path.name), text)


def write_summary(run_dir: Path, summary: Summary) -> None:
    write_record(run_dir / SUMMARY_FILE, summary.to_data())


def write_sweep(sweep_dir: Path, record: SweepRecord) -> None:
    write_record(sweep_dir / SWEEP_FILE, record.to_data())


def update_sweep(sweep_dir: Path, **fields: Any) -> SweepRecord:
    """Re-write a sweep's record with new (declared, validated) fields; returns it. Only the submission
    that made the sweep writes it, so no lock is needed."""
    record = read_sweep(sweep_dir)
    record.apply("update_sweep", **fields)
    write_sweep(sweep_dir, record)
    return record


def append_note(run_dir: Path, note: Note) -> None:
    """Add one line to a run's notes.jsonl (a single short append: concurrent writers never mix lines)."""
    append_jsonl(run_file(run_dir, NOTES_FILE), redact_data(note.to_data()))


def read_notes(run_dir: Path) -> list[Note]:
    """A run's notes, oldest first; [] without any. A damaged line is skipped (the others stay readable)."""
    try:
        lines = run_file(run_dir, NOTES_FILE).read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise DamagedRecord(
            f"run {run_dir.name}: {NOTES_FILE} cannot be read ({exc.strerror or exc})",
            hint="check the file's permissions",
        ) from None
    notes: list[Note] = []
    for line in lines:
        try:
            notes.append(Note.model_validate_json(line))
        except ValueError:
            continue
    return notes
