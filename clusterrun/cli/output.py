"""Text blocks and tables shown to the user (the manifest and results blocks of DESIGN.md)."""

from __future__ import annotations

import json
from typing import Any

import typer
from tabulate import tabulate

from clusterrun.analysis.estimate import describe as describe_estimate
from clusterrun.analysis.metrics import format_metrics
from clusterrun.config.resources import format_seconds
from clusterrun.config.spec import unused_params


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, sort_keys=True, indent=2, default=str))


def _resources(res: dict[str, Any]) -> str:
    order = ["partition", "time", "nodes", "cpus_per_task", "mem", "gpus", "account", "qos"]
    return " ".join(f"{k}={res[k]}" for k in order if res.get(k) not in (None, ""))


def _data(manifest: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in manifest.get("config", {}).get("data", {}).items())


def sweep_block(record: dict[str, Any], first_manifest: dict[str, Any]) -> str:
    """The manifest block of a sweep: what all members share, then each member's swept values."""
    git = record.get("git", {})
    members = record.get("members", [])
    skipped = record.get("skipped", [])
    lines = [
        "=== SWEEP MANIFEST ===",
        f"Sweep ID: {record.get('sweep_id')}   Members: {len(members)}"
        + (f" ({len(skipped)} duplicate(s) skipped)" if skipped else "")
        + f"   Axes: {', '.join(record.get('axes', [])) or '-'}",
        f"Git Commit: {git.get('commit')}   Branch: {git.get('branch')}   "
        f"Uncommitted Changes: {'yes (patch saved)' if git.get('dirty') else 'no'}",
        f"Command (first member): {first_manifest.get('command_line')}",
        f"Seed: {first_manifest.get('seed')}   "
        f"Resources: {_resources(first_manifest.get('resources', {}))}   "
        f"Backend: {record.get('backend')}   Cluster: {record.get('cluster')}",
        f"Smoke Test: {smoke_line(first_manifest.get('smoke'))} (once per command shape)",
        f"Estimate: {describe_estimate(record['estimate']) if record.get('estimate') else '-'}",
        f"Output Directory: {first_manifest.get('run_dir', '').rsplit('/', 1)[0]}/{record.get('sweep_id')}/",
    ]
    rows = [[m["run_id"], " ".join(f"{k}={_value(v)}" for k, v in m["values"].items())] for m in members[:20]]
    lines.append(tabulate(rows, headers=["MEMBER", "VALUES"], tablefmt="simple"))
    if len(members) > 20:
        lines.append(f"... and {len(members) - 20} more")
    lines.append("======================")
    return "\n".join(lines)


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def smoke_line(smoke: dict[str, Any] | None) -> str:
    if not smoke:
        return "not run"
    if smoke.get("skipped"):
        return f"skipped ({smoke.get('reason')})"
    verdict = "passed" if smoke.get("ok") else "FAILED"
    line = f"{verdict} in {smoke.get('seconds', 0):.2f} s, peak {smoke.get('peak_rss_mb', 0):.0f} MB"
    return line + (" (cached)" if smoke.get("cached") else "")


def _key_params(config: dict[str, Any]) -> dict[str, Any]:
    """The params the job sees (in its command or exported through env); the others change nothing."""
    params: dict[str, Any] = config.get("params") or {}
    try:
        unused = set(unused_params(params, config.get("command") or [], config.get("env") or {}))
    except (ValueError, TypeError, AttributeError):  # a record damaged or from another version: show all
        return params
    return {k: v for k, v in params.items() if k not in unused}


def _workdir(manifest: dict[str, Any]) -> str:
    where = str(manifest.get("workdir", ""))
    if where and where != manifest.get("snapshot", {}).get("path"):  # runs before 2026-12 ran in the snapshot
        return f"{where} (its own copy of the snapshot)"
    return where


def manifest_block(manifest: dict[str, Any]) -> str:
    git = manifest.get("git", {})
    dirty = "yes (patch saved: git.patch)" if git.get("dirty") else "no"
    params = _key_params(manifest.get("config", {}))
    lines = [
        "=== EXPERIMENT MANIFEST ===",
        f"Run ID: {manifest.get('run_id')}",
        f"Git Commit: {git.get('commit')}   Branch: {git.get('branch')}   Uncommitted Changes: {dirty}",
        f"Command: {manifest.get('command_line')}",
        f"Seed: {manifest.get('seed')}",
        f"Key Hyperparameters: {' '.join(f'{k}={v}' for k, v in params.items()) or '(none)'}"
        + (f"   Dataset/Split: {_data(manifest)}" if manifest.get("config", {}).get("data") else ""),
        f"Resources: {_resources(manifest.get('resources', {}))}   Backend: {manifest.get('backend')}",
        f"Smoke Test: {smoke_line(manifest.get('smoke'))}",
        f"Estimate: {describe_estimate(manifest['estimate']) if manifest.get('estimate') else '-'}",
        f"Snapshot: {manifest.get('snapshot', {}).get('path')}"
        + (
            f" (digest {str(manifest['snapshot']['digest'])[:12]})"
            if manifest.get("snapshot", {}).get("digest")
            else ""
        ),
        f"Output Directory: {manifest.get('run_dir', '')}   Working Directory: {_workdir(manifest)}",
        "===========================",
    ]
    return "\n".join(lines)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else format_seconds(float(seconds))


def _share(used: Any, requested: Any, ratio: Any, fmt: Any) -> str:
    if used is None or requested is None:
        return ""
    return f"{fmt(used)} of {fmt(requested)}" + (f" ({ratio:.0%})" if isinstance(ratio, int | float) else "")


def efficiency_line(eff: dict[str, Any]) -> str:
    """Requested against used, so the next submission can be right-sized."""
    parts = [
        (
            "time",
            _share(
                eff.get("elapsed_seconds"), eff.get("requested_seconds"), eff.get("time_efficiency"), duration
            ),
        ),
        (
            "memory",
            _share(
                eff.get("max_rss_mb"),
                eff.get("requested_mem_mb"),
                eff.get("mem_efficiency"),
                lambda mb: f"{mb:.0f}M",
            ),
        ),
    ]
    text = ", ".join(f"{name} {value}" for name, value in parts if value)
    if isinstance(eff.get("cpu_efficiency"), int | float):
        text += f", CPU {eff['cpu_efficiency']:.0%} of {eff.get('cpus')} core(s)"
    return text


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def artifacts_line(summary: dict[str, Any], shown: int = 6) -> str:
    """'3 files, 1.2 MB: work/out/ckpt.pt (1.0 MB), ...' (largest first), or the plain list of old records."""
    info = summary.get("artifacts_info")
    if not isinstance(info, dict):
        arts = summary.get("artifacts", [])
        return ", ".join(arts[:8]) + (" ..." if len(arts) > 8 else "") if arts else "(none)"
    if not info.get("count"):
        return "(none)"
    files = sorted(info.get("files", []), key=lambda f: -int(f.get("size", 0)))
    listed = ", ".join(f"{f['path']} ({_size(f.get('size', 0))})" for f in files[:shown])
    more = " ..." if info["count"] > shown else ""
    return f"{info['count']} file(s), {_size(info.get('total_bytes', 0))}: {listed}{more}"


def results_block(summary: dict[str, Any], run_dir: str) -> str:
    state = summary.get("state", "unknown")
    status = "SUCCESS" if summary.get("success") else f"FAILURE ({state})"
    logs = summary.get("logs", {})
    lines = [
        "=== EXPERIMENT RESULTS ===",
        f"Status: {status}   Duration: {duration(summary.get('duration_seconds'))}   "
        f"Output Location: {run_dir}",
        f"Key Metrics: {format_metrics(summary.get('metrics', {}), limit=8) or '(none)'}",
        f"Artifacts: {artifacts_line(summary)}",
        f"Log File: {logs.get('stdout', '')}   Errors: {logs.get('stderr', '')}",
    ]
    modified = summary.get("modified_tracked_files") or []
    if modified:
        lines.append(
            f"Warning: the run rewrote tracked file(s) in place: {', '.join(modified[:5])}"
            + (" ..." if len(modified) > 5 else "")
            + " (the shared snapshot is rebuilt before its next use; write outputs to new files instead)"
        )
    used = efficiency_line(summary.get("efficiency") or {})
    if used:
        lines.append(f"Resources Used: {used}")
    diagnosis = summary.get("diagnosis")
    if diagnosis:
        lines.append(f"Diagnosis: {diagnosis['category']}: {diagnosis['evidence']} -> {diagnosis['fix']}")
        lines.append(f"Next: {diagnosis['fix']}")
    else:
        lines.append(
            f"Next: compare with a baseline, or reproduce it: clusterrun reproduce {summary.get('run_id')}"
        )
    lines.append("==========================")
    return "\n".join(lines)


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


def sweep_table(view: Any) -> str:
    """Members with their swept values and key metrics, best first (marked *), then counts and totals."""
    axes = view.record.get("axes", [])
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
                *[_value(row["values"].get(a, "-")) for a in axes],
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
