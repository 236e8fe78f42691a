"""The metric-history part of summary.json, and stdout_metrics.jsonl when the job did not write it as it
ended (execution/jobrun.py)."""

from __future__ import annotations

import os
from typing import Any

from clusterrun.analysis import history
from clusterrun.analysis.metric_fold import Fold
from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records.models import SWEEP_FILE
from clusterrun.records.registry import Run

#: sweep directory -> (identity of its sweep.json, (metric, mode)): a refresh that collects the summaries
#: of a sweep's 1,000 members reads its sweep.json once, not 1,000 times; the identity (inode, size,
#: mtime; a record is replaced by rename) makes a changed file read again.
_RANKINGS: dict[str, tuple[tuple[int, int, int], tuple[str | None, str | None]]] = {}


def sweep_ranking(run: Run, manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """(metric, mode) of the sweep a member belongs to (its sweep.json), else (None, None)."""
    sweep_id = manifest.get("sweep")
    if not isinstance(sweep_id, str) or not sweep_id or "/" in sweep_id:
        return None, None
    sweep_dir = run.path.parent / sweep_id
    try:
        info = os.stat(sweep_dir / SWEEP_FILE)
    except OSError:
        return None, None
    stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
    known = _RANKINGS.get(str(sweep_dir))
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        record = store.read_sweep(sweep_dir)
    except ClusterrunError:  # no sweep.json, damaged, or from a newer clusterrun: no ranking
        return None, None
    if len(_RANKINGS) > 256:
        _RANKINGS.clear()
    _RANKINGS[str(sweep_dir)] = (stamp, (record.metric, record.mode))
    return record.metric, record.mode


def history_fields(run: Run, manifest: Any, fold: Fold | None = None) -> dict[str, Any]:
    """`metrics_best` ({name: mode, value, step, final, points}) and `metrics_history` (where the curves
    are); writes stdout_metrics.jsonl from the patterns' matches (over stdout, else stderr) when it is
    not there yet.
    `manifest`: the run's manifest as JSON data or as its model (records/models.py); `fold`: the metrics
    file's fold (metric_fold.read) when the caller has read it already."""
    if hasattr(manifest, "to_data"):
        manifest = manifest.to_data()
    config = manifest.get("config") or {}
    sources = history.Sources.from_config(config)
    files = [sources.file]
    printed = None
    if sources.patterns:
        # the job wrote it as it ended, unless it could not (a log of more than history.JOB_SCAN_LIMIT)
        printed = history.write_stdout_history(run.path, config)
        files.append(history.STDOUT_HISTORY)
    if fold is None:
        fold = history.file_fold(run.path, sources)
    series = history.summary_series(run.path, sources, fold, printed)
    metric, mode = sweep_ranking(run, manifest)
    ignore = (config.get("metrics") or {}).get("ignore") or []
    return {
        "metrics_best": history.best_values(series, ignore, metric, mode),
        "metrics_history": {
            "format": history.FORMAT_VERSION,
            "files": files,
            "step_key": sources.step_key,
            "points": sum(len(item) for item in series.values()),
        },
    }
