"""A sweep's members, ranked by its metric (best first), with counts, CPU-hours and right-sizing: the
median efficiencies of finished members and the resources the next sweep should ask for."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterrun.analysis.estimate import MEM_MARGIN, TIME_SUGGEST
from clusterrun.config.resources import format_mem_mb, format_seconds, round_mem_mb, round_seconds
from clusterrun.records import store
from clusterrun.records.models import EfficiencyRecord, SweepRecord, as_summary
from clusterrun.records.registry import Registry
from clusterrun.services.status import StatusReport, refresh


@dataclass
class SweepView:
    sweep_id: str
    record: SweepRecord
    rows: list[dict[str, Any]]  # members, sorted by the metric (best first), each with values and state
    metric: str | None
    mode: str
    best: str | None  # run id of the best finished member
    counts: dict[str, int]
    totals: dict[str, float]
    warnings: list[str]

    def as_record(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "metric": self.metric,
            "mode": self.mode,
            "best": self.best,
            "counts": self.counts,
            "totals": self.totals,
            "members": self.rows,
            "warnings": self.warnings,
            "arrays": [array.to_data() for array in self.record.arrays],
            "estimate": self.record.estimate.to_data() if self.record.estimate else None,
        }

    @property
    def run_ids(self) -> list[str]:
        """The members, best first."""
        return [str(row["run_id"]) for row in self.rows]


def sweep_view(
    registry: Registry,
    sweep_id: str,
    report: StatusReport | None = None,
    sort: str | None = None,
    mode: str | None = None,
) -> SweepView:
    """A sweep's members with their values and metrics, ranked; one scheduler query for all of them."""
    record = store.read_sweep(registry.get(sweep_id, allow_sweep=True).path)
    member_ids = [m.run_id for m in record.members]
    values = {m.run_id: m.values for m in record.members}
    if report is None:
        report = refresh(registry, member_ids)
    metric = sort or record.metric
    if metric is None:
        names = [k for r in report.runs for k in r.metrics]
        metric = "loss" if "loss" in names else (names[0] if names else None)
    mode = mode or record.mode or "min"
    rows = []
    counts: dict[str, int] = {}
    totals = {"cpu_hours_used": 0.0, "cpu_hours_requested": 0.0}
    efficiencies: list[EfficiencyRecord] = []  # of completed members
    for run in report.runs:
        counts[run.state] = counts.get(run.state, 0) + 1
        efficiency = as_summary(run.summary).efficiency if run.summary else None
        totals["cpu_hours_used"] += float(efficiency.cpu_hours_used if efficiency else 0.0)
        if efficiency is not None and run.state == "completed":
            efficiencies.append(efficiency)
        estimate = registry.get(run.run_id).load_manifest().estimate
        totals["cpu_hours_requested"] += float(estimate.cpu_hours if estimate else 0.0)
        rows.append(run.as_record() | {"values": values.get(run.run_id, {}), "best": False})
    ranked = [
        r for r in rows if r["state"] == "completed" and isinstance(r["metrics"].get(metric), int | float)
    ]
    ranked.sort(key=lambda r: r["metrics"][metric], reverse=(mode == "max"))
    others = [r for r in rows if r not in ranked]
    best = ranked[0]["run_id"] if ranked else None
    if ranked:
        ranked[0]["best"] = True
    totals = {k: round(v, 6) for k, v in totals.items()} | right_size(efficiencies)
    return SweepView(sweep_id, record, ranked + others, metric, mode, best, counts, totals, report.warnings)


def _numbers(data: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric entries of an efficiency record given as data (anything else is left out)."""
    return {k: v for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def right_size(efficiencies: Sequence[EfficiencyRecord | Mapping[str, Any]]) -> dict[str, Any]:
    """Median efficiencies of finished members, and the resources the next sweep should ask for (the
    summaries' `efficiency`, as models or as JSON data)."""
    records = [
        e if isinstance(e, EfficiencyRecord) else EfficiencyRecord.model_validate(_numbers(e))
        for e in efficiencies
    ]
    out: dict[str, Any] = {}
    for key in ("time_efficiency", "mem_efficiency", "cpu_efficiency"):
        values = [v for e in records if (v := getattr(e, key)) is not None]
        if values:
            out[f"{key}_median"] = round(statistics.median(values), 3)
    elapsed = [e.elapsed_seconds for e in records if e.elapsed_seconds is not None]
    peaks = [e.max_rss_mb for e in records if e.max_rss_mb is not None]
    if elapsed:
        out["suggested_time"] = format_seconds(round_seconds(max(elapsed) * TIME_SUGGEST))
    if peaks:
        out["suggested_mem"] = format_mem_mb(round_mem_mb(max(peaks) * MEM_MARGIN))
    return out
