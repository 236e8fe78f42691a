"""summary.json: what a finished run produced, collected once when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterrun.jsonio import read_json, write_json_atomic
from clusterrun.metrics import collect
from clusterrun.runs import Run, now_iso

SUCCESS = "completed"
LOG_TAIL_LINES = 20


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.rstrip().splitlines()[-lines:]


def artifacts(run: Run) -> list[str]:
    root = run.file("artifacts")
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(run.path)) for p in root.rglob("*") if p.is_file())


def _exit_record(run: Run) -> dict[str, Any]:
    try:
        data = read_json(run.file("exit.json"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def scheduler_logs(run: Run, job_id: str) -> list[str]:
    folder = run.file("scheduler")
    if not folder.is_dir() or not job_id:
        return []
    return sorted(str(p.relative_to(run.path)) for p in folder.glob(f"{job_id}_*_log.*"))


def build(run: Run, manifest: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The summary of an ended run, from the run directory and the scheduler's last word."""
    config = manifest.get("config", {})
    metric_cfg = config.get("metrics", {})
    exit_record = _exit_record(run)
    state = status.get("state", "unknown")
    returncode = exit_record.get("returncode", status.get("exit_code"))
    duration = status.get("elapsed_seconds") or exit_record.get("seconds")
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run.id,
        "run_dir": str(run.path),
        "state": state,
        "success": state == SUCCESS,
        "exit_code": returncode,
        "signal": status.get("signal"),
        "duration_seconds": duration,
        "node": status.get("node") or exit_record.get("host", ""),
        "job_id": manifest.get("job_id"),
        "max_rss_mb": status.get("max_rss_mb") or exit_record.get("peak_rss_mb"),
        "metrics": collect(run.path, metric_cfg.get("file", "metrics.jsonl"), metric_cfg.get("patterns", {})),
        "artifacts": artifacts(run),
        "logs": {
            "stdout": str(run.file("stdout.log")),
            "stderr": str(run.file("stderr.log")),
            "scheduler": [str(run.path / p) for p in scheduler_logs(run, str(manifest.get("job_id", "")))],
        },
        "collected_at": now_iso(),
    }
    if state != SUCCESS:
        summary["stderr_tail"] = _tail(run.file("stderr.log"))
        summary["diagnosis"] = basic_diagnosis(state, returncode, summary["stderr_tail"], status)
    return summary


def basic_diagnosis(state: str, returncode: Any, tail: list[str], status: dict[str, Any]) -> dict[str, str]:
    """A first diagnosis: the state, the exit code and the last error line of stderr."""
    evidence = next((line for line in reversed(tail) if line.strip()), "")
    if state == "timeout":
        return {
            "category": "time_limit",
            "evidence": f"state TIMEOUT after {status.get('elapsed_seconds')} s",
            "fix": "raise resources.time (e.g. resources.time=02:00:00) or checkpoint more often",
        }
    if state == "cancelled":
        who = status.get("cancelled_by")
        return {
            "category": "cancelled",
            "evidence": f"cancelled{' by uid ' + who if who else ''}",
            "fix": "resubmit if the cancellation was not intended",
        }
    return {
        "category": "unknown",
        "evidence": f"state {state}, exit code {returncode}" + (f": {evidence}" if evidence else ""),
        "fix": f"read the log: clusterrun logs {status.get('run_id', '<run-id>')} --stderr",
    }


def write(run: Run, summary: dict[str, Any]) -> None:
    write_json_atomic(run.file("summary.json"), summary)


def read(run: Run) -> dict[str, Any] | None:
    try:
        data = read_json(run.file("summary.json"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
