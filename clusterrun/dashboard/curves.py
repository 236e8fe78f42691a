"""Curves of one metric for a run or a sweep's members: what `clusterrun plot` draws."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from clusterrun.analysis import history
from clusterrun.dashboard.records import read_run, read_sweep
from clusterrun.errors import UsageError
from clusterrun.records.registry import Registry


@dataclass
class Curve:
    run_id: str
    label: str
    steps: list[float]
    values: list[float]
    best: bool = False


@dataclass
class Curves:
    metric: str
    mode: str
    curves: list[Curve]
    available: list[str]  # every metric with values in these runs


def _label(values: dict[str, object]) -> str:
    return " ".join(f"{k.removeprefix('params.')}={v}" for k, v in values.items())


def curves(registry: Registry, target: str, metric: str | None) -> Curves:
    """One run's curve, or every member's of a sweep (the best marked); `metric` None: the sweep's
    ranking metric, else history.default_metric of the metrics logged (in alphabetical order)."""
    if registry.is_sweep(target):
        record = read_sweep(registry.get(target, allow_sweep=True).path)
        members = [
            (str(m.get("run_id")), _label(dict(m.get("values") or {}))) for m in record.get("members") or []
        ]
        recorded, recorded_mode = record.get("metric"), record.get("mode")
    else:
        members = [(registry.get(target).id, registry.get(target).id)]
        recorded, recorded_mode = None, None
    loaded = []
    for run_id, label in members:
        run = read_run(registry.root / run_id)
        cache = registry.root / ".cache" / "history"
        loaded.append((run_id, label or run_id, history.load_cached(run.path, run.sources, cache)))
    available = sorted({name for _i, _l, h in loaded for name, s in h.series.items() if len(s)})
    chosen, mode = history.ranking(recorded, recorded_mode, available, metric)
    if chosen is None:
        raise UsageError(
            f"{target} has no metric values yet",
            hint="the job writes them to $CLUSTERRUN_METRICS_FILE, or set metrics.patterns for its stdout",
        )
    if chosen not in available:
        close = difflib.get_close_matches(chosen, available, n=1)
        raise UsageError(
            f"no metric {chosen!r} in {target}; metrics: {', '.join(available) or '(none yet)'}",
            hint=f"try --metric {close[0]}" if close else "pick one of those with --metric",
        )
    out = [
        Curve(run_id, label, list(h.series[chosen].steps), list(h.series[chosen].values))
        for run_id, label, h in loaded
        if chosen in h.series
    ]
    finals = [c for c in out if c.values]
    if len(finals) > 1:
        pick = max if mode == "max" else min
        pick(finals, key=lambda c: c.values[-1]).best = True
    return Curves(chosen, mode, out, available)
