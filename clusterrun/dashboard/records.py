"""What the dashboard reads from the registry: the one place that knows the record files.

Records are loaded through the typed models (records/store.py) and handed on as plain JSON data, so the
pages render any schema version the models read. Nothing here executes anything from a record, and no
file is read through a symlink or a path that leads out of the registry (records/paths.py): a page never
shows another file's content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.analysis import history, tfevents
from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records.jsonio import read_json_or_empty
from clusterrun.records.paths import file_size, open_nofollow, read_text, readable_run_file
from clusterrun.records.summary import read_tail

LOG_TAIL_BYTES = 16 * 1024
PATCH_MAX_BYTES = 256 * 1024
#: Files whose change means the run's pages must be made again (with the metrics file of its config).
WATCHED = (
    "manifest.json",
    "summary.json",
    "stdout.log",
    "stderr.log",
    history.STDOUT_HISTORY,
    "events.jsonl",
)


def signature(run_dir: Path, metrics_file: str = "metrics.jsonl") -> list[Any]:
    """Sizes and mtimes of the files a run's pages are made from: equal signatures, equal pages."""
    out: list[Any] = []
    for name in (*WATCHED, metrics_file):
        try:
            info = os.stat(run_dir / name)
            out.append([info.st_size, info.st_mtime_ns])
        except OSError:
            out.append(None)
    if os.path.isdir(run_dir / metrics_file):  # a log folder's mtime stays as its files grow
        out.append(tfevents.files_signature(history.source_files(run_dir / metrics_file)))
    return out


def file_signature(path: Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


@dataclass
class RunRecord:
    """One run as the dashboard sees it (JSON data throughout)."""

    id: str
    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any] | None
    problem: str = ""  # why the record could not be read, when it could not

    @property
    def config(self) -> dict[str, Any]:
        config = self.manifest.get("config")
        return config if isinstance(config, dict) else {}

    @property
    def state(self) -> str:
        if self.problem:
            return "damaged"
        return str((self.summary or {}).get("state") or self.manifest.get("state") or "unknown")

    @property
    def sources(self) -> history.Sources:
        return history.Sources.from_config(self.config)


def read_run(run_dir: Path) -> RunRecord:
    try:
        manifest = store.read_manifest(run_dir).to_data()
        summary_model = store.read_summary(run_dir)
    except ClusterrunError as exc:
        return RunRecord(run_dir.name, run_dir, {"run_id": run_dir.name}, None, exc.message)
    summary = summary_model.to_data() if summary_model is not None else None
    return RunRecord(run_dir.name, run_dir, manifest, summary)


def read_sweep(sweep_dir: Path) -> dict[str, Any]:
    return store.read_sweep(sweep_dir).to_data()


def read_json_file(path: Path) -> dict[str, Any]:
    return read_json_or_empty(path)  # never through a symlink (jsonio.read_json)


def text_file(path: Path) -> str:
    """A run's text file as written ('' when missing, unreadable or a symlink)."""
    try:
        return read_text(path)
    except OSError:
        return ""


def tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The end of a log, from a line start; '' when missing."""
    return read_tail(path, max_bytes)


def patch(run: RunRecord) -> tuple[str, int, str]:
    """(text shown, full size, sha256 prefix) of the run's git.patch; ('', 0, '') without one."""
    name = (run.manifest.get("git") or {}).get("patch_file")
    if not name or "/" in str(name):
        return "", 0, ""
    try:
        with open_nofollow(run.path / str(name)) as handle:  # never a symlink planted in the run
            data = handle.read()
    except OSError:
        return "", 0, ""
    shown = data[:PATCH_MAX_BYTES].decode("utf-8", errors="replace")
    return shown, len(data), hashlib.sha256(data).hexdigest()[:12]


def events(run: RunRecord, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The run's events.jsonl entries of these kinds, oldest first (attempts: job_started/job_ended)."""
    rows = history.read_rows(run.path / "events.jsonl")
    return [row for row in rows if row.get("event") in kinds]


def metrics_text(run: RunRecord, limit: int) -> tuple[str, str] | None:
    """(the job's JSON lines as written, the stdout rows as JSON lines) for the browser to parse; None
    when they may be more than `limit` bytes (by the files' sizes: nothing is read then)."""
    sources = run.sources
    path = readable_run_file(run.path, sources.file)  # None: it leads out of the registry
    written = run.path / history.STDOUT_HISTORY
    # a table, a JSON document or TensorBoard's event files: their rows, as JSON lines (the browser
    # parses those only)
    converted = path is not None and not history.is_json_lines(path)
    sizes = [(history.source_size(path) if converted else file_size(path)) if path else 0]
    if sources.patterns:  # the rows written, else the log they would come from (about as big)
        sizes.append(file_size(written) if written.is_file() else file_size(run.path / "stdout.log"))
    if sum(sizes) > limit:
        return None
    file_text = ""
    with contextlib.suppress(OSError):
        if path is not None:
            file_text = history.jsonl_text(history.read_rows(path)) if converted else read_text(path)
    stdout_text = ""
    if sources.patterns:
        if written.is_file():
            with contextlib.suppress(OSError):
                stdout_text = read_text(written)
        else:  # still running: the matches so far
            stdout_text = history.jsonl_text(history.stdout_history_rows(run.path, sources))
    return file_text, stdout_text
