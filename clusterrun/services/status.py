"""The status service: poll every active run in one query per backend, record changes, collect summaries."""

from __future__ import annotations

import fnmatch
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from clusterrun.analysis.estimate import MEM_MARGIN, TIME_SUGGEST
from clusterrun.analysis.metrics import collect
from clusterrun.config.resources import format_mem_mb, format_seconds, round_mem_mb, round_seconds
from clusterrun.errors import ClusterrunError, SchedulerUnavailable, UsageError
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import read_json
from clusterrun.records.registry import SWEEP_FILE, Registry, Run
from clusterrun.scheduler import JobRef, JobStatus, Scheduler, get_scheduler
from clusterrun.scheduler.base import TERMINAL
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


def is_active(manifest: dict[str, Any]) -> bool:
    state = str(manifest.get("state", ""))
    return bool(manifest.get("job_id")) and state not in TERMINAL and state not in PRE_STATES


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
    scheduler_for: Callable[[str], Scheduler] = get_scheduler,
    max_age: float | None = None,
) -> StatusReport:
    """Bring the given runs (default: all) up to date. Never raises for an unreachable scheduler."""
    runs = [registry.get(i) for i in run_ids] if run_ids else list(registry.runs())
    max_age = _poll_max_age() if max_age is None else max_age
    warnings: list[str] = []
    manifests: dict[str, dict[str, Any]] = {}
    damaged: list[RunStatus] = []
    for run in list(runs):
        try:
            manifests[run.id] = run.manifest()
        except ClusterrunError as exc:  # one damaged record must not hide the others; it is left as it is
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            damaged.append(RunStatus(run.id, "", "damaged", "", ""))
            runs.remove(run)
    queries = 0
    by_backend: dict[str, list[Run]] = {}
    for run in runs:
        if manifests[run.id].get("state") == "submitting" and not manifests[run.id].get("job_id"):
            manifests[run.id] = recover_orphan(run, manifests[run.id])
        if is_active(manifests[run.id]):
            by_backend.setdefault(str(manifests[run.id].get("backend", "local")), []).append(run)
    polled: dict[str, JobStatus] = {}
    for backend, members in by_backend.items():
        refs = [
            JobRef(str(manifests[r.id]["job_id"]), str(summaries.scheduler_folder(r, manifests[r.id])))
            for r in members
        ]
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
    return StatusReport(statuses + damaged, warnings, queries)


ORPHAN_AFTER = 120.0  # seconds in 'submitting' before a run counts as interrupted


def recover_orphan(run: Run, manifest: dict[str, Any]) -> dict[str, Any]:
    """A submission interrupted between sbatch and the manifest write leaves the run in 'submitting'.

    submitit names the job's pickle after its id as soon as sbatch answers, so the id can be recovered
    from the run's own folder; a run with no such file after ORPHAN_AFTER seconds was never submitted."""
    folder = summaries.scheduler_folder(run, manifest)
    if folder != run.file("scheduler"):
        return manifest  # an array member: its sweep's folder holds every member's pickle
    found = sorted(p.name.removesuffix("_submitted.pkl") for p in folder.glob("*_submitted.pkl"))
    if len(found) == 1:
        return run.update(
            state="submitted",
            note="job id recovered after an interrupted submission",
            job_id=found[0],
            scheduler_folder=str(folder),
        )
    history = manifest.get("state_history") or [{}]
    try:
        since = datetime.fromisoformat(str(history[-1].get("at"))).timestamp()
    except ValueError:
        return manifest
    if not found and time.time() - since > ORPHAN_AFTER:
        return run.update(state="submit_failed", note="interrupted before the scheduler accepted it")
    return manifest


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
        node=str(manifest.get("node") or (current or {}).get("node") or ""),
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


@dataclass
class SweepView:
    sweep_id: str
    record: dict[str, Any]
    rows: list[dict[str, Any]]  # members, sorted by the metric (best first), each with values and state
    metric: str | None
    mode: str
    best: str | None  # run id of the best finished member
    counts: dict[str, int]
    totals: dict[str, float]
    warnings: list[str]

    def as_record(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "metric": self.metric,
            "mode": self.mode,
            "best": self.best,
            "counts": self.counts,
            "totals": self.totals,
            "members": self.rows,
            "warnings": self.warnings,
            "arrays": self.record.get("arrays", []),
            "estimate": self.record.get("estimate"),
        }


def sweep_view(
    registry: Registry,
    sweep_id: str,
    report: StatusReport | None = None,
    sort: str | None = None,
    mode: str | None = None,
) -> SweepView:
    """A sweep's members with their values and metrics, ranked; one scheduler query for all of them."""
    record = read_json(registry.get(sweep_id, allow_sweep=True).file(SWEEP_FILE))
    member_ids = [str(m["run_id"]) for m in record.get("members", [])]
    values = {str(m["run_id"]): m.get("values", {}) for m in record.get("members", [])}
    if report is None:
        report = refresh(registry, member_ids)
    metric = sort or record.get("metric")
    if metric is None:
        names = [k for r in report.runs for k in r.metrics]
        metric = "loss" if "loss" in names else (names[0] if names else None)
    mode = mode or str(record.get("mode") or "min")
    rows = []
    counts: dict[str, int] = {}
    totals = {"cpu_hours_used": 0.0, "cpu_hours_requested": 0.0}
    for run in report.runs:
        counts[run.state] = counts.get(run.state, 0) + 1
        used = ((run.summary or {}).get("efficiency") or {}).get("cpu_hours_used")
        totals["cpu_hours_used"] += float(used or 0.0)
        estimate_record = registry.get(run.run_id).manifest().get("estimate") or {}
        totals["cpu_hours_requested"] += float(estimate_record.get("cpu_hours") or 0.0)
        rows.append(run.as_record() | {"values": values.get(run.run_id, {}), "best": False})
    ranked = [
        r for r in rows if r["state"] == "completed" and isinstance(r["metrics"].get(metric), int | float)
    ]
    ranked.sort(key=lambda r: r["metrics"][metric], reverse=(mode == "max"))
    others = [r for r in rows if r not in ranked]
    best = ranked[0]["run_id"] if ranked else None
    if ranked:
        ranked[0]["best"] = True
    totals = {k: round(v, 6) for k, v in totals.items()} | right_size(
        [(r.summary or {}).get("efficiency") or {} for r in report.runs if r.state == "completed"]
    )
    return SweepView(sweep_id, record, ranked + others, metric, mode, best, counts, totals, report.warnings)


def right_size(efficiencies: list[dict[str, Any]]) -> dict[str, Any]:
    """Median efficiencies of finished members, and the resources the next sweep should ask for."""
    out: dict[str, Any] = {}
    for key in ("time_efficiency", "mem_efficiency", "cpu_efficiency"):
        values = [e[key] for e in efficiencies if isinstance(e.get(key), int | float)]
        if values:
            out[f"{key}_median"] = round(statistics.median(values), 3)
    elapsed = [
        e["elapsed_seconds"] for e in efficiencies if isinstance(e.get("elapsed_seconds"), int | float)
    ]
    peaks = [e["max_rss_mb"] for e in efficiencies if isinstance(e.get("max_rss_mb"), int | float)]
    if elapsed:
        out["suggested_time"] = format_seconds(round_seconds(max(elapsed) * TIME_SUGGEST))
    if peaks:
        out["suggested_mem"] = format_mem_mb(round_mem_mb(max(peaks) * MEM_MARGIN))
    return out


def parse_since(text: str) -> float:
    """'90m', '2h', '3d', '1w' or an ISO date -> a POSIX timestamp."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        factor = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
        return time.time() - float(match.group(1)) * factor
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a duration or a date", hint="e.g. --since 2h, 3d, 2026-11-01"
        ) from None


def select(
    registry: Registry,
    name: str | None = None,
    state: str | None = None,
    since: str | None = None,
    limit: int | None = 20,
) -> list[str]:
    """Run ids, newest first, filtered by name (glob), last recorded state and creation time."""
    after = parse_since(since) if since else None
    wanted_states = {s.strip().lower() for s in state.split(",")} if state else None
    out: list[str] = []
    for run in registry.runs():
        if limit is not None and len(out) >= limit:
            break
        if name and not fnmatch.fnmatch(run.id.rsplit("_", 1)[0], name):
            continue
        if wanted_states is None and after is None:
            out.append(run.id)
            continue
        try:
            manifest = run.manifest()
        except ClusterrunError:
            continue
        if wanted_states is not None and str(manifest.get("state", "")).lower() not in wanted_states:
            continue
        if after is not None:
            try:
                if datetime.fromisoformat(str(manifest.get("created"))).timestamp() < after:
                    continue
            except ValueError:
                continue
        out.append(run.id)
    return out


def expand_ids(registry: Registry, ids: list[str]) -> list[str]:
    """Sweep ids stand for their members."""
    out: list[str] = []
    for run_id in ids:
        if registry.is_sweep(run_id):
            record = read_json(registry.get(run_id, allow_sweep=True).file(SWEEP_FILE))
            out += [str(m["run_id"]) for m in record.get("members", [])]
        else:
            out.append(run_id)
    return out
