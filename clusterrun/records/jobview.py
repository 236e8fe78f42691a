"""A run's manifest as its job reads and writes it: plain JSON, without the record models.

The job's wrapper (execution/jobrun.py, attempts.py, ranks.py) reads a handful of the manifest's fields
(the snapshot, the working copy's links, the resources, the metrics file, the requeue policy, the
attempts so far) and writes one: `attempts`. Importing pydantic and the models (records/models.py) for
that cost every job, local or on a cluster, about 0.1 s of start-up before its command ran, on every
attempt. This reads the same file as JSON, checks the types of the fields it reads (a manifest that does
not match is `None`: the job then runs unrecorded, as it did when the model refused it), and writes
`attempts` back under the run's lock, in the text store.write_manifest writes (tests/unit/test_jobview.py
compares the two). Every other field is left exactly as the submitter wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.config.redact import may_need_redaction, redact_data
from clusterrun.errors import ClusterrunError
from clusterrun.records.jsonio import read_json, write_text_atomic
from clusterrun.records.names import MANIFEST_FILE, SCHEMA_VERSION, DamagedRecord
from clusterrun.records.paths import run_file
from clusterrun.records.prettyjson import join_members, member_texts, record_text

DEFAULT_METRICS_FILE = "metrics.jsonl"  # RecordedMetrics.file's default


@dataclass(frozen=True)
class JobManifest:
    """The fields of a run's manifest its job uses, read from its JSON."""

    data: dict[str, Any]

    def _section(self, *keys: str) -> dict[str, Any]:
        value: Any = self.data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, dict) else {}

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return list(self.data.get("attempts") or [])

    @property
    def workdir_links(self) -> dict[str, str]:
        return dict(self.data.get("workdir_links") or {})

    @property
    def snapshot_path(self) -> str:
        return str(self._section("snapshot").get("path") or "")

    @property
    def resources(self) -> dict[str, Any]:
        """The resolved resources (the manifest's `resources`)."""
        return dict(self._section("resources"))

    @property
    def config_resources(self) -> dict[str, Any]:
        """The resources as the config gave them (`config.resources`: launcher, tasks...)."""
        return dict(self._section("config", "resources"))

    @property
    def metrics_file(self) -> str:
        return str(self._section("config", "metrics").get("file") or DEFAULT_METRICS_FILE)

    @property
    def requeue(self) -> dict[str, Any]:
        return dict(self._section("config", "requeue"))

    @property
    def estimate(self) -> dict[str, Any]:
        return dict(self._section("config", "estimate"))


def read(run_dir: Path) -> JobManifest | None:
    """The run's manifest; None when it is missing, damaged, from a newer clusterrun, or its fields the
    job reads have other types than the models give them (the job then runs unrecorded)."""
    try:
        data = read_json(run_file(run_dir, MANIFEST_FILE))
    except (OSError, ValueError, ClusterrunError):
        return None
    if not isinstance(data, dict) or not _usable(data):
        return None
    return JobManifest(data)


def _usable(data: Mapping[str, Any]) -> bool:
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        return False
    attempts = data.get("attempts", [])
    if not isinstance(attempts, list) or not all(
        isinstance(a, dict) and _is_int(a.get("attempt", 1)) for a in attempts
    ):
        return False
    links = data.get("workdir_links", {})
    if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
        return False
    sections = [data.get(key, {}) for key in ("snapshot", "resources", "config")]
    config = data.get("config", {})
    if isinstance(config, dict):
        sections += [config.get(key, {}) for key in ("resources", "metrics", "requeue")]
    if not all(isinstance(section, dict) for section in sections):
        return False
    metrics_file = (
        config.get("metrics", {}).get("file", DEFAULT_METRICS_FILE) if isinstance(config, dict) else ""
    )
    return isinstance(metrics_file, str) and isinstance(data.get("snapshot", {}).get("path", ""), str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def write_attempts(run_dir: Path, attempts: list[dict[str, Any]]) -> None:
    """Replace the manifest's `attempts` (under the run's lock: a refresh may be writing the manifest
    too), keeping every other field as it is on disk. A ClusterrunError when the manifest cannot be read."""
    with portable.locked(run_dir / ".lock"):  # Run.locked's lock
        current = read(run_dir)
        if current is None:
            raise DamagedRecord(
                f"run {run_dir.name}: {MANIFEST_FILE} is missing, damaged or from a newer clusterrun",
                hint="the attempt is in events.jsonl",
            )
        data = {**current.data, "attempts": attempts}
        write_text_atomic(run_file(run_dir, MANIFEST_FILE), manifest_text(data))


def manifest_text(data: dict[str, Any]) -> str:
    """The text store.write_manifest writes for this data: pretty JSON with sorted keys, secrets redacted."""
    members = member_texts(data)
    text = join_members(members) if members is not None else record_text(data)
    if may_need_redaction(text):
        text = record_text(redact_data(data))
    return text
