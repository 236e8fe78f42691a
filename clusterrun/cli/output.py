"""Text blocks and tables shown to the user (the manifest and results blocks of DESIGN.md)."""

from __future__ import annotations

import json
from typing import Any

import typer
from tabulate import tabulate

from clusterrun.metrics import format_metrics
from clusterrun.resources import format_seconds


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, sort_keys=True, indent=2, default=str))


def _resources(res: dict[str, Any]) -> str:
    order = ["partition", "time", "nodes", "cpus_per_task", "mem", "gpus", "account", "qos"]
    return " ".join(f"{k}={res[k]}" for k in order if res.get(k) not in (None, ""))


def manifest_block(manifest: dict[str, Any]) -> str:
    git = manifest.get("git", {})
    dirty = "yes (patch saved: git.patch)" if git.get("dirty") else "no"
    params = manifest.get("config", {}).get("params", {})
    smoke = manifest.get("smoke") or {}
    if smoke.get("skipped"):
        smoke_line = f"skipped ({smoke.get('reason')})"
    elif smoke:
        verdict = "passed" if smoke.get("ok") else "FAILED"
        smoke_line = (
            f"{verdict} in {smoke.get('seconds', 0):.2f} s, peak {smoke.get('peak_rss_mb', 0):.0f} MB"
            + (" (cached)" if smoke.get("cached") else "")
        )
    else:
        smoke_line = "not run"
    lines = [
        "=== EXPERIMENT MANIFEST ===",
        f"Run ID: {manifest.get('run_id')}",
        f"Git Commit: {git.get('commit')}   Branch: {git.get('branch')}   Uncommitted Changes: {dirty}",
        f"Command: {manifest.get('command_line')}",
        f"Seed: {manifest.get('seed')}",
        f"Key Hyperparameters: {' '.join(f'{k}={v}' for k, v in params.items()) or '(none)'}",
        f"Resources: {_resources(manifest.get('resources', {}))}   Backend: {manifest.get('backend')}",
        f"Smoke Test: {smoke_line}",
        f"Snapshot: {manifest.get('snapshot', {}).get('path')}",
        f"Output Directory: {manifest.get('run_dir', '')}",
        "===========================",
    ]
    return "\n".join(lines)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else format_seconds(float(seconds))


def results_block(summary: dict[str, Any], run_dir: str) -> str:
    state = summary.get("state", "unknown")
    status = "SUCCESS" if summary.get("success") else f"FAILURE ({state})"
    logs = summary.get("logs", {})
    arts = summary.get("artifacts", [])
    lines = [
        "=== EXPERIMENT RESULTS ===",
        f"Status: {status}   Duration: {duration(summary.get('duration_seconds'))}   "
        f"Output Location: {run_dir}",
        f"Key Metrics: {format_metrics(summary.get('metrics', {}), limit=8) or '(none)'}",
        f"Artifacts: {', '.join(arts[:8]) + (' ...' if len(arts) > 8 else '') if arts else '(none)'}",
        f"Log File: {logs.get('stdout', '')}   Errors: {logs.get('stderr', '')}",
    ]
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
