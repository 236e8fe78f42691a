"""The status service: poll every active run in one query per backend, record changes, collect summaries."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusterrun import summary as summaries
from clusterrun.errors import SchedulerUnavailable
from clusterrun.jsonio import read_json
from clusterrun.metrics import collect
from clusterrun.runs import Registry, Run
from clusterrun.scheduler import JobRef, JobStatus, Scheduler, get_scheduler
from clusterrun.scheduler.base import TERMINAL
from clusterrun.scheduler.cache import cached_poll

#: States of our own, before or instead of the scheduler's.
PRE_STATES = frozenset({"created", "smoke_passed", "smoke_failed", "dry_run", "submitting", "submit_failed"})
POLL_MAX_AGE = 2.0  # seconds a poll answer is shared with other invocations
POLL_MAX_AGE_ENV = "CLUSTERRUN_POLL_MAX_AGE"


def _poll_max_age() -> float:
    try:
        return max(0.0, float(os.environ.get(POLL_MAX_AGE_ENV, POLL_MAX_AGE)))
    except ValueError:
        return POLL_MAX_AGE


@dataclass
class RunStatus:
    run_id: str
    name: str
    state: str
    job_id: str
    backend: str
    node: str = ""
    elapsed_seconds: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL or self.state in PRE_STATES - {"submitting"}

    def as_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "state": self.state,
            "job_id": self.job_id,
            "backend": self.backend,
            "node": self.node,
            "elapsed_seconds": self.elapsed_seconds,
            "metrics": self.metrics,
            "summary": self.summary,
        }


@dataclass
class StatusReport:
    runs: list[RunStatus]
    warnings: list[str]
    queries: int  # scheduler queries made for this refresh


def is_active(manifest: dict[str, Any]) -> bool:
    state = str(manifest.get("state", ""))
    return bool(manifest.get("job_id")) and state not in TERMINAL and state not in PRE_STATES


def _from_exit_record(run: Run, job_id: str) -> JobStatus | None:
    """When the scheduler has forgotten a job (no accounting), the job's own exit.json decides."""
    try:
        record = read_json(run.file("exit.json"))
    except (OSError, ValueError):
        return None
    code = record.get("returncode")
    state = "completed" if code == 0 else "failed"
    return JobStatus(
        job_id,
        state,
        raw_state="(from exit.json)",
        exit_code=code,
        elapsed_seconds=int(record.get("seconds", 0)),
        node=str(record.get("host", "")),
        source="exit.json",
    )


def refresh(
    registry: Registry,
    run_ids: list[str] | None = None,
    scheduler_for: Callable[[str], Scheduler] = get_scheduler,
    max_age: float | None = None,
) -> StatusReport:
    """Bring the given runs (default: all) up to date. Never raises for an unreachable scheduler."""
    runs = [registry.get(i) for i in run_ids] if run_ids else list(registry.runs())
    max_age = _poll_max_age() if max_age is None else max_age
    manifests = {run.id: run.manifest() for run in runs}
    warnings: list[str] = []
    queries = 0
    by_backend: dict[str, list[Run]] = {}
    for run in runs:
        if is_active(manifests[run.id]):
            by_backend.setdefault(str(manifests[run.id].get("backend", "local")), []).append(run)
    polled: dict[str, JobStatus] = {}
    for backend, members in by_backend.items():
        refs = [JobRef(str(manifests[r.id]["job_id"]), str(r.file("scheduler"))) for r in members]
        try:
            scheduler = scheduler_for(backend)
            polled.update(cached_poll(scheduler, refs, registry.cache_dir / f"poll-{backend}.json", max_age))
            queries += 1
        except SchedulerUnavailable as exc:
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    statuses = []
    for run in runs:
        manifest = manifests[run.id]
        job_id = str(manifest.get("job_id") or "")
        status = polled.get(job_id) if is_active(manifest) else None
        if is_active(manifest) and status is None and not warnings:
            status = _from_exit_record(run, job_id)
        statuses.append(_apply(run, manifest, status))
    return StatusReport(statuses, warnings, queries)


def _apply(run: Run, manifest: dict[str, Any], status: JobStatus | None) -> RunStatus:
    requested = manifest.get("cancel_requested")
    if status is not None and requested and status.state in ("failed", "lost"):
        status.state, status.cancelled_by = "cancelled", str(requested.get("by", ""))
    if status is not None and status.state != manifest.get("state"):
        note = status.raw_state if status.raw_state.lower() != status.state else ""
        manifest = run.update(state=status.state, note=note, node=status.node or manifest.get("node", ""))
    state = str(manifest.get("state", "unknown"))
    current = summaries.read(run)
    if state in TERMINAL and current is None:
        record = status.as_record() if status else {"state": state}
        record["run_id"] = run.id
        current = summaries.build(run, manifest, record)
        summaries.write(run, current)
        run.event("summary_collected", state=state)
    config = manifest.get("config", {}).get("metrics", {})
    metrics = (
        current["metrics"]
        if current
        else collect(run.path, config.get("file", "metrics.jsonl"), config.get("patterns", {}))
    )
    elapsed = (current or {}).get("duration_seconds")
    if elapsed is None and status is not None:
        elapsed = status.elapsed_seconds
    return RunStatus(
        run_id=run.id,
        name=str(manifest.get("name", "")),
        state=state,
        job_id=str(manifest.get("job_id") or ""),
        backend=str(manifest.get("backend", "")),
        node=str(manifest.get("node", "")),
        elapsed_seconds=elapsed,
        metrics=metrics,
        summary=current,
    )


def wait(
    registry: Registry,
    run_ids: list[str],
    on_refresh: Callable[[StatusReport], None] = lambda _r: None,
    scheduler_for: Callable[[str], Scheduler] = get_scheduler,
    first_interval: float = 1.0,
    max_interval: float = 30.0,
    timeout: float | None = None,
) -> StatusReport:
    """Refresh until every run has ended; the interval doubles while nothing changes (to max_interval)."""
    interval = first_interval
    started = time.monotonic()
    previous: list[str] = []
    while True:
        report = refresh(registry, run_ids, scheduler_for)
        on_refresh(report)
        if all(r.done for r in report.runs):
            return report
        if timeout is not None and time.monotonic() - started > timeout:
            return report
        states = [r.state for r in report.runs]
        interval = first_interval if states != previous else min(max_interval, interval * 2)
        previous = states
        time.sleep(interval)
