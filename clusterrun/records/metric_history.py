"""The metric-history part of summary.json, and stdout_metrics.jsonl, written once when a run ends."""

from __future__ import annotations

from typing import Any

from clusterrun.analysis import history
from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.registry import Run


def sweep_ranking(run: Run, manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """(metric, mode) of the sweep a member belongs to (its sweep.json), else (None, None)."""
    sweep_id = manifest.get("sweep")
    if not isinstance(sweep_id, str) or not sweep_id or "/" in sweep_id:
        return None, None
    try:
        record = store.read_sweep(run.path.parent / sweep_id)
    except ClusterrunError:  # no sweep.json, damaged, or from a newer clusterrun: no ranking
        return None, None
    return record.metric, record.mode


def history_fields(run: Run, manifest: Any) -> dict[str, Any]:
    """`metrics_best` ({name: mode, value, step, final, points}) and `metrics_history` (where the curves
    are); writes stdout_metrics.jsonl from the stdout patterns' matches when it is not there yet.
    `manifest`: the run's manifest as JSON data or as its model (records/models.py)."""
    if hasattr(manifest, "to_data"):
        manifest = manifest.to_data()
    config = manifest.get("config") or {}
    sources = history.Sources.from_config(config)
    files = [sources.file]
    if sources.patterns:
        target = run.file(history.STDOUT_HISTORY)
        if not target.exists():  # a record is never rewritten
            rows = history.stdout_rows(
                run.file("stdout.log"), sources.patterns, run.file(history.STDOUT_TIMES), sources.step_key
            )
            write_text_atomic(target, history.jsonl_text(rows))
        files.append(history.STDOUT_HISTORY)
    loaded = history.load(run.path, sources)
    metric, mode = sweep_ranking(run, manifest)
    ignore = (config.get("metrics") or {}).get("ignore") or []
    return {
        "metrics_best": history.best_values(loaded, ignore, metric, mode),
        "metrics_history": {
            "format": history.FORMAT_VERSION,
            "files": files,
            "step_key": sources.step_key,
            "points": loaded.points,
        },
    }
