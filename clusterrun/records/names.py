"""The records' names, schema version and read errors: what a reader needs without the record models.

A job's wrapper (execution/) reads and writes its run's manifest as plain JSON (records/jobview.py):
importing pydantic and the models (records/models.py, which re-exports these) cost every job about 0.1 s
of start-up before its command ran."""

from __future__ import annotations

from datetime import datetime, timezone

from clusterrun.errors import ClusterrunError, ExitStatus

SCHEMA_VERSION = 1  # the newest schema_version this clusterrun reads and the one it writes
MANIFEST_FILE = "manifest.json"
SUMMARY_FILE = "summary.json"
SWEEP_FILE = "sweep.json"
NOTES_FILE = "notes.jsonl"


class RecordTooNew(ClusterrunError):
    """A record written by a newer clusterrun, with a schema version this one does not know."""

    exit_status = ExitStatus.ENVIRONMENT


class DamagedRecord(ClusterrunError):
    """A record that is not valid JSON, not an object, or does not match its model."""

    exit_status = ExitStatus.ENVIRONMENT


def now_iso() -> str:
    """Now, as records write times: ISO 8601 to the second, with the local UTC offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
