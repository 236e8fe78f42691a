"""A sweep's members, ranked by its metric (best first), with counts, CPU-hours and right-sizing: the
median efficiencies of finished members and the resources the next sweep should ask for."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterrun.analysis.estimate import mem_with_margin, time_with_margin
from clusterrun.analysis.history import ranking
from clusterrun.config.resources import format_mem_mb, format_seconds
from clusterrun.errors import ClusterrunError
from clusterrun.records import store
from clusterrun.records import summary as summaries
from clusterrun.records.models import EfficiencyRecord, Manifest, SweepRecord, as_summary
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
    totals: dict[str, Any]  # CPU-hours, median efficiencies, suggestions, killed_at_limit (limit -> members)
    warnings: list[str]
    #: the finished runs the sweep's skipped members duplicate (the same code and config ran before): their
    #: values and results, ranked with the members. Not members: nothing acts on them (cancel, totals)
    earlier: list[dict[str, Any]] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "metric": self.metric,
            "mode": self.mode,
            "best": self.best,
            "counts": self.counts,
            "totals": self.totals,
            "members": self.rows,
            "earlier": self.earlier,
            "warnings": self.warnings,
            "arrays": [array.to_data() for array in self.record.arrays],
            "estimate": self.record.estimate.to_data() if self.record.estimate else None,
        }

    def grid(self) -> list[dict[str, Any]]:
        """The members and the earlier runs of the members the sweep skipped, ranked together: the
        whole grid, best first; what has no value of the metric after."""
        return ranked([*self.rows, *self.earlier], self.metric, self.mode) if self.earlier else self.rows

    @property
    def best_earlier(self) -> bool:
        """The best of the grid is an earlier run, not a member."""
        return any(row["best"] for row in self.earlier)

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
    requested: Mapping[str, float] | None = None,
) -> SweepView:
    """A sweep's members with their values and metrics, ranked; one scheduler query for all of them.
    `requested`: each member's estimated CPU-hours, when the caller has read the manifests already
    (a member it lacks has its manifest read here)."""
    record = store.read_sweep(registry.get(sweep_id, allow_sweep=True).path)
    member_ids = [m.run_id for m in record.members]
    values = {m.run_id: m.values for m in record.members}
    if report is None:
        report = refresh(registry, member_ids)
    names = [k for r in report.runs for k in r.metrics]
    metric, mode = ranking(record.metric, record.mode, names, sort, mode)
    rows = []
    counts: dict[str, int] = {}
    totals = {"cpu_hours_used": 0.0, "cpu_hours_requested": 0.0}
    efficiencies: list[EfficiencyRecord] = []  # of completed members
    ran: list[EfficiencyRecord] = []  # of members that ran to an end of their own: completed or failed
    limited: dict[str, int] = {}  # members killed at their memory or time limit, by which
    for run in report.runs:
        counts[run.state] = counts.get(run.state, 0) + 1
        summary = as_summary(run.summary) if run.summary else None
        efficiency = summary.efficiency if summary else None
        totals["cpu_hours_used"] += float(efficiency.cpu_hours_used if efficiency else 0.0)
        if efficiency is not None and run.state == "completed":
            efficiencies.append(efficiency)
        if efficiency is not None and run.state in RAN_STATES:
            ran.append(efficiency)
        category = summary.diagnosis.category if summary and summary.diagnosis else ""
        if category in LIMITS:
            limited[LIMITS[category]] = limited.get(LIMITS[category], 0) + 1
        totals["cpu_hours_requested"] += _requested(registry, run.run_id, requested)
        rows.append(run.as_record() | {"values": values.get(run.run_id, {}), "best": False})
    members = ranked(rows, metric, mode)
    earlier = ranked(_earlier(registry, record), metric, mode)
    # the best of the sweep's grid: a member, or an earlier run a member was skipped for (a tie: the member)
    top = ranked([*members[:1], *earlier[:1]], metric, mode)[:1]
    best = top[0]["run_id"] if top and value_of(top[0], metric) is not None else None
    if best is not None:
        top[0]["best"] = True
    smoke_peak = record.estimate.peak_rss_mb if record.estimate is not None else None
    summed: dict[str, Any] = {k: round(v, 6) for k, v in totals.items()} | right_size(
        efficiencies, ran, smoke_peak
    )
    if limited:
        summed["killed_at_limit"] = limited
    return SweepView(sweep_id, record, members, metric, mode, best, counts, summed, report.warnings, earlier)


def _earlier(registry: Registry, record: SweepRecord) -> list[dict[str, Any]]:
    """The finished runs the sweep skipped members for (duplicates: the same code and config had run),
    each with the skipped member's values and its own results; a run since removed or without a
    summary is left out."""
    out = []
    for skipped in record.skipped:
        if not skipped.duplicate_of:
            continue
        try:
            found = summaries.load(registry.get(skipped.duplicate_of))
        except ClusterrunError:
            continue
        if found is None:
            continue
        out.append(
            {
                "run_id": skipped.duplicate_of,
                "state": found.state,
                "values": skipped.values,
                "metrics": dict(found.metrics),
                "elapsed_seconds": found.duration_seconds,
                "best": False,
            }
        )

    return out


def value_of(row: Mapping[str, Any], metric: str | None) -> float | None:
    """What a row (a member's or an earlier run's) ranks by: a completed run's number for the metric."""
    found = row["metrics"].get(metric) if metric else None
    return found if row["state"] == "completed" and isinstance(found, int | float) else None


def ranked(rows: list[dict[str, Any]], metric: str | None, mode: str) -> list[dict[str, Any]]:
    """`rows` best first by the metric in `mode` (ties in their order); those without a value after."""
    scored = [r for r in rows if value_of(r, metric) is not None]
    scored.sort(key=lambda r: value_of(r, metric) or 0.0, reverse=(mode == "max"))
    return scored + [r for r in rows if value_of(r, metric) is None]


def _requested(registry: Registry, run_id: str, known: Mapping[str, float] | None) -> float:
    """A member's estimated CPU-hours: as the caller read them, else from its manifest (0 when it cannot
    be read: the refresh reported it, and its row says DAMAGED)."""
    if known is not None and run_id in known:
        return known[run_id]
    try:
        return cpu_hours_estimated(registry.get(run_id).load_manifest())
    except ClusterrunError:
        return 0.0


def cpu_hours_estimated(manifest: Manifest | None) -> float:
    """The CPU-hours a run's manifest estimated (0 when it holds no estimate)."""
    estimate = manifest.estimate if manifest is not None else None
    return float(estimate.cpu_hours if estimate and estimate.cpu_hours else 0.0)


#: what a sweep's table and totals use of each member's summary (cli/tables.py sweep_table)
TABLE_FIELDS = ("efficiency", "diagnosis", "metrics_non_finite", "caught_error")


def table_part(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The fields of a member's summary (as data) that its sweep's table and totals use."""
    if summary is None:
        return None
    return {key: summary[key] for key in TABLE_FIELDS if key in summary}


def _numbers(data: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric entries of an efficiency record given as data (anything else is left out)."""
    return {k: v for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


#: States of members that ran until they ended on their own or at a limit (not cancelled, not lost)
RAN_STATES = frozenset({"completed", "failed", "timeout", "out_of_memory"})
#: Diagnoses of a member killed at one of its limits, and which
LIMITS = {"host_oom": "memory", "time_limit": "time"}


def _records(efficiencies: Sequence[EfficiencyRecord | Mapping[str, Any]]) -> list[EfficiencyRecord]:
    return [
        e if isinstance(e, EfficiencyRecord) else EfficiencyRecord.model_validate(_numbers(e))
        for e in efficiencies
    ]


def right_size(
    efficiencies: Sequence[EfficiencyRecord | Mapping[str, Any]],
    ran: Sequence[EfficiencyRecord | Mapping[str, Any]] | None = None,
    smoke_peak_mb: float | None = None,
) -> dict[str, Any]:
    """Median efficiencies of completed members (`efficiencies`: the summaries' `efficiency`, as models
    or as JSON data), and the resources the next sweep should ask for: enough for every member that ran
    (`ran`: completed or failed, default the completed ones). A member killed at its memory limit
    peaked at that limit: the suggestion is above it, never the completed members' smaller need. Nor
    below `smoke_peak_mb`, what the smoke test's whole process tree held (a short job's memory is
    sampled, and can miss the workers it started)."""
    records = _records(efficiencies)
    every = _records(ran) if ran is not None else records
    out: dict[str, Any] = {}
    for key in ("time_efficiency", "mem_efficiency", "cpu_efficiency"):
        values = [v for e in records if (v := getattr(e, key)) is not None]
        if values:
            out[f"{key}_median"] = round(statistics.median(values), 3)
    elapsed = [e.elapsed_seconds for e in every if e.elapsed_seconds is not None]
    peaks = [e.max_rss_mb for e in every if e.max_rss_mb is not None]
    if elapsed:
        out["suggested_time"] = format_seconds(time_with_margin(max(elapsed)))
    if peaks:
        out["suggested_mem"] = format_mem_mb(mem_with_margin(max([*peaks, smoke_peak_mb or 0.0])))
    return out
