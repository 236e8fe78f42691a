"""What each page shows, as plain data for the templates (and the data files the browser reads)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterrun.analysis import curve_thin, history
from clusterrun.analysis.compare import flatten
from clusterrun.analysis.metrics import collect
from clusterrun.dashboard import records
from clusterrun.dashboard.records import RunRecord
from clusterrun.dashboard.render import script_json
from clusterrun.errors import ClusterrunError
from clusterrun.execution import envprobe
from clusterrun.records import memberfiles
from clusterrun.records.models import as_manifest
from clusterrun.records.registry import Registry
from clusterrun.records.resubmit import next_command
from clusterrun.services.compare import compare_runs
from clusterrun.services.sweeps import RAN_STATES, right_size

#: Past this many bytes of JSON lines, a run's curves are read here and thinned for the browser.
RAW_MAX_BYTES = 4 * 1024 * 1024
INDEX_METRICS = 5  # metric columns in the index: the most common names
SETTLED_FOR_VERDICT = {
    "completed",
    "failed",
    "timeout",
    "cancelled",
    "out_of_memory",
    "node_fail",
    "preempted",
}


def plain_block(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def _started(manifest: Mapping[str, Any]) -> str:
    for entry in manifest.get("state_history") or []:
        if isinstance(entry, dict) and entry.get("state") == "running":
            return str(entry.get("at") or "")
    return str(manifest.get("created") or "")


def _metric_values(record: RunRecord) -> dict[str, Any]:
    """Final values: the summary's once the run ended, else what the files hold so far."""
    if record.summary is not None:
        values = dict(record.summary.get("metrics") or {})
        values.update(record.summary.get("metrics_non_finite") or {})  # a diverged run's nan, inf: said
    else:
        sources = record.sources
        values = dict(collect(record.path, sources.file, sources.patterns)) if not record.problem else {}
    ignore = set((record.config.get("metrics") or {}).get("ignore") or [])
    step_key = record.sources.step_key
    return {k: v for k, v in sorted(values.items()) if k not in ignore and k != step_key}


def index_row(record: RunRecord) -> dict[str, Any]:
    """One run in the index (and in the cache of the next build): small, JSON only."""
    manifest, summary = record.manifest, record.summary or {}
    config = record.config
    return {
        "id": record.id,
        "name": str(manifest.get("name") or record.id.rsplit("_", 1)[0]),
        "state": record.state,
        "sweep": str(manifest.get("sweep") or ""),
        "sweep_values": dict(manifest.get("sweep_values") or {}),
        "created": str(manifest.get("created") or ""),
        "started": _started(manifest),
        "duration": summary.get("duration_seconds"),
        "params": dict(config.get("params") or {}),
        "seed": manifest.get("seed"),
        "metrics": _metric_values(record),
        "best": dict(summary.get("metrics_best") or {}),
        "reproduces": str(manifest.get("reproduces") or ""),
        "metrics_file": record.sources.file,
        "backend": str(manifest.get("backend") or ""),
        "job_id": str(manifest.get("job_id") or ""),
        "node": str(summary.get("node") or manifest.get("node") or ""),
        "efficiency": dict(summary.get("efficiency") or {}),
        "diagnosis": str((summary.get("diagnosis") or {}).get("category") or ""),
        "problem": record.problem,
    }


# ------------------------------------------------------------------------------------------ index


def index_page(rows: list[dict[str, Any]], sweeps: Mapping[str, Any], root: Path) -> dict[str, Any]:
    counts = Counter(name for row in rows for name in row.get("metrics") or {})
    metric_names = [name for name, _n in counts.most_common(INDEX_METRICS)]
    states = sorted({str(row["state"]) for row in rows})
    choices = [{"id": r["id"], "state": r["state"], "name": r["name"]} for r in rows]
    return {
        "title": "clusterrun runs",
        "root": "",
        "rows": rows,
        "metric_names": metric_names,
        "states": states,
        "sweeps": [{"id": k, **v} for k, v in sweeps.items()],
        "registry": str(root),
        "choices": choices,
        "member_scripts": [],
    }


# ------------------------------------------------------------------------------------------ a run


def _env(record: RunRecord) -> dict[str, Any]:
    """Where it ran: env.json (the submitting machine) overlaid with the job's own records."""
    env = records.read_json_file(record.path / "env.json")
    job = records.read_json_file(record.path / "job_env.json")
    for key in ("host", "platform", "gpus"):
        if key in job:
            env[key] = job[key]
    if isinstance(job.get("python"), dict):
        env["python"] = {**(env.get("python") or {}), **job["python"]}
    probe = records.read_json_file(record.path / envprobe.RECORD)
    if isinstance(probe.get("python"), dict):
        env["python"] = {**(env.get("python") or {}), **probe["python"]}
        env["packages"] = probe.get("packages") or {}
    return env


def _env_summary(env: Mapping[str, Any], node: str) -> dict[str, Any]:
    python: dict[str, Any] = env["python"] if isinstance(env.get("python"), dict) else {}
    packages: dict[str, Any] = env["packages"] if isinstance(env.get("packages"), dict) else {}
    variables: dict[str, Any] = next(
        (env[key] for key in ("env", "variables") if isinstance(env.get(key), dict)), {}
    )
    return {
        "python": str(python.get("version") or ""),
        "executable": str(python.get("executable") or ""),
        "host": str(env.get("host") or ""),
        "platform": str(env.get("platform") or ""),
        "gpus": env.get("gpus") or [],
        "node": node,
        "packages": {str(k): str(v) for k, v in sorted(packages.items())},
        "variables": {str(k): str(v) for k, v in sorted(variables.items())},
    }


def _verdict(registry: Registry, original: str, run_id: str) -> dict[str, Any] | None:
    try:
        return compare_runs(registry, original, run_id).as_record()
    except ClusterrunError as exc:
        return {"verdict": "UNKNOWN", "reason": exc.message, "metrics": []}


def _artifacts(record: RunRecord, page_dir: Path) -> list[dict[str, Any]]:
    info = (record.summary or {}).get("artifacts_info") or {}
    files = info.get("files") if isinstance(info, dict) else None
    if not isinstance(files, list):
        files = [{"path": p, "size": None} for p in (record.summary or {}).get("artifacts") or []]
    out = []
    for item in files:
        rel = str(item.get("path") or "")
        if not rel or rel.startswith("/") or ".." in Path(rel).parts:
            continue
        out.append(
            {"path": rel, "size": item.get("size"), "href": os.path.relpath(record.path / rel, page_dir)}
        )
    return out


def _config_text(record: RunRecord) -> str:
    sweep = record.manifest.get("sweep")  # a sweep's member before its job starts: its sweep's copy
    text = memberfiles.text(record.path, "config.yaml", sweep if isinstance(sweep, str) else None)
    return text or json.dumps(record.config, indent=2, sort_keys=True, default=str)


def _attempt_number(recorded: Any, index: int) -> int:
    """The attempt a job_started event belongs to (events before attempts were recorded: by position)."""
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else index + 1


def _again(manifest: Mapping[str, Any], diagnosis: Mapping[str, Any] | None) -> tuple[str, str]:
    """The submit command that makes the diagnosis's change, or the same one again for a run with
    nothing to fix (records/resubmit.py), else ""."""
    if not diagnosis or not manifest:
        return "", ""
    try:
        fix = str(diagnosis.get("fix") or "")
        return next_command(as_manifest(manifest), str(diagnosis.get("category") or ""), fix)
    except (ClusterrunError, ValueError):
        return "", ""


def _attempt_reasons(manifest: Mapping[str, Any], summary: Mapping[str, Any] | None) -> dict[int, str]:
    """Attempt number -> why it ended: the manifest's `attempts` (the job wrapper's word), replaced by the
    summary's where it has one (the scheduler's word where accounting kept one: REQUEUED, PREEMPTED)."""
    reasons: dict[int, str] = {}
    for source in (manifest.get("attempts"), (summary or {}).get("attempts")):
        for item in source if isinstance(source, list) else []:
            if isinstance(item, dict) and isinstance(item.get("attempt"), int) and item.get("reason"):
                reasons[item["attempt"]] = str(item["reason"])
    return reasons


#: Why a run that ended without becoming a job has no results (the page said it had "not ended").
NO_RESULTS = {
    "smoke_failed": "No results: its smoke test failed, so it was never submitted (the diagnosis above says "
    "why).",
    "not_submitted": "No results: it was not submitted (declined at the cost gate).",
    "submit_failed": "No results: the scheduler refused its submission (see its state history below).",
    "dry_run": "No results: a dry run, never submitted.",
    "interrupted": "No results: it was interrupted before it was submitted.",
}


def run_page(
    registry: Registry,
    record: RunRecord,
    rows: Mapping[str, dict[str, Any]],
    reproduced_by: list[str],
    blocks: Any,
    out: Path,
) -> dict[str, Any]:
    manifest, summary = record.manifest, record.summary
    row = rows[record.id]
    page_dir = out / "runs"
    patch_text, patch_size, patch_sha = records.patch(record)
    original = row.get("reproduces") or ""
    verdict = None
    if original and (original in rows or (registry.root / original).is_dir()):
        both = [row["state"], (rows.get(original) or {}).get("state")]
        if all(state in SETTLED_FOR_VERDICT for state in both):
            verdict = _verdict(registry, original, record.id)
    manifest_text = results_text = ""
    if not record.problem:
        manifest_text = blocks.manifest(manifest)
        if summary is not None:
            results_text = blocks.results(summary, str(record.path), str(manifest.get("reproduces") or ""))
    smoke = manifest.get("smoke") or {}
    smoke_failed = row.get("state") == "smoke_failed" and summary is None
    logs_dir = record.path / "smoke" if smoke_failed else record.path  # it never ran as a job
    stdout_tail = records.tail(logs_dir / "stdout.log")
    stderr_tail = records.tail(logs_dir / "stderr.log")
    reasons = _attempt_reasons(manifest, summary)
    attempts = [
        {
            "started": e.get("at"),
            "host": e.get("host"),
            "job_id": e.get("job_id"),
            "ended": None,
            "reason": reasons.get(_attempt_number(e.get("attempt"), index), ""),
        }
        for index, e in enumerate(records.events(record, ("job_started",)))
    ]
    for attempt, ended in zip(attempts, records.events(record, ("job_ended",)), strict=False):
        attempt["ended"] = ended.get("at")
        attempt["returncode"] = ended.get("returncode")
        attempt["seconds"] = ended.get("seconds")
    diagnosis = (summary or {}).get("diagnosis") or (smoke.get("diagnosis") if smoke_failed else None) or None
    fingerprints = manifest.get("data_fingerprints") or {}
    return {
        "title": record.id,
        "root": "../",
        "run": row,
        "problem": record.problem,
        "manifest_text": manifest_text,
        "results_text": results_text,
        "diagnosis": diagnosis,
        "again": _again(manifest, diagnosis),  # (command, why it is the same run again, or "")
        "diagnosis_of": "the smoke test" if smoke_failed else "",
        "no_results": "" if summary is not None else NO_RESULTS.get(str(row.get("state")), ""),
        "logs_of": "smoke/" if smoke_failed else "",
        "best": row.get("best") or {},
        "config_text": _config_text(record),
        "git": manifest.get("git") or {},
        "patch": {"text": patch_text, "size": patch_size, "sha": patch_sha},
        "env": _env_summary(_env(record), str(row.get("node") or "")),
        "data": [
            {"key": key, **{k: v for k, v in fp.items() if not isinstance(v, dict | list)}}
            for key, fp in sorted(fingerprints.items())
            if isinstance(fp, dict)
        ],
        "artifacts": _artifacts(record, page_dir),
        "stdout_tail": "\n".join(stdout_tail.splitlines()[-60:]),
        "stderr_tail": "\n".join(stderr_tail.splitlines()[-60:]),
        "attempts": attempts,
        "history": manifest.get("state_history") or [],
        "smoke": smoke,
        "original": {"id": original, "state": (rows.get(original) or {}).get("state", "")}
        if original
        else None,
        "reproduced_by": [{"id": i, "state": (rows.get(i) or {}).get("state", "")} for i in reproduced_by],
        "verdict": verdict,
        "run_dir": os.path.relpath(record.path, page_dir),
        "member_scripts": [record.id],
    }


def data_script(record: RunRecord, row: Mapping[str, Any]) -> str:
    """data/<run_id>.js: `CR.add({...})`: the metrics as JSON lines (parsed by the browser, the fast way)
    or, for histories of more than RAW_MAX_BYTES, curves thinned here (analysis/curve_thin.py: read a
    block at a time, never whole); and what the compare page diffs."""
    texts = ("", "") if record.problem else records.metrics_text(record, RAW_MAX_BYTES)
    data: dict[str, Any] = {
        "id": record.id,
        "name": row.get("name"),
        "state": row.get("state"),
        "sweep": row.get("sweep"),
        "sweep_values": row.get("sweep_values") or {},
        "step_key": record.sources.step_key,
        "metrics": row.get("metrics") or {},
        "best": row.get("best") or {},
    }
    if texts is None:
        data["series"] = curve_thin.thinned(record.path, record.sources)
    else:
        data["file"], data["stdout"] = texts
    if not record.problem:
        manifest = record.manifest
        git = manifest.get("git") or {}
        _text, patch_size, patch_sha = records.patch(record)
        data["config"] = {k: v for k, v in flatten(record.config).items() if not k.startswith("description")}
        data["code"] = {
            "commit": git.get("commit"),
            "branch": git.get("branch"),
            "dirty": git.get("dirty"),
            "patch": f"{patch_size} bytes, sha256 {patch_sha}" if patch_size else "",
            "snapshot": (manifest.get("snapshot") or {}).get("id"),
        }
        env = _env_summary(_env(record), str(row.get("node") or ""))
        data["environment"] = {
            "python": env["python"],
            "python executable": env["executable"],
            "host": env["host"],
            "platform": env["platform"],
            "gpus": json.dumps(env["gpus"]) if env["gpus"] else "",
            "node": env["node"],
            **{f"package {k}": v for k, v in env["packages"].items()},
        }
        fps = manifest.get("data_fingerprints") or {}
        data["data"] = {
            f"{key}: {fp.get('path', '')}": " ".join(
                f"{k}={fp[k]}"
                for k in ("size", "files", "sha256", "digest", "mtime")
                if fp.get(k) is not None
            )
            for key, fp in sorted(fps.items())
            if isinstance(fp, dict)
        }
    return f"CR.add({script_json(data)});\n"


# ------------------------------------------------------------------------------------------ a sweep


def sweep_page(record: Mapping[str, Any], member_rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = [k for r in member_rows for k in r.get("metrics") or {}]
    metric, mode = history.ranking(record.get("metric"), record.get("mode"), names)
    ranked = [
        r
        for r in member_rows
        if r["state"] == "completed" and isinstance((r.get("metrics") or {}).get(metric), int | float)
    ]
    ranked.sort(key=lambda r: r["metrics"][metric], reverse=(mode == "max"))
    best = ranked[0]["id"] if ranked else None
    others = [r for r in member_rows if r not in ranked]
    counts = Counter(str(r["state"]) for r in member_rows)
    efficiencies = [r.get("efficiency") or {} for r in member_rows if r["state"] == "completed"]
    ran = [r.get("efficiency") or {} for r in member_rows if r["state"] in RAN_STATES]
    axes = list(record.get("axes") or [])
    if not axes:
        axes = sorted({k for r in member_rows for k in r.get("sweep_values") or {}})
    return {
        "title": str(record.get("sweep_id")),
        "root": "../",
        "sweep": record,
        "metric": metric,
        "mode": mode,
        "best": best,
        "members": ranked + others,
        "axes": axes,
        "counts": dict(sorted(counts.items())),
        "right_size": right_size(efficiencies, ran, (record.get("estimate") or {}).get("peak_rss_mb")),
        "member_scripts": [r["id"] for r in member_rows],
        "config": {"metric": metric, "mode": mode, "best": best, "axes": axes},
    }


def compare_page() -> dict[str, Any]:
    return {"title": "compare runs", "root": "", "member_scripts": []}
