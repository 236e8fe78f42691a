"""Runs whose job no source knows any more: `lost`, after a grace period, with what is known.

With accounting off or down and the job purged from the controller's memory (MinJobAge), a job that
died without writing its exit record (killed with SIGKILL, its node gone) is known to nobody. A refresh
that finds no evidence of an active run's job from any source (the scheduler answered and does not know
it, no exit record, none of the run's own files changing) notes when that began (`unseen_since` in the
manifest); once it has lasted LOST_AFTER seconds (CLUSTERRUN_LOST_AFTER, default 600) the run is `lost`:
terminal, so every wait ends, with a diagnosis that says what is known. A job seen again (accounting
comes back, the job writes) clears the mark, and a `lost` run whose job turns up later takes its real
state (state_source `none` is the weakest evidence there is).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun import envknobs
from clusterrun.records.models import DiagnosisRecord, Manifest, Summary
from clusterrun.records.registry import Run, now_iso
from clusterrun.records.summary import read_tail
from clusterrun.scheduler import JobStatus

LOST_AFTER = envknobs.LOST_AFTER.default
LOST_AFTER_ENV = envknobs.LOST_AFTER.name
#: Files the job itself writes while it lives: any change is evidence that it still runs.
JOB_FILES = ("stdout.log", "stderr.log", "events.jsonl", "exit.json")


def lost_after() -> float:
    """The grace period in seconds (CLUSTERRUN_LOST_AFTER overrides the default)."""
    return envknobs.number(envknobs.LOST_AFTER)


def _newest_change(run: Run, manifest: Manifest) -> float | None:
    """When the job last wrote one of its files (the metrics file included), as epoch seconds."""
    newest: float | None = None
    for name in (*JOB_FILES, manifest.config.metrics.file or "metrics.jsonl"):
        try:
            mtime = os.lstat(run.path / Path(name).name).st_mtime
        except OSError:
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return newest


def unseen(run: Run, manifest: Manifest, asked: list[str]) -> tuple[JobStatus | None, dict[str, Any]]:
    """An active run whose job no source knows now: (a `lost` status once the grace period is over, else
    None; the manifest fields to record: when it was first unseen)."""
    if not manifest.unseen_since:
        return None, {"unseen_since": now_iso()}
    try:
        since = datetime.fromisoformat(manifest.unseen_since).timestamp()
    except ValueError:  # damaged by hand: counted again from now
        return None, {"unseen_since": now_iso()}
    waited = time.time() - since
    changed = _newest_change(run, manifest)
    if changed is not None and changed > since:
        return None, {"unseen_since": now_iso()}  # the job wrote since: alive, counted again from now
    if waited < lost_after():
        return None, {}
    status = JobStatus(
        str(manifest.job_id),
        "lost",
        raw_state=f"no evidence for {waited:.0f} s",
        node=manifest.node,
        source="none",
        extra={"asked": list(asked)},
    )
    return status, {}


def _job_started(run: Run) -> dict[str, Any]:
    """The job's own last word about starting (events.jsonl's last job_started), {} when it has none."""
    for line in reversed(read_tail(run.file("events.jsonl")).splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "job_started":
            return event
    return {}


def diagnosis(run: Run, manifest: Manifest, status: JobStatus) -> DiagnosisRecord:
    """What is known of a lost run: the last state the scheduler reported and when, where the job's
    wrapper started, the node, the sources asked."""
    last = next((c for c in reversed(manifest.state_history) if c.state != "lost"), None)
    seen = f"last seen {last.state} at {last.at}" if last is not None else "never seen by the scheduler"
    started = _job_started(run)
    node = manifest.node or str(started.get("host", ""))
    where = f" on {node}" if node else ""
    began = (
        f"; its wrapper started on {started.get('host', '?')} at {started.get('at', '?')}" if started else ""
    )
    asked = "; ".join(status.extra.get("asked") or []) or "the scheduler"
    return DiagnosisRecord(
        category="lost",
        evidence=f"job {manifest.job_id}{where}: {seen}{began}; since {manifest.unseen_since or '?'} no "
        f"source knows it (asked: {asked}; no exit record; the run's own files unchanged)",
        fix="the job most likely died without writing its exit record (killed, or its node failed) and "
        "the scheduler no longer keeps it (accounting off or down, purged after MinJobAge): look at the "
        "scheduler's logs of the node, then resubmit; turn accounting on (slurmdbd) to keep a record",
        details={
            "last_state": last.state if last is not None else "",
            "last_seen": last.at if last is not None else "",
            "node": node,
            "job_started": str(started.get("at", "")),
            "unseen_since": manifest.unseen_since or "",
            "asked": list(status.extra.get("asked") or []),
        },
    )


def with_diagnosis(run: Run, summary: Summary, manifest: Manifest, status: JobStatus | None) -> Summary:
    """A lost run's summary says what is known, instead of a diagnosis from logs that stopped."""
    if summary.state == "lost" and status is not None and status.source == "none":
        summary.diagnosis = diagnosis(run, manifest, status)
    return summary
