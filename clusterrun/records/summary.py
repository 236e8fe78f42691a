"""summary.json: what a finished run produced, collected once when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterrun.analysis.efficiency import efficiency
from clusterrun.analysis.metrics import collect
from clusterrun.config.spec import ExperimentSpec
from clusterrun.diagnose.rules import Diagnosis, diagnose, progress_from
from clusterrun.diagnose.tracebacks import find_traceback
from clusterrun.execution.smoke import SmokeResult
from clusterrun.inputs import workdir
from clusterrun.records.jsonio import read_json, write_json_atomic, write_text_atomic
from clusterrun.records.registry import Run, now_iso

SUCCESS = "completed"
LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 64 * 1024  # of each log, for the diagnosis and the traceback
TRACEBACK_FILE = "traceback.txt"


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.rstrip().splitlines()[-lines:]


def artifacts(run: Run, manifest: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """What the run created: files in artifacts/ and every file its working directory gained or rewrote
    (the snapshot's own files left out), with sizes; and the tracked files it rewrote in place."""
    items: list[tuple[str, int]] = []
    root = run.file("artifacts")
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file():
                items.append((str(path.relative_to(run.path)), path.stat().st_size))
    links = (manifest or {}).get("workdir_links") or {}
    found = workdir.check(run.file(workdir.NAME), links)
    items += [(f"{workdir.NAME}/{rel}", size) for rel, size in found.artifacts]
    return workdir.artifacts_record(sorted(items), ""), found.modified_in_place


def _exit_record(run: Run) -> dict[str, Any]:
    try:
        data = read_json(run.file("exit.json"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def scheduler_folder(run: Run, manifest: dict[str, Any]) -> Path:
    """submitit's folder: the run's own, or its sweep's (shared by a job array's members)."""
    return Path(str(manifest.get("scheduler_folder") or run.file("scheduler")))


def scheduler_logs(folder: Path, job_id: str) -> list[Path]:
    """submitit's logs of one job: <job_id>_<task>_log.out/.err (array members: <array>_<index>_...)."""
    if not folder.is_dir() or not job_id:
        return []
    return sorted(folder.glob(f"{job_id}_*_log.*"))


def read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last `max_bytes` of a log, from a line start; '' when it cannot be read."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            if size > max_bytes:
                handle.seek(size - max_bytes)
            data = handle.read()
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return text.split("\n", 1)[-1] if size > max_bytes else text


def log_tails(run: Run, folder: Path, job_id: str) -> dict[str, str]:
    """Tails of the logs a diagnosis reads, most relevant first: the command's stderr and stdout, then
    submitit's logs of the job (where slurmstepd writes 'exceeded memory limit' and 'DUE TO TIME LIMIT').
    """
    scheduler = scheduler_logs(folder, job_id)
    paths = {"stderr.log": run.file("stderr.log"), "stdout.log": run.file("stdout.log")}
    for path in [p for p in scheduler if p.suffix == ".err"] + [p for p in scheduler if p.suffix != ".err"]:
        paths[f"scheduler/{path.name}"] = path
    tails = {name: read_tail(path) for name, path in paths.items()}
    return {name: text for name, text in tails.items() if text.strip()}


def build(run: Run, manifest: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The summary of an ended run, from the run directory and the scheduler's last word."""
    config = manifest.get("config", {})
    metric_cfg = config.get("metrics", {})
    exit_record = _exit_record(run)
    state = status.get("state", "unknown")
    returncode = exit_record.get("returncode", status.get("exit_code"))
    duration = status.get("elapsed_seconds") or exit_record.get("seconds")
    job_id = str(manifest.get("job_id") or "")
    resources = manifest.get("resources") or config.get("resources") or {}
    arts, modified = artifacts(run, manifest)
    modified = modified or list(exit_record.get("modified_tracked_files") or [])
    if modified:
        snapshot_path = (manifest.get("snapshot") or {}).get("path")
        if snapshot_path and not exit_record.get("modified_tracked_files"):
            workdir.mark_tainted(Path(str(snapshot_path)), modified, f"run {run.id}")
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
        "artifacts": [item["path"] for item in arts["files"]],
        "artifacts_info": arts,
        "efficiency": efficiency(
            manifest.get("resources") or config.get("resources") or {}, status, exit_record
        ),
        "logs": {
            "stdout": str(run.file("stdout.log")),
            "stderr": str(run.file("stderr.log")),
            "scheduler": [str(p) for p in scheduler_logs(scheduler_folder(run, manifest), job_id)],
        },
        "collected_at": now_iso(),
    }
    if modified:
        summary["modified_tracked_files"] = modified
    if state != SUCCESS:
        summary["stderr_tail"] = _tail(run.file("stderr.log"))
        logs = log_tails(run, scheduler_folder(run, manifest), job_id)
        _log, traceback = find_traceback(logs)
        if traceback:
            write_text_atomic(run.file(TRACEBACK_FILE), traceback)
            summary["logs"]["traceback"] = str(run.file(TRACEBACK_FILE))
        params = config.get("params") or {}
        found = diagnose(
            str(state),
            returncode if isinstance(returncode, int) else None,
            status.get("signal"),
            logs,
            resources,
            duration,
            summary["max_rss_mb"],
            str(status.get("cancelled_by") or ""),
            progress_from(summary["metrics"], params),
            params=params,
            node=str(summary["node"] or ""),
            run_id=run.id,
            repo_root=str((manifest.get("git") or {}).get("root") or ""),
            smoke_peak_mb=_smoke_peak(manifest),
        )
        summary["diagnosis"] = found.as_record()
    return summary


def _smoke_peak(manifest: dict[str, Any]) -> float | None:
    """The peak memory of the run's smoke test (the summed RSS of its process tree), when it ran."""
    smoke = manifest.get("smoke")
    peak = smoke.get("peak_rss_mb") if isinstance(smoke, dict) and smoke.get("ok") else None
    return float(peak) if isinstance(peak, int | float) and not isinstance(peak, bool) else None


def smoke_diagnosis(smoke: SmokeResult, spec: ExperimentSpec, repo_root: str = "") -> Diagnosis:
    """The same diagnosis for a failed smoke test (a timeout there is a time_limit on smoke.timeout);
    `repo_root`: the checkout, where a file the test missed may exist untracked."""
    logs = {
        "smoke/stderr.log": read_tail(Path(smoke.stderr_path)),
        "smoke/stdout.log": read_tail(Path(smoke.stdout_path)),
    }
    return diagnose(
        "timeout" if smoke.timed_out else "failed",
        smoke.returncode,
        None,
        {name: text for name, text in logs.items() if text.strip()},
        spec.resources.model_dump(mode="json"),
        smoke.seconds,
        smoke.peak_rss_mb,
        params=spec.params,
        smoke={"timeout": spec.smoke.timeout, "params": dict(spec.smoke.params)},
        repo_root=repo_root,
    )


def write(run: Run, summary: dict[str, Any]) -> None:
    write_json_atomic(run.file("summary.json"), summary)


def read(run: Run) -> dict[str, Any] | None:
    try:
        data = read_json(run.file("summary.json"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
