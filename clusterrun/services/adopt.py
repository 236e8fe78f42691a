"""Runs whose submission was interrupted get the job the scheduler accepted for them (`status` adopts it).

A run left in 'submitting' without a job id (Ctrl-C, kill -9, an sbatch that did not answer in time)
is looked up in its scheduler folder's journal (scheduler/submissions.py; a sweep member's folder is its
sweep's): a call the scheduler answered gives the job id at once; a call without an answer is looked up
in the scheduler by its tag (the job's name: the run or sweep id), all tags in one query. The job found
is attached to its run with the scheduler's state to come, never `submit_failed`. The local backend keeps
no journal: a local run is adopted from its job's own record (job_env.json, written when the job
started), e.g. after the disk filled up between the launch and the job id's record. A run with nothing
in any journal and nothing under its tag ORPHAN_AFTER seconds after its submission began was never
submitted: then, and only when the scheduler answered, it is `submit_failed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun.errors import ClusterrunError, SchedulerUnavailable, UsageError
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import read_json_or_empty
from clusterrun.records.models import Manifest
from clusterrun.records.paths import inside_registry
from clusterrun.records.registry import Run
from clusterrun.scheduler import scheduler_named, submissions

#: what a job's wrapper writes where it runs, with its job id (execution/envinfo.py job_side)
JOB_RECORD = "job_env.json"
ORPHAN_AFTER = 120.0  # seconds in 'submitting' before a run with no trace anywhere counts as never submitted


@dataclass
class _Orphan:
    run: Run
    manifest: Manifest
    folder: Path
    entry: submissions.Entry | None = None
    index: int | None = None


def is_orphan(manifest: Manifest) -> bool:
    return manifest.state == "submitting" and not manifest.job_id


def scheduler_folder(run: Run, manifest: Manifest) -> Path:
    """Where the run's submission was journaled: its sweep's folder for a member, else its own."""
    if manifest.sweep and not manifest.scheduler_folder:
        folder = run.path.parent / manifest.sweep / "scheduler"
        inside_registry(str(folder), run.path.parent, f"run {run.id}: sweep")
        return folder
    return summaries.scheduler_folder(run, manifest)


def adopt(orphans: list[tuple[Run, Manifest]]) -> tuple[dict[str, Manifest], list[str]]:
    """The orphans' manifests after adoption (run id -> manifest, for those that changed), and warnings."""
    warnings: list[str] = []
    changed: dict[str, Manifest] = {}
    journals: dict[Path, list[submissions.Entry]] = {}
    waiting: list[_Orphan] = []
    for run, manifest in orphans:
        try:
            orphan = _Orphan(run, manifest, scheduler_folder(run, manifest))
        except ClusterrunError as exc:
            warnings.append(exc.message)
            continue
        entries = journals.setdefault(orphan.folder, submissions.read(orphan.folder))
        for entry in reversed(entries):  # the latest call that carried it
            index = entry.index_of(run.id)
            if index is not None:
                orphan.entry, orphan.index = entry, index
                break
        if orphan.entry is not None and orphan.entry.job_id:
            changed[run.id] = _attach(orphan, orphan.entry, "its submission's recorded answer")
        else:
            waiting.append(orphan)
    if waiting:
        changed |= _by_tag(waiting, journals, warnings)
    return changed, warnings


def _own_record(run: Run) -> str:
    """The job id the job itself wrote into the run's directory when it started (the job wrapper's
    job_env.json): a job ran for this run, whatever the submission recorded. The local backend keeps no
    journal, so this is its only evidence (SLURM's journal and job names are asked instead: inside an
    array its job writes SLURM_JOB_ID, not the <array>_<task> id the records use); '' when none."""
    job_id = read_json_or_empty(run.file(JOB_RECORD)).get("job_id")
    return job_id if isinstance(job_id, str) and job_id.strip() else ""


def _by_tag(
    waiting: list[_Orphan], journals: dict[Path, list[submissions.Entry]], warnings: list[str]
) -> dict[str, Manifest]:
    """Unanswered calls looked up by tag, one query per backend; the rest: legacy recovery, or failed."""
    changed: dict[str, Manifest] = {}
    by_backend: dict[str, list[_Orphan]] = {}
    for orphan in waiting:
        by_backend.setdefault(orphan.manifest.backend or "local", []).append(orphan)
    for backend, members in by_backend.items():
        try:
            scheduler = scheduler_named(backend)
        except UsageError:
            continue  # a backend this installation does not know: left as it is
        lookup: Callable[[list[str]], dict[str, list[str]]] | None = getattr(scheduler, "arrays_by_tag", None)
        tags = sorted({o.entry.tag for o in members if o.entry is not None})
        found: dict[str, list[str]] | None = {}
        if tags and lookup is not None:
            try:
                found = lookup(tags)
            except SchedulerUnavailable as exc:
                warnings.append(f"{exc.message} ({exc.hint})")
                found = None  # no answer: nothing is decided
        claimed = _claim(journals, found or {})
        for orphan in members:
            entry = orphan.entry
            if entry is not None and found is not None and entry.key in claimed:
                answered = submissions.answered(orphan.folder, entry, claimed[entry.key])
                how = f"a job named {entry.tag} in the scheduler"
                changed[orphan.run.id] = _attach(orphan, answered, how)
                continue
            legacy = _legacy(orphan, scheduler)
            own = _own_record(orphan.run) if backend == "local" and legacy is None else ""
            if legacy is not None:
                changed[orphan.run.id] = legacy
            elif own:
                changed[orphan.run.id] = orphan.run.update(
                    state="submitted",
                    note="adopted after an interrupted submission: found by the job's own record "
                    f"({JOB_RECORD})",
                    job_id=own,
                    scheduler_folder=str(orphan.folder),
                )
            elif found is not None and (entry is None or lookup is not None) and _stale(orphan):
                note = (
                    f"sbatch never answered and the scheduler has no job named {entry.tag}"
                    if entry is not None
                    else "interrupted before the scheduler accepted it"
                )
                changed[orphan.run.id] = orphan.run.update(state="submit_failed", note=note)
    return changed


def _claim(journals: dict[Path, list[submissions.Entry]], found: dict[str, list[str]]) -> dict[str, str]:
    """Unanswered journal entry -> the submission found under its tag that no answered entry holds,
    matched in order (the k-th unanswered call of a tag, the k-th unclaimed submission)."""
    claimed: dict[str, str] = {}
    for entries in journals.values():
        for tag in {e.tag for e in entries if not e.job_id}:
            held = {e.job_id for e in entries if e.job_id}
            free = [job for job in found.get(tag, []) if job not in held]
            for entry, job in zip([e for e in entries if e.tag == tag and not e.job_id], free, strict=False):
                claimed[entry.key] = job
    return claimed


def _attach(orphan: _Orphan, entry: submissions.Entry, how: str) -> Manifest:
    assert orphan.index is not None
    submissions.place_pickles(orphan.folder, entry)  # its task waits for them (60 s, submitit's)
    fields: dict[str, Any] = {"job_id": entry.job_of(orphan.index), "scheduler_folder": str(orphan.folder)}
    return orphan.run.update(
        state="submitted", note=f"adopted after an interrupted submission: found by {how}", **fields
    )


def _legacy(orphan: _Orphan, scheduler: Any) -> Manifest | None:
    """A run's own folder with exactly one submitit pickle named after a job (records made before the
    journal): that job."""
    if orphan.folder != orphan.run.file("scheduler") or orphan.manifest.sweep:
        return None
    found: list[str] = scheduler.recover(orphan.folder)
    if len(found) != 1:
        return None
    return orphan.run.update(
        state="submitted",
        note="job id recovered after an interrupted submission",
        job_id=found[0],
        scheduler_folder=str(orphan.folder),
    )


def _stale(orphan: _Orphan) -> bool:
    """In 'submitting' for longer than ORPHAN_AFTER (from its journal entry, else its state history)."""
    if orphan.entry is not None:
        return time.time() - orphan.entry.started > ORPHAN_AFTER
    history = orphan.manifest.state_history
    try:
        since = datetime.fromisoformat(history[-1].at if history else "").timestamp()
    except ValueError:
        return False
    return time.time() - since > ORPHAN_AFTER
