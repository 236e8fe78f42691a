"""The one loader and the one writer of a run directory's JSON records: manifest.json, summary.json and
sweep.json. Records are read through their models (records/models.py, any schema version ever written)
and written from them, atomically, with sorted keys (jsonio); nothing else writes these files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from clusterrun.errors import RunNotFound
from clusterrun.records.jsonio import read_json, write_json_atomic
from clusterrun.records.models import (
    MANIFEST_FILE,
    SUMMARY_FILE,
    SWEEP_FILE,
    DamagedRecord,
    Manifest,
    RecordModel,
    Summary,
    SweepRecord,
    load,
)

R = TypeVar("R", bound=RecordModel)


def _read(model: type[R], path: Path, where: str) -> R:
    """Raises FileNotFoundError when missing, DamagedRecord or RecordTooNew (ClusterrunErrors) else."""
    try:
        data = read_json(path)
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
    return load(model, data, where)


def read_manifest(run_dir: Path) -> Manifest:
    """A run's manifest; RunNotFound when it has none, a ClusterrunError when it cannot be read."""
    try:
        return _read(Manifest, run_dir / MANIFEST_FILE, f"run {run_dir.name}: {MANIFEST_FILE}")
    except FileNotFoundError:
        raise RunNotFound(
            f"run {run_dir.name} has no {MANIFEST_FILE}", hint="is this a clusterrun run?"
        ) from None


def read_summary(run_dir: Path) -> Summary | None:
    """A run's summary; None when there is none yet, or it is damaged (it is collected again).
    A summary written by a newer clusterrun is an error (RecordTooNew), never overwritten."""
    try:
        return _read(Summary, run_dir / SUMMARY_FILE, f"run {run_dir.name}: {SUMMARY_FILE}")
    except (FileNotFoundError, DamagedRecord):
        return None


def read_sweep(sweep_dir: Path) -> SweepRecord:
    """A sweep's record; RunNotFound when there is none, a ClusterrunError when it cannot be read."""
    try:
        return _read(SweepRecord, sweep_dir / SWEEP_FILE, f"sweep {sweep_dir.name}: {SWEEP_FILE}")
    except FileNotFoundError:
        raise RunNotFound(
            f"sweep {sweep_dir.name} has no {SWEEP_FILE}",
            hint="list sweeps and runs with 'clusterrun status'",
        ) from None


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    write_json_atomic(run_dir / MANIFEST_FILE, manifest.to_data())


def write_summary(run_dir: Path, summary: Summary) -> None:
    write_json_atomic(run_dir / SUMMARY_FILE, summary.to_data())


def write_sweep(sweep_dir: Path, record: SweepRecord) -> None:
    write_json_atomic(sweep_dir / SWEEP_FILE, record.to_data())


def update_sweep(sweep_dir: Path, **fields: Any) -> SweepRecord:
    """Re-write a sweep's record with new (declared, validated) fields; returns it. Only the submission
    that made the sweep writes it, so no lock is needed."""
    record = read_sweep(sweep_dir)
    record.apply("update_sweep", **fields)
    write_sweep(sweep_dir, record)
    return record
