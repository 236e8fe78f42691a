"""Bring runs up to date: poll every active run in one query per backend, record state changes, collect
summaries when runs end; wait until they have; one run's record and results for `show`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from clusterrun.analysis.metrics import collect
from clusterrun.errors import ClusterrunError, SchedulerUnavailable, UsageError
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import read_json
from clusterrun.records.models import Manifest, Summary
from clusterrun.records.registry import Registry, Run
from clusterrun.scheduler import TERMINAL, JobRef, JobStatus, get_scheduler, scheduler_named
from clusterrun.scheduler.cache import cached_poll

#: States of our own, before or instead of the scheduler's.
PRE_STATES = frozenset(
    {"created", "smoke_passed", "smoke_failed", "dry_run", "submitting", "submit_failed", "not_submitted"}
)
POLL_MAX_AGE = 2.0  # seconds a poll answer is shared with other invocations
POLL_MAX_AGE_ENV = "CLUSTERRUN_POLL_MAX_AGE"
EXIT_GRACE = 30.0


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
        """Nothing more will happen to it: ended, or never submitted (only 'submitting' may still change)."""
        return self.state in TERMINAL or (not self.job_id and self.state != "submitting")

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StatusReport:
    runs: list[RunStatus]
    warnings: list[str]
    queries: int  # scheduler queries made for this refresh

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def as_record(self) -> dict[str, Any]:
        return {"runs": [r.as_record() for r in self.runs], "warnings": self.warnings}


def is_active(manifest: Manifest) -> bool:
    return bool(manifest.job_id) and manifest.state not in TERMINAL and manifest.state not in PRE_STATES


def _from_exit_record(run: Run, job_id: str) -> JobStatus | None:
    """When the scheduler does not know a job (accounting off or lagging), the job's own exit.json decides,
    once the scheduler had EXIT_GRACE seconds to catch up (its record has the node, MaxRSS, CPU time)."""
    try:
        record = read_json(run.file("exit.json"))
    except (OSError, ValueError):
        return None
    if time.time() - float(record.get("ended", 0)) < EXIT_GRACE:
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
    max_age: float | None = None,
) -> StatusReport:
    """Bring the given runs (default: all) up to date. Never raises for an unreachable scheduler."""
    runs = [registry.get(i) for i in run_ids] if run_ids else list(registry.runs())
    max_age = _poll_max_age() if max_age is None else max_age
    warnings: list[str] = []
    manifests: dict[str, Manifest] = {}
    damaged: list[RunStatus] = []
    for run in list(runs):
        try:
            manifests[run.id] = run.load_manifest()
        except ClusterrunError as exc:  # one damaged record must not hide the others; it is left as it is
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            damaged.append(RunStatus(run.id, "", "damaged", "", ""))
            runs.remove(run)
    queries = 0
    by_backend: dict[str, list[Run]] = {}
    for run in runs:
        if manifests[run.id].state == "submitting" and not manifests[run.id].job_id:
            manifests[run.id] = recover_orphan(run, manifests[run.id])
        if is_active(manifests[run.id]):
            by_backend.setdefault(manifests[run.id].backend or "local", []).append(run)
    polled: dict[str, JobStatus] = {}
    for backend, members in by_backend.items():
        refs = [
            JobRef(str(manifests[r.id].job_id), str(summaries.scheduler_folder(r, manifests[r.id])))
            for r in members
        ]
        try:
            scheduler = get_scheduler(backend)
            polled.update(cached_poll(scheduler, refs, registry.cache_dir / f"poll-{backend}.json", max_age))
            queries += 1
        except SchedulerUnavailable as exc:
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    statuses = []
    for run in runs:
        manifest = manifests[run.id]
        job_id = manifest.job_id or ""
        status = polled.get(job_id) if is_active(manifest) else None
        if is_active(manifest) and status is None and not warnings:
            status = _from_exit_record(run, job_id)
        try:
            statuses.append(_apply(run, manifest, status))
        except ClusterrunError as exc:  # a summary from a newer clusterrun: reported, left as it is
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            damaged.append(RunStatus(run.id, manifest.name, "damaged", job_id, manifest.backend))
    return StatusReport(statuses + damaged, warnings, queries)


ORPHAN_AFTER = 120.0  # seconds in 'submitting' before a run counts as interrupted


def recover_orphan(run: Run, manifest: Manifest) -> Manifest:
    """A submission interrupted between the scheduler's answer and the manifest write leaves the run in
    'submitting'.

    The backend recovers the job id from the run's own folder (Scheduler.recover); a run with nothing
    to recover after ORPHAN_AFTER seconds was never submitted."""
    folder = summaries.scheduler_folder(run, manifest)
    if folder != run.file("scheduler"):
        return manifest  # an array member: its sweep's folder holds every member's submission
    try:
        found = scheduler_named(manifest.backend or "local").recover(folder)
    except UsageError:
        return manifest  # a backend this installation does not know: left as it is
    if len(found) == 1:
        return run.update(
            state="submitted",
            note="job id recovered after an interrupted submission",
            job_id=found[0],
            scheduler_folder=str(folder),
        )
    history = manifest.state_history
    try:
        since = datetime.fromisoformat(history[-1].at if history else "").timestamp()
    except ValueError:
        return manifest
    if not found and time.time() - since > ORPHAN_AFTER:
        return run.update(state="submit_failed", note="interrupted before the scheduler accepted it")
    return manifest


def _apply(run: Run, manifest: Manifest, status: JobStatus | None) -> RunStatus:
    requested = manifest.cancel_requested
    if status is not None and requested is not None and status.state in ("failed", "lost"):
        status.state, status.cancelled_by = "cancelled", requested.by
    if status is not None and status.state != manifest.state:
        note = status.raw_state if status.raw_state.lower() != status.state else ""
        manifest = run.update(state=status.state, note=note, node=status.node or manifest.node)
    state = manifest.state
    current: Summary | None = summaries.load(run)
    if state in TERMINAL and current is None:
        record = status.as_record() if status else {"state": state}
        record["run_id"] = run.id
        current = summaries.collect(run, manifest, record)
        summaries.write(run, current)
        run.event("summary_collected", state=state)
    sources = manifest.config.metrics
    metrics = current.metrics if current else collect(run.path, sources.file, sources.patterns)
    elapsed = current.duration_seconds if current else None
    if elapsed is None and status is not None:
        elapsed = status.elapsed_seconds
    return RunStatus(
        run_id=run.id,
        name=manifest.name,
        state=state,
        job_id=manifest.job_id or "",
        backend=manifest.backend,
        node=manifest.node or (current.node if current else ""),
        elapsed_seconds=elapsed,
        metrics=metrics,
        summary=current.to_data() if current else None,
    )


def wait(
    registry: Registry,
    run_ids: list[str],
    on_refresh: Callable[[StatusReport], None] = lambda _r: None,
    first_interval: float = 1.0,
    max_interval: float = 30.0,
    timeout: float | None = None,
) -> StatusReport:
    """Refresh until every run has ended; the interval doubles while nothing changes (to max_interval)."""
    interval = first_interval
    started = time.monotonic()
    previous: list[str] = []
    while True:
        report = refresh(registry, run_ids)
        on_refresh(report)
        if all(r.done for r in report.runs):
            return report
        if timeout is not None and time.monotonic() - started > timeout:
            return report
        states = [r.state for r in report.runs]
        interval = first_interval if states != previous else min(max_interval, interval * 2)
        previous = states
        time.sleep(interval)


@dataclass
class RunDetails:
    """One run as `show` presents it: its manifest and, once it has ended, its summary."""

    run_id: str
    run_dir: str
    manifest: Manifest
    status: RunStatus
    warnings: list[str]

    @property
    def run_ids(self) -> list[str]:
        return [self.run_id]

    def as_record(self) -> dict[str, Any]:
        return {"manifest": self.manifest.to_data(), "summary": self.status.summary}


def describe(registry: Registry, run_id: str) -> RunDetails:
    """The run brought up to date, with its manifest as it now stands."""
    report = refresh(registry, [run_id])
    run = registry.get(run_id)
    return RunDetails(run.id, str(run.path), run.load_manifest(), report.runs[0], report.warnings)
