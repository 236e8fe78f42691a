"""Tables shown to the user: runs, a sweep's members, a comparison, doctor's checks, reproduce's verdicts."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from clusterrun.analysis.compare import REPRODUCED, Comparison
from clusterrun.analysis.metrics import format_metrics
from clusterrun.cli.output import duration, format_value
from clusterrun.services.doctor import DoctorReport
from clusterrun.services.sweeps import SweepView


def status_table(rows: list[dict[str, Any]]) -> str:
    table = [
        [
            r["run_id"],
            r["state"].upper(),
            duration(r.get("elapsed_seconds")),
            r.get("job_id") or "-",
            r.get("node") or "-",
            format_metrics(r.get("metrics") or {}) or "-",
        ]
        for r in rows
    ]
    return tabulate(
        table, headers=["RUN ID", "STATE", "ELAPSED", "JOB", "NODE", "METRICS"], tablefmt="simple"
    )


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def comparison_text(comparison: dict[str, Any]) -> str:
    """Metric verdict table, then config / code / environment differences, then the verdict line."""
    parts = []
    rows = [
        [
            m["name"],
            _num(m["a"]),
            _num(m["b"]),
            _num(m["abs_diff"]),
            _num(m["rel_diff"]),
            "yes" if m["within"] else "NO",
        ]
        for m in comparison["metrics"]
    ]
    tol = f"rtol={comparison['rtol']:g} atol={comparison['atol']:g}"
    parts.append(f"Metrics ({comparison['run_a']} vs {comparison['run_b']}, {tol}):")
    parts.append(
        tabulate(
            rows,
            headers=["METRIC", "ORIGINAL", "REPRODUCED", "ABS DIFF", "REL DIFF", "WITHIN"],
            tablefmt="simple",
        )
        if rows
        else "  (no metrics)"
    )
    if comparison["ignored_metrics"]:
        parts.append(f"Not compared (metrics.ignore): {', '.join(comparison['ignored_metrics'])}")
    for title, key in (
        ("Config differences", "config"),
        ("Code differences", "code"),
        ("Environment differences", "environment"),
    ):
        items = comparison[key]
        if items:
            parts.append(f"{title}:")
            parts.append(
                tabulate(
                    [[i["key"], _short(i["a"]), _short(i["b"])] for i in items[:30]],
                    headers=["", "A", "B"],
                    tablefmt="simple",
                )
            )
            if len(items) > 30:
                parts.append(f"  ... and {len(items) - 30} more")
        else:
            parts.append(f"{title}: none")
    data = comparison.get("data", [])
    if data:  # what the runs read, by path, from the fingerprints taken at each submit
        parts.append("Data differences:")
        parts += [f"  {d['path']}: {d['change']}" for d in data[:30]]
        if len(data) > 30:
            parts.append(f"  ... and {len(data) - 30} more")
    else:
        parts.append("Data differences: none")
    parts += [f"Note: {note}" for note in comparison.get("notes", [])]
    parts.append(f"{comparison['verdict']}: {comparison['reason']}")
    return "\n".join(parts)


def sweep_table(view: SweepView) -> str:
    """Members with their swept values and key metrics, best first (marked *), then counts and totals."""
    axes = view.record.axes
    metric = view.metric
    headers = ["", "RUN ID", "STATE", *axes, metric or "METRIC", "ELAPSED"]
    rows = []
    for row in view.rows:
        value = row["metrics"].get(metric) if metric else None
        rows.append(
            [
                "*" if row["best"] else "",
                row["run_id"],
                row["state"].upper(),
                *[format_value(row["values"].get(a, "-")) for a in axes],
                _num(value),
                duration(row.get("elapsed_seconds")),
            ]
        )
    lines = [
        f"Sweep {view.sweep_id}: {len(view.rows)} member(s), ranked by {metric or '-'} ({view.mode})",
        tabulate(rows, headers=headers, tablefmt="simple"),
    ]
    counts = "  ".join(f"{state.upper()}={n}" for state, n in sorted(view.counts.items()))
    lines.append(f"States: {counts}")
    lines.append(
        f"CPU-hours: {view.totals['cpu_hours_used']:.3g} used of {view.totals['cpu_hours_requested']:.3g} "
        "estimated"
    )
    totals = view.totals
    if "time_efficiency_median" in totals:
        shares = [
            f"{name} {totals[f'{key}_median']:.0%}"
            for name, key in (
                ("time", "time_efficiency"),
                ("memory", "mem_efficiency"),
                ("CPU", "cpu_efficiency"),
            )
            if f"{key}_median" in totals
        ]
        lines.append("Efficiency (median of completed members, used/requested): " + ", ".join(shares))
    if "suggested_time" in totals or "suggested_mem" in totals:
        hints = [
            f"resources.{k.removeprefix('suggested_')}={totals[k]}"
            for k in ("suggested_time", "suggested_mem")
            if k in totals
        ]
        lines.append("Right-size the next sweep: " + " ".join(hints))
    if view.best:
        lines.append(f"Best: {view.best}   Next: clusterrun show {view.best}")
    return "\n".join(lines)


def doctor_table(report: DoctorReport) -> str:
    rows = [[c.name, c.status.upper(), c.detail, c.fix or "-"] for c in report.checks]
    return tabulate(
        rows,
        headers=["CHECK", "STATUS", "DETAIL", "FIX"],
        tablefmt="simple",
        maxcolwidths=[None, None, 60, 50],
    )


def doctor_verdict(report: DoctorReport) -> str:
    failed = [c.name for c in report.checks if c.status == "fail"]
    warned = [c.name for c in report.checks if c.status == "warn"]
    if failed:
        return f"blocked: fix {', '.join(failed)} before submitting (backend: {report.backend})"
    tail = f"; warnings: {', '.join(warned)}" if warned else ""
    return f"ready: nothing blocks submission (backend: {report.backend}){tail}"


def verdicts_table(verdicts: list[Comparison]) -> str:
    """One row per (original, reproduction) pair."""
    return tabulate(
        [[c.run_a, c.run_b, c.verdict, c.reason] for c in verdicts],
        headers=["ORIGINAL", "REPRODUCED BY", "VERDICT", "WHY"],
        tablefmt="simple",
    )


def verdicts_line(verdicts: list[Comparison]) -> str:
    """How many pairs reproduced, and where to look first when one did not."""
    bad = [c for c in verdicts if c.verdict != REPRODUCED]
    see = f"; see clusterrun compare {bad[0].run_a} {bad[0].run_b}" if bad else ""
    return (
        f"{'DIVERGED' if bad else REPRODUCED}: {len(verdicts) - len(bad)} of {len(verdicts)} members "
        f"reproduced{see}"
    )
