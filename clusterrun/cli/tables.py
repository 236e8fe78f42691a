"""Tables shown to the user: runs, a sweep's members, a comparison, doctor's checks, reproduce's verdicts."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from clusterrun.analysis.compare import REPRODUCED, Comparison
from clusterrun.analysis.metrics import format_metrics
from clusterrun.cli.output import duration, format_value, size, state_label
from clusterrun.records.logtext import one_line
from clusterrun.scheduler import reasons

if TYPE_CHECKING:  # annotations only: status need not import doctor's git checks
    from clusterrun.services.disk import DiskReport
    from clusterrun.services.doctor import DoctorReport
    from clusterrun.services.sweeps import SweepView


def tabulate(*args: Any, **kwargs: Any) -> str:
    """tabulate's, imported when a table is drawn (with wcwidth, ~0.02 s): `submit --json` draws none."""
    from tabulate import tabulate as draw

    return str(draw(*args, **kwargs))


def status_table(rows: list[dict[str, Any]], tags: Mapping[str, list[str]] | None = None) -> str:
    """The runs: id, state, elapsed, job, node, key metrics; and their tags when any run has one."""
    tagged = bool(tags) and any(tags.get(r["run_id"]) for r in rows) if tags else False
    table = [
        [
            r["run_id"],
            state_label(r["state"], r.get("attempt", 0), r.get("max_attempts", 0)),
            duration(r.get("elapsed_seconds")),
            r.get("job_id") or "-",
            r.get("node") or "-",
            format_metrics((r.get("metrics") or {}) | (r.get("metrics_non_finite") or {})) or "-",
            *([",".join((tags or {}).get(r["run_id"], [])) or "-"] if tagged else []),
        ]
        for r in rows
    ]
    headers = ["RUN ID", "STATE", "ELAPSED", "JOB", "NODE", "METRICS", *(["TAGS"] if tagged else [])]
    return "\n".join([simple_table(table, headers, numeric=3), *waiting_lines(rows), *_caught_lines(rows)])


def waiting_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Why the pending runs wait, a line per reason (the scheduler's code in words), those that will not
    start until someone acts first, with what to do."""
    waiting: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["state"] in reasons.WAITING_STATES and row.get("reason"):
            waiting.setdefault(row["reason"], []).append(row)
    explained = sorted((reasons.explain(code) for code in waiting), key=lambda w: (not w.stuck, w.code))
    lines = []
    for why in explained:
        held = waiting[why.code]
        action = why.release([r.get("job_id") or "" for r in held])
        which = held[0]["run_id"] if len(held) == 1 else f"{len(held)} runs"
        said = why.said()
        if why.requeued and all(r["state"] == "requeued" for r in held):
            said += f": {why.requeued}"
        lines.append(f"Waiting: {which}: {said}" + (f" -> {action}" if action else ""))
    return lines


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def simple_table(rows: list[list[str]], headers: list[str], numeric: int | None = None) -> str:
    """tabulate's "simple" table of one-line text cells, the same text (tests/unit/test_tables.py), in
    linear time: tabulate guesses every cell's type, a second for 10,000 runs. The `numeric` column is
    right-aligned when every cell in it is a whole number (as tabulate does with job ids)."""
    right = numeric is not None and bool(rows) and all(_is_int(row[numeric]) for row in rows)
    widths = [len(h) + 2 for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(width) if right and i == numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)])


_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?")
#: tabulate's own pattern of a number with thousands separators (such a cell is a number to it)
_THOUSANDS = re.compile(r"^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$")


class _Unsure(Exception):
    """A cell whose meaning to tabulate is not plain: the table is left to tabulate itself."""


def _cell_kind(cell: str) -> int:
    """What tabulate takes a plain one-line ASCII cell for: 0 missing (''), 2 int, 3 float, 5 text (its
    _more_generic order); _Unsure for anything else (bools, padding, separators, nan, reformatted floats)."""
    if not cell:
        return 0
    if not cell.isascii() or not cell.isprintable() or cell != cell.strip() or cell in ("True", "False"):
        raise _Unsure
    try:
        number = float(cell)
    except ValueError:
        if _THOUSANDS.match(cell):
            raise _Unsure from None
        return 5
    if _INT.fullmatch(cell):
        return 2
    if _FLOAT.fullmatch(cell) and math.isfinite(number) and format(number, "g") == cell:
        return 3
    raise _Unsure


def typed_table(rows: list[list[str]], headers: list[str]) -> str | None:
    """tabulate(rows, headers, tablefmt="simple") of text cells, the same text (tests/unit/test_tables.py),
    in linear time, for the cells whose meaning to tabulate is plain: a column of whole numbers is
    right-aligned, one of numbers (as tabulate's "g" writes them) aligned on the point, any other left;
    '' is missing. None for any other table (tabulate draws it): 10,000 rows took it a second."""
    if not rows or any(len(row) != len(headers) for row in rows):
        return None
    if not all(h.isascii() and h.isprintable() and h == h.strip() for h in headers):
        return None
    try:
        kinds = [max(_cell_kind(row[i]) for row in rows) for i in range(len(headers))]
    except _Unsure:
        return None
    columns: list[list[str]] = []
    for i, kind in enumerate(kinds):
        cells = [row[i] for row in rows]
        if kind == 3 and any(c and format(float(c), "g") != c for c in cells):
            return None  # a whole number in a column of numbers that "g" writes otherwise (007, 1e5)
        if kind in (2, 3):  # tabulate's "decimal": padded after the point, then right-aligned
            points = [_after_point(c, kind) for c in cells]
            most = max(points)
            cells = [c + " " * (most - p) for c, p in zip(cells, points, strict=True)]
        width = max(len(headers[i]) + 2, *(len(c) for c in cells))
        if kind in (2, 3):
            columns.append([headers[i].rjust(width), "-" * width, *(c.rjust(width) for c in cells)])
        else:
            columns.append([headers[i].ljust(width), "-" * width, *(c.ljust(width) for c in cells)])
    return "\n".join("  ".join(line).rstrip() for line in zip(*columns, strict=True))


def _after_point(cell: str, kind: int) -> int:
    """tabulate's _afterpoint: the characters after the point (or the exponent's e), -1 for none."""
    if not cell or kind == 2 or _INT.fullmatch(cell):
        return -1
    at = cell.rfind(".")
    at = cell.lower().rfind("e") if at < 0 else at
    return len(cell) - at - 1 if at >= 0 else -1


def columns_table(run_ids: list[str], columns: list[str], cell: Callable[[str, str], Any]) -> str:
    """The runs with the columns the user chose (`status --columns`)."""
    rows = [[run_id, *(_cell(cell(run_id, key), key) for key in columns)] for run_id in run_ids]
    return tabulate(rows, headers=["RUN ID", *(key.upper() for key in columns)], tablefmt="simple")


def _cell(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if key in ("elapsed", "elapsed_seconds"):
        return duration(value)
    if key == "state":
        return str(value).upper()
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, str) and "\n" in value:
        return value.replace("\n", " / ")
    return format_value(value)


def disk_table(report: DiskReport) -> str:
    """du-style: each run's own bytes by part, its snapshot, then the snapshots and the total once."""
    rows = [
        [
            r.run_id,
            size(r.work),
            size(r.artifacts),
            size(r.logs),
            size(r.records),
            size(r.own),
            r.snapshot[:12] or "-",
        ]
        for r in report.runs
    ]
    lines = [
        tabulate(
            rows,
            headers=["RUN ID", "WORK", "ARTIFACTS", "LOGS", "RECORDS", "OWN", "SNAPSHOT"],
            tablefmt="simple",
            colalign=("left", "right", "right", "right", "right", "right", "left"),
        )
    ]
    own = sum(r.own for r in report.runs)
    shared = sum(report.snapshots.values())
    lines.append(
        f"{len(report.runs)} run(s): {size(own)} of their own + {size(shared)} in "
        f"{len(report.snapshots)} snapshot(s), each counted once = {size(report.total)}"
    )
    lines.append(
        "WORK counts only what runs wrote or changed in their working copies (the rest are hard links)"
    )
    return "\n".join(lines)


def _num(value: Any, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def _referenced_lines(referenced: list[dict[str, Any]]) -> list[str]:
    """What the files a differing param names differ by (services/referenced.py)."""
    lines = []
    for item in referenced:
        lines.append(f"  {item['key']} names files that differ ({item['a']} vs {item['b']}):")
        lines += [f"    {line}" for line in item["diff"]]
        if item.get("more"):
            lines.append(f"    ... and {item['more']} more line(s)")
    return lines


def comparison_text(comparison: dict[str, Any]) -> str:
    """Metric verdict table, then config / code / environment differences, then the verdict line."""
    parts = []
    rows = [
        [
            m["name"],
            _num(m["a"]),
            _num(m["b"]),
            _num(m["abs_diff"]),
            _num(m["rel_diff"], 3),
            "yes" if m["within"] else "NO",
        ]
        for m in comparison["metrics"]
    ]
    tol = f"rtol={comparison['rtol']:g} atol={comparison['atol']:g}"
    sides = ["ORIGINAL", "REPRODUCED"] if comparison.get("reproduces") else ["A", "B"]
    parts.append(f"Metrics ({comparison['run_a']} vs {comparison['run_b']}, {tol}):")
    parts.append(
        tabulate(
            rows,
            headers=["METRIC", *sides, "ABS DIFF", "REL DIFF", "WITHIN"],
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
            if key == "config":
                parts += _referenced_lines(comparison.get("referenced_files") or [])
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
    found = comparison.get("outputs")
    if found is not None:  # the files the runs wrote: by path, size, then content
        unread = f"; {len(found['unchecked'])} of the same size not read" if found["unchecked"] else ""
        removed = found.get("workdir_removed") or []
        if removed:
            unread += f"; working copy of {' and '.join(removed)} removed (clusterrun gc): artifacts/ only"
        paired = found.get("paired") or []
        if paired:  # Hydra's outputs/<date>/<time>/...: one run's file against the other's
            in_a, in_b = _time_named(paired[0]["a"], paired[0]["b"])
            unread += f"; {len(paired)} paired across time-named directories: {in_a} in A, {in_b} in B"
        alike = found.get("alike") or []
        if alike:  # a checkpoint that records where it was saved, torch.save's id: the same but for that
            unread += (
                f"; {len(alike)} the same but for what differs each time it is written (each run's own "
                f"directory in it, torch.save's id): {alike[0]}"
            )
        if found["differ"]:
            parts.append(f"Output differences ({len(found['differ'])} of {found['files']} files{unread}):")
            parts += [f"  {d['path']}: {d['change']}" for d in found["differ"][:OUTPUTS_SHOWN]]
            if len(found["differ"]) > OUTPUTS_SHOWN:
                parts.append(f"  ... and {len(found['differ']) - OUTPUTS_SHOWN} more (--json lists them all)")
        else:
            files = f"{found['files']} file" + ("" if found["files"] == 1 else "s")
            parts.append(f"Output differences: none ({files}{unread})")
    parts += [f"Note: {note}" for note in comparison.get("notes", [])]
    parts.append(f"{comparison['verdict']}: {comparison['reason']}")
    return "\n".join(parts)


def _time_named(path_a: str, path_b: str) -> tuple[str, str]:
    """The directories of two paired paths, up to the last part in which they differ."""
    parts_a, parts_b = path_a.split("/"), path_b.split("/")
    last = max((i for i, (x, y) in enumerate(zip(parts_a, parts_b, strict=False)) if x != y), default=0)
    return "/".join(parts_a[: last + 1]), "/".join(parts_b[: last + 1])


#: Output files listed by a comparison (the first ones by path; a run's checkpoints all differ alike)
OUTPUTS_SHOWN = 12


def sweep_table(view: SweepView) -> str:
    """Members with their swept values and key metrics, best first (marked *), then counts and totals."""
    axes = view.record.axes
    metric = view.metric
    headers = ["", "RUN ID", "STATE", *axes, metric or "METRIC", "ELAPSED"]
    rows = []
    earlier = {id(row) for row in view.earlier}
    for row in view.grid():
        value = row["metrics"].get(metric) if metric else None
        if value is None and metric:  # nan or inf at its end: said, not a blank
            value = ((row.get("summary") or {}).get("metrics_non_finite") or {}).get(metric)
        rows.append(
            [
                ("*" if row["best"] else "") + ("=" if id(row) in earlier else ""),
                row["run_id"],
                row["state"].upper(),
                *[format_value(row["values"].get(a, "-")) for a in axes],
                _num(value),
                duration(row.get("elapsed_seconds")),
            ]
        )
    lines = [
        f"Sweep {view.sweep_id}: {len(view.rows)} member(s), "
        + (f"ranked by {metric} ({view.mode})" if metric else "not ranked (no member has a metric yet)"),
        typed_table(rows, headers) or tabulate(rows, headers=headers, tablefmt="simple"),
    ]
    if view.earlier:
        lines.append(
            f"=: an earlier run of the same code and config, for the {len(view.earlier)} member(s) the "
            "sweep skipped as duplicates (not counted below)"
        )
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
        killed: dict[str, int] = totals.get("killed_at_limit") or {}
        why = ", ".join(f"{n} killed at its {limit} limit" for limit, n in sorted(killed.items()))
        lines.append(
            "Right-size the next sweep: "
            + " ".join(hints)
            + (f" (enough for every member that ran; {why})" if why else "")
        )
    failed = [
        r
        for r in view.rows
        if r["state"] not in ("completed", "cancelled") and (r.get("summary") or {}).get("diagnosis")
    ]
    for row in failed[:FAILED_SHOWN]:  # why members failed, and the fix: the first place people look
        diagnosis = row["summary"]["diagnosis"]
        fix = f" -> {diagnosis['fix']}" if diagnosis.get("fix") else ""
        said = one_line(str((diagnosis.get("details") or {}).get("line") or ""), FAILED_LINE)
        said = f": {said}" if said else ""  # what the job said it died of (its last exception)
        lines.append(f"Failed: {row['run_id']} ({diagnosis.get('category') or 'unknown'}{said}){fix}")
    if len(failed) > FAILED_SHOWN:
        lines.append(f"Failed: ... and {len(failed) - FAILED_SHOWN} more (clusterrun show RUN_ID for each)")
    lines += waiting_lines(view.rows)
    lines += _diverged_lines(view.rows)
    lines += _caught_lines(view.rows)
    if view.best:
        again = " (an earlier run: the sweep skipped its member as a duplicate)" if view.best_earlier else ""
        lines.append(f"Best: {view.best}{again}   Next: clusterrun show {view.best}")
    return "\n".join(lines)


#: Failed members whose diagnosis a sweep's table lists
FAILED_SHOWN = 3


def _diverged_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Members that ended well with metrics at nan or inf: which, and the fix (from their swept params)."""
    # here, not at import: the diagnosis modules are ~15 ms of the start-up of every command showing a run
    from clusterrun.diagnose.fixes.program import divergence_fix

    lines = []
    for row in rows:
        ended = (row.get("summary") or {}).get("metrics_non_finite") or {}
        if row["state"] != "completed" or not ended:
            continue
        params = {k.removeprefix("params."): v for k, v in row["values"].items() if k.startswith("params.")}
        said = ", ".join(f"{name}={word}" for name, word in ended.items())
        lines.append(f"Diverged: {row['run_id']} ({said}) -> {divergence_fix(params)}")
    shown = lines[:FAILED_SHOWN]
    if len(lines) > FAILED_SHOWN:
        shown.append(f"Diverged: ... and {len(lines) - FAILED_SHOWN} more (clusterrun show RUN_ID for each)")
    return shown


FAILED_LINE = 100  # characters of a failed member's last words in the sweep's table


def _caught(row: Mapping[str, Any]) -> str:
    """A row's caught error: a status row's own field, or a sweep member's summary's."""
    return str(row.get("caught_error") or (row.get("summary") or {}).get("caught_error") or "")


def _caught_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Members that exited 0 with an error their stderr shows they caught (summary.caught_error)."""
    caught = [r for r in rows if r["state"] == "completed" and _caught(r)]
    lines = [
        f"Caught error: {row['run_id']} ({one_line(_caught(row), FAILED_LINE)}) -> it "
        f"exited 0; its results may be incomplete: clusterrun show {row['run_id']}"
        for row in caught[:FAILED_SHOWN]
    ]
    if len(caught) > FAILED_SHOWN:
        lines.append(
            f"Caught error: ... and {len(caught) - FAILED_SHOWN} more (clusterrun show RUN_ID for each)"
        )
    return lines


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
