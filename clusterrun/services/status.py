"""Bring runs up to date: poll every active run in one query per backend, record state changes, collect
summaries when runs end; wait until they have; one run's record and results for `show`."""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from clusterrun import envknobs, portable
from clusterrun.analysis.metrics import collect
from clusterrun.errors import ClusterrunError, DiskFull, SchedulerUnavailable, UsageError
from clusterrun.records import attempts as requeues
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import noting_writes, read_json
from clusterrun.records.manifest_memo import ManifestMemo
from clusterrun.records.models import Manifest, Summary
from clusterrun.records.registry import Registry, Run
from clusterrun.scheduler import TERMINAL, JobRef, JobStatus, get_scheduler, reasons, scheduler_named
from clusterrun.scheduler.base import PollResult
from clusterrun.scheduler.cache import cached_poll
from clusterrun.scheduler.identity import matches
from clusterrun.services import Notify, adopt, counting, job_identity, lost, quiet
from clusterrun.services.fanout import fanout_map
from clusterrun.services.notes import RunNotes
from clusterrun.services.notes import read as read_notes

#: States of our own, before or instead of the scheduler's.
PRE_STATES = frozenset(
    {
        "created",
        "smoke_passed",
        "smoke_failed",
        "interrupted",  # stopped (Ctrl-C, SIGTERM) during the smoke test: ended, never submitted
        "dry_run",
        "submitting",
        "submit_failed",
        "not_submitted",
    }
)
POLL_MAX_AGE = envknobs.POLL_MAX_AGE.default  # seconds a poll answer is shared with other invocations
POLL_MAX_AGE_ENV = envknobs.POLL_MAX_AGE.name
EXIT_GRACE = 30.0
LOCAL_BACKEND = "local"
#: how often `wait` looks at jobs of the local backend (no scheduler is asked: /proc and the job's files)
LOCAL_INTERVAL = 0.1
EXIT_RECORD = "exit.json"  # a job's own record of its end (execution/jobrun.py)


#: States a run has only while `clusterrun submit` prepares it (before `submitting`).
UNFINISHED_PREPARATION = frozenset({"preparing", "created", "smoke_passed"})


def submitter_gone(manifest: Manifest) -> bool:
    """Whether the process that created this run (on this host) has ended: then a run still being
    prepared never will be. False when it cannot be told (another host, an old record)."""
    identity = manifest.submitter
    return identity is not None and portable.identity_gone(identity) is True


def _poll_max_age() -> float:
    return envknobs.number(envknobs.POLL_MAX_AGE)


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
    reason: str = ""  # why a pending job waits, in the scheduler's word (Priority, Resources...)
    attempt: int = 0  # the job's attempt running (or next, when requeued); 0 before it started
    max_attempts: int = 0  # requeue.max_attempts; 0 when the job runs once
    metrics_non_finite: dict[str, str] = field(default_factory=dict)  # metric -> nan/inf at its end
    caught_error: str = ""  # it exited 0 with an error its stderr shows it caught (summary.caught_error)

    @property
    def shown_metrics(self) -> dict[str, Any]:
        """Its metrics as a table shows them: the numbers, and `nan`/`inf` for those that ended so."""
        return self.metrics | self.metrics_non_finite

    @property
    def done(self) -> bool:
        """Nothing more will happen to it: ended, or never submitted (only 'submitting' may still change)."""
        return self.state in TERMINAL or (not self.job_id and self.state != "submitting")

    def as_record(self) -> dict[str, Any]:
        """Its fields as JSON data: shallow (no deep copy: metrics and summary are fresh data already)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class StatusReport:
    runs: list[RunStatus]
    warnings: list[str]
    queries: int  # scheduler queries made for this refresh
    #: runs this refresh left settled, with their files it wrote: name -> [inode, size, mtime_ns] as
    #: written (jsonio.noting_writes), for the row cache of the listing (services/listing.py)
    settled_writes: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: runs settled as this refresh left them (their summaries written): a caller refreshing again may
    #: pass them back as `done` instead of having them read again (a watch)
    settled: frozenset[str] = frozenset()
    #: the backends asked that did not answer (SchedulerUnavailable): a watch waits longer before asking again
    unanswered: frozenset[str] = frozenset()

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def as_record(self) -> dict[str, Any]:
        return {"runs": [r.as_record() for r in self.runs], "warnings": self.warnings}


def is_active(manifest: Manifest) -> bool:
    return bool(manifest.job_id) and manifest.state not in TERMINAL and manifest.state not in PRE_STATES


#: Accounting's end state of a job whose command's step has no usage recorded yet (scheduler/sacct.py:
#: a job stopped by a signal is recorded ended seconds before its steps' MaxRSS and CPU time are).
ENDING_SOURCE = "sacct-ending"
#: Evidence that a stronger source replaces: the job's own exit record, no evidence at all (lost), and
#: an end whose usage accounting has yet to record (its summary is collected again once it has).
WEAK_SOURCES = frozenset({"exit.json", "none", ENDING_SOURCE})
#: The ends where SLURM stops the command (a signal to its step), and records its usage after the end
STOPPED = frozenset({"cancelled", "timeout", "preempted", "node_fail"})
#: How long an ended run whose state rests on weak evidence is still asked about (seconds).
CONFIRM_WINDOW = 24 * 3600.0
#: ... when only its usage is missing (a cluster that gathers none never records it: not asked for long)
ENDING_WINDOW = 120.0


def awaits_evidence(manifest: Manifest) -> bool:
    """An ended run whose state was inferred from weak evidence (its exit record, or none: lost), still
    asked about so that the scheduler's own word replaces the inference when it comes."""
    if not manifest.job_id or manifest.state not in TERMINAL or manifest.state_source not in WEAK_SOURCES:
        return False
    since = job_identity.seconds_since(manifest.state_history[-1].at if manifest.state_history else "")
    window = ENDING_WINDOW if manifest.state_source == ENDING_SOURCE else CONFIRM_WINDOW
    return since is not None and since < window


def polled_run(manifest: Manifest) -> bool:
    """Whether a poll may change the run: its job is active, or it ended on weak evidence."""
    return is_active(manifest) or awaits_evidence(manifest)


def _ending(status: JobStatus) -> None:
    """An end accounting recorded before the usage of the job's command (sacct.py's usage_pending), in the
    last ENDING_WINDOW seconds: its source is ENDING_SOURCE, a weak one, so that the next refresh asks
    again and collects the summary with the usage then."""
    if not (status.state in STOPPED and status.source == "sacct" and status.extra.get("usage_pending")):
        return  # a command that ended by itself ended before its job: its step's record is final
    try:
        ended = datetime.fromisoformat(status.end).timestamp()  # SLURM's local time, as fromisoformat reads
    except ValueError:
        return
    if time.time() - ended < ENDING_WINDOW:
        status.source = ENDING_SOURCE


def _from_exit_record(run: Run, job_id: str) -> JobStatus | None:
    """When the scheduler does not know a job (accounting off or lagging), the job's own exit.json decides,
    once the scheduler had EXIT_GRACE seconds to catch up (its record has the node, MaxRSS, CPU time)."""
    try:
        record = read_json(run.file(EXIT_RECORD))
    except (OSError, ValueError, ClusterrunError):  # missing, unreadable, or a link out of the registry
        return None
    if time.time() - float(record.get("ended", 0)) < EXIT_GRACE:
        return None
    if record.get("requeued"):  # the wrapper requeued the job: it waits to run again
        return JobStatus(job_id, "pending", raw_state="REQUEUED (from exit.json)", source="exit.json")
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
    known: Mapping[str, Manifest] | None = None,
    done: Mapping[str, RunStatus] | None = None,
    keep_summaries: bool = True,
    memo: ManifestMemo | None = None,
    notify: Notify = quiet,
    watch: float = 0.0,
    glances: Mapping[str, Glance] | None = None,
) -> StatusReport:
    """Bring the given runs (default: all) up to date. Never raises for an unreachable scheduler.
    `known`: manifests the caller has just read (they are not read again); `glances`: runs the caller
    has just looked at, by what their poll needs (a Glance: each manifest is read again where its run
    is recorded, none is held meanwhile); `done`: settled runs the caller has already shown
    (settled_status). The ids of these three are not checked again (Registry.get), the caller's look
    at them did. A settled run is finished as it is read, and its manifest is not kept: 10,000 of
    them would take 400 MB. Without `keep_summaries`, RunStatus.summary stays None
    (a table of many runs shows what it needs of them; they are collected and written all the same).
    `memo`: manifests kept from an earlier refresh of the same caller, read again only if changed.
    `notify` sees a bar while many runs are recorded (a first look after a big sweep ended).
    `watch`: a watch's refresh, every `watch` seconds: the scheduler's answers are taken up to that old,
    and its jobs are wanted in the shared poll cache (scheduler/cache.py), so that one query per interval
    answers every watch of the registry."""
    with summaries.folders_checked():  # a sweep's one scheduler folder, checked once
        return _refresh(
            registry, run_ids, max_age, known, done, keep_summaries, memo, notify, watch, glances or {}
        )


def _refresh(
    registry: Registry,
    run_ids: list[str] | None,
    max_age: float | None,
    known: Mapping[str, Manifest] | None,
    done: Mapping[str, RunStatus] | None,
    keep_summaries: bool,
    memo: ManifestMemo | None,
    notify: Notify,
    watch: float,
    glances: Mapping[str, Glance],
) -> StatusReport:
    known, done = known or {}, done or {}
    wanted = (  # the runs the caller has looked at (done, known, glanced) are not checked again
        [registry.listed(i) if i in done or i in glances or i in known else registry.get(i) for i in run_ids]
        if run_ids
        else list(registry.runs())
    )
    max_age = _poll_max_age() if max_age is None else max_age
    warnings: list[str] = []
    manifests: dict[str, Manifest] = {}
    damaged: list[RunStatus] = []
    finished: dict[str, RunStatus] = {}
    runs: list[Run] = []  # the runs a scheduler, a journal or a process table may still change
    ending: list[Ending] = []  # runs the refresh looked at, with what is known of them now
    for run in wanted:
        if run.id in done:
            finished[run.id] = done[run.id]
            continue
        if run.id in glances:  # known by a glance only: its manifest is read where it is recorded
            runs.append(run)
            continue
        try:
            manifest = known.get(run.id) or (memo.load(run) if memo is not None else run.load_manifest())
        except ClusterrunError as exc:  # one damaged record must not hide the others; it is left as it is
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            damaged.append(RunStatus(run.id, "", "damaged", "", ""))
            continue
        if settled(manifest):  # finished as it is read: its manifest is not kept (see the docstring)
            shown = _shown(run, manifest, None, warnings, damaged, keep_summaries)
            if shown is not None:
                finished[run.id] = shown
            continue
        if manifest.state == "submitting" or polled_run(manifest):
            try:
                summaries.scheduler_folder(run, manifest)  # OutsideRegistry: such a folder is never used
            except ClusterrunError as exc:
                warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
                damaged.append(RunStatus(run.id, "", "damaged", "", ""))
                continue
        manifests[run.id] = manifest
        runs.append(run)
    for run in runs:  # a submit killed (SIGKILL) before submission: its run must not stay `created`
        if run.id in glances:  # a glance is of a run only a poll may change
            continue
        if manifests[run.id].state in UNFINISHED_PREPARATION and submitter_gone(manifests[run.id]):
            from clusterrun.execution.smoke import stop_orphaned  # here: it brings psutil, rarely needed

            stop_orphaned(run.path)  # its smoke test outlived it: stopped now, on this host
            with contextlib.suppress(ClusterrunError):
                manifests[run.id] = run.update(
                    state="interrupted",
                    note="the submitting process ended before the run was submitted",
                )
    queries = 0
    by_backend: dict[str, list[Run]] = {}
    orphans = [
        (run, manifests[run.id]) for run in runs if run.id in manifests and adopt.is_orphan(manifests[run.id])
    ]
    if orphans:  # interrupted submissions: their jobs found (journal, then tags in one query) and attached
        with contextlib.suppress(DiskFull):  # recovered on a later refresh, once there is room
            adopted, adopt_warnings = adopt.adopt(orphans)
            manifests.update(adopted)
            warnings += [w for w in adopt_warnings if w not in warnings]
    for run in runs:
        if run.id in glances:
            by_backend.setdefault(glances[run.id].backend, []).append(run)
        elif polled_run(manifests[run.id]):
            by_backend.setdefault(manifests[run.id].backend or "local", []).append(run)
    polled: dict[str, JobStatus] = {}
    refs: dict[str, JobRef] = {}  # run id -> its job as the scheduler knows it
    answered: dict[str, list[str]] = {}  # backend -> the sources it asked (absent: it did not answer)
    unanswered: set[str] = set()
    here: dict[str, str] = {}  # backend -> the cluster its commands talk to now ("" unknown)
    for backend, members in by_backend.items():
        for r in members:
            refs[r.id] = glances[r.id].ref if r.id in glances else _job_ref(r, manifests[r.id])
        asked = [refs[r.id] for r in members]
        try:
            scheduler = get_scheduler(backend)
            try:
                cache = _poll_cache(registry, backend)
                # the local backend's poll reads /proc and the job's folder: nothing worth sharing
                shared = 0.0 if backend == LOCAL_BACKEND else watch
                age = 0.0 if backend == LOCAL_BACKEND else max(max_age, watch)
                answer: dict[str, JobStatus] = cached_poll(scheduler, asked, cache, age, shared)
            except DiskFull as exc:  # the shared cache cannot be written: ask the scheduler directly
                warnings.append(f"{exc.message}: states are shown, not all recorded ({exc.hint})")
                answer = scheduler.poll(asked)
            polled.update(answer)
            notes = answer if isinstance(answer, PollResult) else PollResult()
            warnings += [w for w in notes.warnings if w not in warnings]  # once per refresh
            answered[backend] = notes.asked or [backend]
            here[backend] = _current_cluster(scheduler)
            queries += 1
        except SchedulerUnavailable as exc:
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            unanswered.add(backend)
    statuses = list(finished.values())
    answers = _Answers(polled, answered, here)
    for run in runs:
        if run.id in glances:  # judged where it is recorded, its manifest read there
            ending.append((run, None, None))
            continue
        manifest, status = _judge(run, manifests[run.id], refs.get(run.id), answers, warnings)
        ending.append((run, manifest, status))
    # the runs' ends recorded and their summaries collected, spread over the machine's cores
    with counting(notify, f"recording the state of {len(ending):,} runs", len(ending)) as step:
        shown_alone = partial(_shown_alone, keep=keep_summaries, glances=glances, answers=answers)
        recorded = fanout_map(shown_alone, ending, step)
    settled_writes: dict[str, dict[str, list[int]]] = {}
    for shown, found_warnings, found_damaged, written in recorded:
        warnings += [w for w in found_warnings if w not in warnings]
        damaged += found_damaged
        if shown is not None:
            statuses.append(shown)
            if written is not None:
                settled_writes[shown.run_id] = written
    order = {run.id: i for i, run in enumerate(wanted)}  # the order asked (default: newest first)
    statuses.sort(key=lambda s: order.get(s.run_id, len(order)))
    # settled: nothing a later refresh asks anyone can change them (a watch shows them as they are now)
    kept = {i for i, shown in finished.items() if shown.summary is not None or not keep_summaries}
    settled_now = frozenset(kept | set(settled_writes))
    listed = statuses + damaged
    return StatusReport(listed, warnings, queries, settled_writes, settled_now, frozenset(unanswered))


def _disk_full(warnings: list[str], exc: DiskFull) -> None:
    if not any(w.startswith("disk full") for w in warnings):
        warnings.append(f"{exc.message}: states are shown, not all recorded ({exc.hint})")


@dataclass(frozen=True)
class Glance:
    """What refresh needs of a run that only a poll may change (active, or ended on weak evidence): its
    backend and its job as the poll asks for it. A caller that read many manifests over the machine's
    cores (a listing) hands refresh these instead of the manifests, and the run's manifest is read
    again where it is recorded: a refresh holding 10,000 manifests at once took 300 MB. (The second
    read costs the workers about what pickling the manifests back cost them and the parent, whose
    share of that was serial.)"""

    backend: str
    ref: JobRef


def glance(run: Run, manifest: Manifest) -> Glance | None:
    """The Glance of a run only a poll may change; None for any other run (refresh reads it whole)."""
    if manifest.state == "submitting" or manifest.state in UNFINISHED_PREPARATION:
        return None  # an interrupted submit or preparation is recovered from its whole record
    if not polled_run(manifest):
        return None
    try:
        return Glance(manifest.backend or LOCAL_BACKEND, _job_ref(run, manifest))
    except ClusterrunError:  # a scheduler folder outside the registry: refresh reports it
        return None


def _job_ref(run: Run, manifest: Manifest) -> JobRef:
    return job_identity.job_ref(manifest, summaries.scheduler_folder(run, manifest), run.path)


@dataclass(frozen=True)
class _Answers:
    """What the schedulers said in one refresh: job id -> its status; backend -> the sources it asked
    (absent: it did not answer); backend -> the cluster its commands talk to ("" unknown)."""

    polled: dict[str, JobStatus]
    answered: dict[str, list[str]]
    here: dict[str, str]


def _judge(
    run: Run, manifest: Manifest, ref: JobRef | None, answers: _Answers, warnings: list[str]
) -> tuple[Manifest, JobStatus | None]:
    """What is known of the run's job now (see _evidence), and its manifest with what was learnt of
    having seen it recorded."""
    away = _elsewhere(ref, answers.here.get(manifest.backend or LOCAL_BACKEND, ""))
    status, seen = _evidence(run, manifest, answers.polled, ref, {} if away else answers.answered)
    if status is not None:
        status = requeues.adjust(manifest, status)  # PREEMPTED while SLURM requeues it: requeued
    if seen:
        try:
            manifest = run.update(read=manifest, **seen)
        except DiskFull as exc:
            _disk_full(warnings, exc)
    return manifest, status


#: a run refresh looked at: its manifest and what is known of its job now; (run, None, None) for a run
#: known by a glance, read and judged where it is recorded
Ending = tuple[Run, Manifest | None, JobStatus | None]


Shown = tuple[RunStatus | None, list[str], list[RunStatus], dict[str, list[int]] | None]


def _shown_alone(ending: Ending, *, keep: bool, glances: Mapping[str, Glance], answers: _Answers) -> Shown:
    """_shown of one run with its own warnings and damaged list (a forked worker hands them back) and,
    when the run is settled now, the run's files written meanwhile, as written (StatusReport). A run
    known by a glance (in `glances`) has its manifest read here and is judged on `answers`."""
    warnings: list[str] = []
    damaged: list[RunStatus] = []
    run, manifest, status = ending
    if manifest is None:
        try:
            manifest, status = _judge_glanced(run, glances[run.id], answers, warnings)
        except ClusterrunError as exc:  # damaged since the glance: reported, left as it is
            warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            return None, warnings, [RunStatus(run.id, "", "damaged", "", "")], None
    final: list[Manifest] = []
    with noting_writes() as noted:
        shown = _shown(run, manifest, status, warnings, damaged, keep, final)
    if shown is None or not final or not settled(final[0]) or shown.state not in TERMINAL:
        return shown, warnings, damaged, None
    mine = os.fspath(run.path)
    written = {os.path.basename(p): v for p, v in noted.items() if os.path.dirname(p) == mine}
    return shown, warnings, damaged, written


def _judge_glanced(
    run: Run, seen: Glance, answers: _Answers, warnings: list[str]
) -> tuple[Manifest, JobStatus | None]:
    """_judge of a run refresh knew by a glance, its manifest read now. A run whose job is not the one
    the poll asked about any more (its record changed since the glance) takes what the poll said of its
    job and no inference from the poll's silence (no exit record read for it, no `lost`)."""
    manifest = run.load_manifest()
    ref = _job_ref(run, manifest) if polled_run(manifest) else None
    if ref is not None and ref != seen.ref:
        answers = replace(answers, answered={})
    return _judge(run, manifest, ref, answers, warnings)


def _shown(
    run: Run,
    manifest: Manifest,
    status: JobStatus | None,
    warnings: list[str],
    damaged: list[RunStatus],
    keep_summary: bool = True,
    final: list[Manifest] | None = None,
) -> RunStatus | None:
    """The run as status shows it (recorded, with its summary collected once it ended); with a full disk,
    as the scheduler says (recorded on a later refresh); a summary from a newer clusterrun: None, and the
    run is added to `damaged`."""
    job_id = manifest.job_id or ""
    try:
        return _apply(run, manifest, status, keep_summary, final)
    except DiskFull as exc:  # shown as the scheduler says, recorded on a later refresh
        _disk_full(warnings, exc)
        state = status.state if status is not None else manifest.state
        return RunStatus(run.id, manifest.name, state, job_id, manifest.backend)
    except ClusterrunError as exc:  # a summary from a newer clusterrun: reported, left as it is
        warnings.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
        damaged.append(RunStatus(run.id, manifest.name, "damaged", job_id, manifest.backend))
        return None


def elapsed_so_far(manifest: Manifest, state: str, scheduler: float | None) -> float | None:
    """ELAPSED of a run that has not ended: the scheduler's elapsed is its current attempt's only (0 while
    a requeued job waits), so the time of the attempts that ended is added (a requeued run that ran 43 s
    showed 0.0s), as the summary's duration is the time in all attempts."""
    before = sum(a.seconds or 0 for a in manifest.attempts if a.ended)
    if not before and state == "pending":
        return None  # it has not run: no time (accounting says 0:00), shown as '-' as before a start
    if not before or state not in ("requeued", "running", "pending"):
        return scheduler
    current = (scheduler or 0) if state == "running" else 0  # a requeued job's wait is not its time
    return before + current


def settled(manifest: Manifest) -> bool:
    """Nothing a refresh asks anyone can change the run: it ended on good evidence (or was never
    submitted) and no interrupted submit or smoke test is left to recover."""
    state = manifest.state
    return not (
        state == "submitting"
        or state in UNFINISHED_PREPARATION
        or is_active(manifest)
        or awaits_evidence(manifest)
        or adopt.is_orphan(manifest)
    )


def settled_status(run: Run, manifest: Manifest, keep_summary: bool = True) -> RunStatus:
    """A settled run as status shows it (its summary collected if it has none yet)."""
    return _apply(run, manifest, None, keep_summary)


def _current_cluster(scheduler: object) -> str:
    """The cluster the backend's commands talk to now ('' when it has no such notion): a run submitted to
    another one is not known there, and its job is not taken for lost because of it."""
    current = getattr(scheduler, "current_cluster", None)
    return str(current()) if callable(current) else ""


def _elsewhere(ref: JobRef | None, current: str) -> bool:
    """The job went to another cluster than the one asked: what this one does not know says nothing."""
    return ref is not None and bool(ref.cluster) and bool(current) and ref.cluster != current


def _evidence(
    run: Run,
    manifest: Manifest,
    polled: dict[str, JobStatus],
    ref: JobRef | None,
    answered: dict[str, list[str]],
) -> tuple[JobStatus | None, dict[str, Any]]:
    """What is known of a run's job now, and what to note in its manifest about having seen it.

    The scheduler's record, if it is the run's own job (never another's that had the id); else, if the
    scheduler answered, the job's own exit record; else (nothing anywhere) `lost` after the grace period.
    An ended run with weak evidence takes only a stronger, terminal word (sacct/squeue's end state)."""
    active = is_active(manifest)
    if ref is None or not (active or awaits_evidence(manifest)):
        return None, {}
    status = polled.get(ref.job_id)
    if status is not None and not matches(ref, status):
        status = None  # another job that had the same id
    if status is not None:
        _ending(status)
    if not active:
        stronger = status is not None and status.terminal and status.source not in WEAK_SOURCES
        return (status if stronger else None), {}
    backend = manifest.backend or LOCAL_BACKEND
    if status is None and backend in answered:
        status = _from_exit_record(run, ref.job_id)
    if status is not None:
        seen = {"unseen_since": None} if manifest.unseen_since else {}
        return status, seen | job_identity.pinned(manifest, status)
    if backend not in answered:  # the scheduler did not answer: no evidence either way
        return None, {}
    return lost.unseen(run, manifest, answered[backend])


ORPHAN_AFTER = 120.0  # seconds in 'submitting' before a run counts as interrupted


def recover_orphan(run: Run, manifest: Manifest) -> Manifest:
    """A submission interrupted between the scheduler's answer and the manifest write leaves the run in
    'submitting'. (One run at a time, from submitit's file names only; `refresh` uses services/adopt.py,
    which also reads the submission journal, a sweep's folder, and the scheduler by tag.)

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


def _apply(
    run: Run,
    manifest: Manifest,
    status: JobStatus | None,
    keep_summary: bool = True,
    final: list[Manifest] | None = None,
) -> RunStatus:
    """The run as status shows it, its end recorded and its summary collected; `final` gets the
    manifest as it is now."""
    requested = manifest.cancel_requested
    if status is not None and requested is not None and status.state in ("failed", "lost"):
        status.state, status.cancelled_by = "cancelled", requested.by
    source = status.source if status is not None else ""
    # the same end on stronger evidence (accounting's usage recorded, or accounting's word on an exit record)
    stronger = status is not None and manifest.state_source in WEAK_SOURCES and source not in WEAK_SOURCES
    current: Summary | None = None
    if status is not None and (status.state != manifest.state or source != manifest.state_source):
        parts = [status.raw_state if status.raw_state.lower() != status.state else ""]
        if manifest.state in TERMINAL and status.state != manifest.state:  # better evidence came
            parts.append(f"replaces {manifest.state} from {manifest.state_source or 'an older record'}")
        note = "; ".join(p for p in [*parts, f"evidence: {source}" if source else ""] if p)
        fields = {"node": status.node or manifest.node, "state_source": source}
        if status.state in TERMINAL:  # the end and its summary under one lock, their events in one write
            manifest, current = _record_end(run, manifest, status, stronger, note, fields)
        else:
            manifest = run.update(state=status.state, note=note, read=manifest, **fields)
    state = manifest.state
    if current is None:
        current = summaries.load(run)
        if _to_collect(current, state, stronger):
            manifest, current = _record_end(run, manifest, status, stronger)
    sources = manifest.config.metrics
    metrics = current.metrics if current else collect(run.path, sources.file, sources.patterns)
    elapsed = current.duration_seconds if current else None
    if elapsed is None:
        elapsed = elapsed_so_far(manifest, state, status.elapsed_seconds if status is not None else None)
    attempt, max_attempts = requeues.progress(manifest, state)
    if final is not None:
        final.append(manifest)
    return RunStatus(
        run_id=run.id,
        name=manifest.name,
        state=state,
        job_id=manifest.job_id or "",
        backend=manifest.backend,
        node=manifest.node or (current.node if current else ""),
        elapsed_seconds=elapsed,
        metrics=metrics,
        summary=current.to_data() if current and keep_summary else None,
        reason=status.reason if status is not None and state in reasons.WAITING_STATES else "",
        attempt=attempt,
        max_attempts=max_attempts,
        metrics_non_finite=dict(current.metrics_non_finite) if current else {},
        caught_error=current.caught_error if current else "",
    )


def _to_collect(current: Summary | None, state: str, stronger: bool) -> bool:
    """Whether a run in `state` needs its summary collected (again), given the one it has."""
    return state in TERMINAL and (current is None or current.state != state or stronger)


def _record_end(
    run: Run,
    manifest: Manifest,
    status: JobStatus | None,
    stronger: bool,
    note: str = "",
    fields: dict[str, Any] | None = None,
) -> tuple[Manifest, Summary | None]:
    """A run's end, under its lock: with `fields`, its manifest takes the status's state (and `fields`)
    first; then its summary is collected unless it has one for that state already (of the refreshes that
    see the end together, watchers of a sweep that just ended, one collects it and the others read it).
    One lock and one append of the events, which follow their records (also when a later write fails).
    Returns the manifest and summary as they are now."""
    events: list[tuple[str, dict[str, Any]]] = []
    try:
        with run.locked():
            if fields is not None and status is not None:
                manifest = run.update_locked(status.state, note, events, read=manifest, **fields)
            state = manifest.state
            current = summaries.load(run)
            if _to_collect(current, state, stronger):
                record: dict[str, Any] = status.as_record() if status else {"state": state}
                record["run_id"] = run.id
                record["attempt_history"] = _attempt_history(manifest, state)
                collected = summaries.collect(run, manifest, record)
                current = lost.with_diagnosis(run, collected, manifest, status)
                summaries.write(run, current)
                events.append(("summary_collected", {"state": state}))
    except BaseException:
        with contextlib.suppress(Exception):  # the records written so far keep their events
            run.events(events)
        raise
    run.events(events)
    return manifest, current


def _attempt_history(manifest: Manifest, state: str) -> list[dict[str, Any]]:
    """Every accounting record of a job that ran more than once (or may have been requeued), for its
    summary: why each attempt ended in the scheduler's word. [] when the backend keeps none."""
    if not manifest.job_id or (len(manifest.attempts) <= 1 and state not in ("preempted", "node_fail")):
        return []
    try:
        scheduler = scheduler_named(manifest.backend or "local")
    except UsageError:
        return []
    history = getattr(scheduler, "attempt_history", None)
    if not callable(history):
        return []
    try:
        found = history([manifest.job_id])
    except SchedulerUnavailable:
        return []
    return [record.as_record() for record in found.get(manifest.job_id, [])]


WAIT_TIMEOUT_ENV = envknobs.WAIT_TIMEOUT.name
_wait_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("wait_limit", default=None)


class WaitTimeout(ClusterrunError):
    """A wait (`status --watch`, `submit --wait`, `logs -f`) reached its overall --timeout."""

    def __init__(self, seconds: float, report: StatusReport) -> None:
        going = [f"{r.run_id} ({r.state})" for r in report.runs if not r.done]
        super().__init__(
            f"still not ended after the --timeout of {seconds:g} s: {', '.join(going[:5])}"
            + (f" and {len(going) - 5} more" if len(going) > 5 else ""),
            hint="the runs go on; look again with 'clusterrun status', or wait longer (--timeout)",
        )
        self.report = report


@contextlib.contextmanager
def waiting_at_most(seconds: float | None) -> Iterator[None]:
    """Every wait inside the block (however deep in a command) gives up after `seconds` overall, with
    WaitTimeout; None: no limit but CLUSTERRUN_WAIT_TIMEOUT's. What a command's --timeout sets."""
    token = _wait_limit.set(seconds)
    try:
        yield
    finally:
        _wait_limit.reset(token)


def wait_limit() -> float | None:
    """The overall limit of a wait: the enclosing --timeout, else CLUSTERRUN_WAIT_TIMEOUT, else none."""
    limit = _wait_limit.get()
    if limit is not None:
        return limit
    limit = envknobs.number(envknobs.WAIT_TIMEOUT)
    return None if math.isinf(limit) else limit


def wait(
    registry: Registry,
    run_ids: list[str],
    on_refresh: Callable[[StatusReport], None] = lambda _r: None,
    first_interval: float = 1.0,
    max_interval: float = 30.0,
    timeout: float | None = None,
    known: Mapping[str, Manifest] | None = None,
    done: Mapping[str, RunStatus] | None = None,
) -> StatusReport:
    """Refresh until every run has ended. Runs on a scheduler: the scheduler is asked once every
    CLUSTERRUN_WATCH_POLL seconds, shared with the registry's other watches (refresh's `watch`), and
    the watch looks again at once when another's answer comes (an end shows within about that long,
    whoever asks); while the scheduler does not answer, the pause doubles (to DOWN_PAUSE). Local runs:
    the interval doubles while nothing changes (to max_interval, at most LOCAL_INTERVAL), and a job's
    exit record is noticed as it appears.
    `known`, `done`: what the caller has just read of the runs, for the first refresh (see refresh).

    `timeout`: return the last report after that many seconds (a short watch). The overall limit
    (`waiting_at_most`, CLUSTERRUN_WAIT_TIMEOUT) raises WaitTimeout instead: no wait is endless, even for
    a job no source knows any more (it becomes `lost` after CLUSTERRUN_LOST_AFTER, services/lost.py)."""
    interval = first_interval
    every = envknobs.number(envknobs.WATCH_POLL)
    down = 0.0  # while the scheduler does not answer: the pause, doubling from `every` to DOWN_PAUSE
    started = time.monotonic()
    limit = wait_limit()
    previous: list[str] = []
    ending = 0  # quick looks left after an exit record appeared (its wrapper is ending)
    memo = ManifestMemo()  # the manifests of runs still going, read again only when they change
    settled = dict(done or {})  # settled runs, shown as they are without reading them again
    first = dict(known or {})
    while True:
        report = refresh(registry, run_ids, known=first, done=settled, memo=memo, watch=every)
        first = {}
        settled = {r.run_id: r for r in report.runs if r.run_id in report.settled}
        memo.forget(registry.root / run_id for run_id in report.settled)  # kept: the runs still going
        on_refresh(report)
        if all(r.done for r in report.runs):
            return report
        if timeout is not None and time.monotonic() - started > timeout:
            return report
        if limit is not None and time.monotonic() - started >= limit:
            raise WaitTimeout(limit, report)
        states = [r.state for r in report.runs]
        interval = first_interval if states != previous else min(max_interval, interval * 2)
        previous = states
        local = all(r.backend == LOCAL_BACKEND for r in report.runs if not r.done)
        down = min(DOWN_PAUSE, max(every, down * 2)) if report.unanswered else 0.0
        pause = min(interval, LOCAL_INTERVAL) if local else (down or every)  # a local end shows at once
        if limit is not None:  # the last look comes at the limit, not an interval after it
            pause = max(0.0, min(pause, limit - (time.monotonic() - started)))
        if local and ending:  # the exit record is written a few ms before the wrapper's process ends
            ending -= 1
            time.sleep(min(pause, EXIT_WATCH_STEP * 2))
        elif local:
            ending = ENDING_LOOKS if _sleep_watching(_exit_records(registry, report), pause) else 0
        else:  # until the next question, or another watch's answer
            _sleep_watching(_poll_caches(registry, report), pause, POLL_WATCH_STEP)


#: how often `wait` looks at the exit records of local jobs between two refreshes (a stat each)
EXIT_WATCH_STEP = 0.01
#: refreshes 2 steps apart after an exit record appeared, while its job's wrapper finishes (~10 ms)
ENDING_LOOKS = 25
#: how often `wait` looks whether another watch's poll has answered (a stat of the poll cache each)
POLL_WATCH_STEP = 0.2
#: the longest pause of a watch between questions to a scheduler that does not answer (each asks up
#: to a minute, sacct's then squeue's time limits): the pause doubles from CLUSTERRUN_WATCH_POLL
DOWN_PAUSE = 60.0


def _poll_caches(registry: Registry, report: StatusReport) -> list[Path]:
    """The shared poll caches (scheduler/cache.py) that answer for the runs still going: each poll,
    whoever made it, replaces its file."""
    backends = {r.backend or LOCAL_BACKEND for r in report.runs if not r.done} - {LOCAL_BACKEND}
    return [_poll_cache(registry, backend) for backend in sorted(backends)]


def _poll_cache(registry: Registry, backend: str) -> Path:
    return registry.cache_dir / f"poll-{backend}.json"


def _exit_records(registry: Registry, report: StatusReport) -> list[Path]:
    """The exit records (exit.json) the jobs of the runs still going write when they end."""
    return [registry.root / r.run_id / EXIT_RECORD for r in report.runs if not r.done]


def _sleep_watching(paths: list[Path], pause: float, step: float = EXIT_WATCH_STEP) -> bool:
    """Sleep `pause` seconds, or less: until one of `paths` appears or changes (True then). A local
    job's end is its wrapper's exit record, written a few milliseconds before its process ends: a
    refresh at once sees it ended (LocalScheduler.poll) or its wrapper about to, and `wait` then looks
    again every 2 steps for a while (ENDING_LOOKS) instead of a whole LOCAL_INTERVAL later."""
    before = [_signature(p) for p in paths]
    deadline = time.monotonic() + pause
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(step, left))
        if [_signature(p) for p in paths] != before:
            return True
    return False


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


@dataclass
class RunDetails:
    """One run as `show` presents it: its manifest and, once it has ended, its summary."""

    run_id: str
    run_dir: str
    manifest: Manifest
    status: RunStatus
    warnings: list[str]
    notes: RunNotes | None = None  # its tags and notes (notes.jsonl)

    @property
    def run_ids(self) -> list[str]:
        return [self.run_id]

    def as_record(self) -> dict[str, Any]:
        noted = self.notes.as_record() if self.notes is not None else {"tags": [], "notes": []}
        return {
            "manifest": self.manifest.to_data(),
            "summary": self.status.summary,
            "tags": noted["tags"],
            "notes": noted["notes"],
        }


def describe(registry: Registry, run_id: str) -> RunDetails:
    """The run brought up to date, with its manifest as it now stands, and its notes."""
    report = refresh(registry, [run_id])
    run = registry.get(run_id)
    manifest = run.load_manifest()
    return RunDetails(run.id, str(run.path), manifest, report.runs[0], report.warnings, read_notes(run))
