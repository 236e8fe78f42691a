"""Export runs to an MLflow tracking store (optional extra `clusterrun[mlflow]`, mlflow-skinny).

Each run becomes one MLflow run, in the experiment named like the run's config (`name`), with:
params (the config's params, seed), the whole metric history with steps and times, tags (run id, git
commit and branch, state, seed, sweep, what it reproduces, the run directory), the status and times,
and `clusterrun/artifacts.json` listing the run's artifacts (paths and sizes; the files stay put).
Idempotent: a run already exported (tag `clusterrun.run_id`) is left as it is, so exporting twice
never duplicates a run.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusterrun.analysis import history
from clusterrun.dashboard.records import RunRecord, read_run
from clusterrun.errors import ClusterrunError, ExitStatus, UsageError
from clusterrun.export.tables import select
from clusterrun.records.registry import Registry

TAG = "clusterrun.run_id"
BATCH = 1000  # MLflow's limit of metrics per log_batch call
STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "timeout": "FAILED",
    "out_of_memory": "FAILED",
    "node_fail": "FAILED",
    "cancelled": "KILLED",
    "preempted": "KILLED",
}


@dataclass
class MlflowReport:
    uri: str
    exported: list[str] = field(default_factory=list)  # run ids exported now
    existing: list[str] = field(default_factory=list)  # already there: left as they are
    mlflow_runs: dict[str, str] = field(default_factory=dict)  # clusterrun run id -> MLflow run id

    def as_record(self) -> dict[str, Any]:
        return self.__dict__.copy()


def default_uri(registry: Registry) -> str:
    return (registry.root.absolute() / "mlruns").as_uri()


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses its file store unless MLFLOW_ALLOW_FILE_STORE is set: the issue asks for a
    local `file:` store by default, so allow it for the duration of the export only."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError(
            "exporting to MLflow needs mlflow-skinny, which is not installed",
            hint="pip install 'clusterrun[mlflow]' (or pip install mlflow-skinny)",
        ) from None
    return MlflowClient(tracking_uri=uri)


def _millis(iso: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return None


def _tags(record: RunRecord) -> dict[str, str]:
    manifest = record.manifest
    git = manifest.get("git") or {}
    tags = {
        TAG: record.id,
        "clusterrun.state": record.state,
        "clusterrun.seed": str(manifest.get("seed")),
        "clusterrun.run_dir": str(record.path),
        "mlflow.runName": record.id,
        "mlflow.source.git.commit": str(git.get("commit") or ""),
        "mlflow.source.git.branch": str(git.get("branch") or ""),
        "clusterrun.git.dirty": str(bool(git.get("dirty"))).lower(),
    }
    for key in ("sweep", "reproduces", "backend", "job_id"):
        if manifest.get(key):
            tags[f"clusterrun.{key}"] = str(manifest[key])
    diagnosis = (record.summary or {}).get("diagnosis") or {}
    if diagnosis.get("category"):
        tags["clusterrun.diagnosis"] = str(diagnosis["category"])
    return tags


def _params(record: RunRecord) -> dict[str, str]:
    params = {str(k): str(v) for k, v in (record.config.get("params") or {}).items()}
    params["seed"] = str(record.manifest.get("seed"))
    for key, value in (record.config.get("data") or {}).items():
        params[f"data.{key}"] = str(value)
    return {k: v[:6000] for k, v in params.items()}


def _metrics(record: RunRecord, started_ms: int, cache: Any) -> list[Any]:
    from mlflow.entities import Metric

    loaded = history.load_cached(record.path, record.sources, cache)
    out = []
    for name, series in loaded.series.items():
        for step, value, when in zip(series.steps, series.values, series.times, strict=True):
            stamp = int(when * 1000) if when is not None else started_ms
            out.append(Metric(name, float(value), stamp, int(step) if math.isfinite(step) else 0))
    return out


def export(registry: Registry, ids: Iterable[str], uri: str | None = None) -> MlflowReport:
    uri = uri or default_uri(registry)
    report = MlflowReport(uri)
    run_ids = select(registry, ids)
    with _file_store_allowed(uri):
        client = _client(uri)
        try:
            for run_id in run_ids:
                _export_one(client, registry, read_run(registry.root / run_id), report)
        except ClusterrunError:
            raise
        except Exception as exc:  # MLflow's own errors: unreachable server, refused store...
            raise ClusterrunError(
                f"MLflow at {uri} refused the export: {type(exc).__name__}: "
                f"{(str(exc).splitlines() or [''])[0][:300]}",
                hint="check --uri (file:/path, sqlite:///path/mlflow.db, http://host:port) and that it is up",
                exit_status=ExitStatus.ENVIRONMENT,
            ) from None
    return report


def _export_one(client: Any, registry: Registry, record: RunRecord, report: MlflowReport) -> None:
    if record.problem:
        raise ClusterrunError(record.problem, hint="fix or remove the damaged record, then export again")
    name = str(record.manifest.get("name") or record.id.rsplit("_", 1)[0])
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    found = client.search_runs([experiment_id], filter_string=f"tags.`{TAG}` = '{record.id}'", max_results=1)
    if found:
        report.existing.append(record.id)
        report.mlflow_runs[record.id] = found[0].info.run_id
        return
    started = _millis(record.manifest.get("created")) or 0
    run = client.create_run(experiment_id, start_time=started, tags=_tags(record), run_name=record.id)
    mlflow_id = run.info.run_id
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in _params(record).items()]
    metrics = _metrics(record, started, registry.root / ".cache" / "history")
    for at in range(0, len(params), 100):  # MLflow takes 100 params and 1,000 metrics per call
        client.log_batch(mlflow_id, params=params[at : at + 100])
    for at in range(0, len(metrics), BATCH):
        client.log_batch(mlflow_id, metrics=metrics[at : at + BATCH])
    summary = record.summary or {}
    info = summary.get("artifacts_info") or {"files": [{"path": p} for p in summary.get("artifacts") or []]}
    client.log_dict(mlflow_id, {"run_dir": str(record.path), **info}, "clusterrun/artifacts.json")
    status = STATUS.get(record.state)
    if status:
        duration = summary.get("duration_seconds")
        ended = started + int(float(duration) * 1000) if isinstance(duration, int | float) else None
        client.set_terminated(mlflow_id, status, end_time=ended)
    report.exported.append(record.id)
    report.mlflow_runs[record.id] = mlflow_id
