"""`clusterrun submit` as a function: prepare (plan.py, prepare.py), let the caller review it, pass the
cost gate, launch (launch.py), and wait for the runs when asked; the outcome is a SubmitResult.

A plain run is a submission of one member; a sweep is a submission of many, sent as ONE job array
(more only past the cluster's MaxArraySize, or when members ask for different resources). The decision
that needs a person (the cost gate) is the `confirm` callback; nothing here prints or prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from clusterrun.analysis.estimate import GateDecision
from clusterrun.errors import ClusterrunError, DiskFull
from clusterrun.records import index as registry_index
from clusterrun.records.models import Confirmation, Manifest, SweepRecord, as_summary
from clusterrun.records.registry import Registry, now_iso
from clusterrun.services import Notify, quiet
from clusterrun.services.launch import decline, launch, mark_dry_run
from clusterrun.services.notes import tag_runs
from clusterrun.services.plan import SubmitRequest
from clusterrun.services.prepare import Prepared, prepare

if TYPE_CHECKING:  # waiting imports the status service (summaries, diagnoses) when a submit waits
    from clusterrun.services.status import StatusReport
    from clusterrun.services.sweeps import SweepView

__all__ = ["Answer", "Confirm", "Outcome", "SubmitRequest", "SubmitResult", "approve", "finish", "submit"]


@dataclass(frozen=True)
class Answer:
    """A person's answer at the cost gate, and how it was given (recorded in the manifests)."""

    approved: bool
    decision: str  # e.g. "confirmed with --yes", "declined at the prompt"


#: Asked only when the submission crosses a confirm_above threshold (GateDecision.reasons say which).
Confirm = Callable[[GateDecision], Answer]
#: Shown the prepared submission (records written, smoke-tested, estimated) before anything else happens.
Review = Callable[[Prepared], None]
Outcome = Literal["smoke_failed", "dry_run", "declined", "submitted"]


def refuse_expensive(_decision: GateDecision) -> Answer:
    """The default Confirm: nobody was asked, so an expensive submission is refused."""
    return Answer(False, "refused: confirmation needed and nobody was asked")


def approve(decision: str) -> Confirm:
    """A Confirm that approves every expensive submission, recording `decision` as how."""
    return lambda _gate: Answer(True, decision)


@dataclass
class SubmitResult:
    """How a submission ended, with its records as they stood at the end."""

    outcome: Outcome
    prepared: Prepared
    manifest: Manifest  # the (first) member's
    sweep: SweepRecord | None = None  # a sweep's own record
    confirmation: Confirmation | None = None  # the cost gate's decision (dry runs and smoke failures: none)
    report: StatusReport | None = None  # the members' states, after waiting for them to end
    sweep_view: SweepView | None = None  # after waiting for a sweep: its members ranked

    @property
    def run_ids(self) -> list[str]:
        return [m.run.id for m in self.prepared.members]

    @property
    def sweep_id(self) -> str | None:
        return self.prepared.sweep_run.id if self.prepared.sweep_run is not None else None

    @property
    def target(self) -> str:
        """What to follow the submission with: the sweep, else the run."""
        return self.sweep_id or self.run_ids[0]

    @property
    def warnings(self) -> list[str]:
        return self.prepared.warnings

    @property
    def failed(self) -> bool:
        """The smoke test failed, or a run waited for ended without success."""
        if self.outcome == "smoke_failed":
            return True
        if self.report is None:
            return False
        if self.sweep is not None:
            return any(not (r.summary and as_summary(r.summary).success) for r in self.report.runs)
        summary = self.report.runs[0].summary
        if not summary:
            return False  # no summary (yet): not a failure the run reported
        return not as_summary(summary).success

    def record(self) -> dict[str, Any]:
        """The sweep's record, or the run's manifest, as JSON data."""
        return self.sweep.to_data() if self.sweep is not None else self.manifest.to_data()

    def as_record(self) -> dict[str, Any]:
        """The submission as JSON data (what `--json` prints)."""
        if self.outcome == "smoke_failed":
            diagnosis = self.prepared.smoke_diagnosis
            return self.manifest.to_data() | {"diagnosis": diagnosis.as_record() if diagnosis else None}
        if self.outcome == "dry_run":
            return self.record() | {"script": self.prepared.script}
        if self.report is None:
            return self.record()
        if self.sweep is not None:
            return self.record() | {"members": [r.as_record() for r in self.report.runs]}
        return self.manifest.to_data() | {"summary": self.report.runs[0].summary}


def submit(
    request: SubmitRequest,
    registry: Registry,
    *,
    confirm: Confirm = refuse_expensive,
    notify: Notify = quiet,
    review: Review | None = None,
    wait: bool = False,
    on_refresh: Callable[[StatusReport], None] | None = None,
) -> SubmitResult:
    """Smoke-test, record and submit an experiment (or a sweep); with `wait`, until every run has ended
    (each refresh passed to `on_refresh` as it comes).

    Bad input raises a ClusterrunError before anything is written; a failed smoke test, a dry run and a
    declined gate are outcomes (nothing reaches the scheduler)."""
    with registry.writing():  # the registry's umask while it writes (records/perms.py)
        with registry_index.read_once():  # the duplicate check and the estimate's look back share it
            prepared = prepare(request, registry, notify)
        for member in prepared.members if request.tags else []:  # --tag: in notes.jsonl, not the manifest
            tag_runs(member.run, request.tags)
        return finish(
            registry,
            prepared,
            dry_run=request.dry_run,
            confirm=confirm,
            notify=notify,
            review=review,
            wait=wait,
            on_refresh=on_refresh,
        )


def gate(prepared: Prepared, confirm: Confirm) -> Confirmation:
    """The cost gate: `confirm` is asked only above the profile's thresholds."""
    decision = prepared.gate
    at = now_iso()
    answer = confirm(decision) if decision.needs_confirmation else Answer(True, "below the thresholds")
    return Confirmation(
        required=decision.needs_confirmation,
        reasons=[*decision.reasons, *decision.risks],
        at=at,
        approved=answer.approved,
        decision=answer.decision,
    )


def finish(
    registry: Registry,
    prepared: Prepared,
    *,
    dry_run: bool = False,
    confirm: Confirm = refuse_expensive,
    notify: Notify = quiet,
    review: Review | None = None,
    wait: bool = False,
    on_refresh: Callable[[StatusReport], None] | None = None,
) -> SubmitResult:
    """A prepared submission to its end (shared by submit and reproduce): review, gate, launch, wait."""
    if review is not None:
        review(prepared)
    if prepared.smoke_failed:
        return SubmitResult("smoke_failed", prepared, prepared.manifest)
    if dry_run:
        mark_dry_run(prepared)
        return _result("dry_run", prepared)
    confirmation = gate(prepared, confirm)
    if not confirmation.approved:
        decline(prepared, confirmation)
        return _result("declined", prepared, confirmation)
    try:
        manifests = launch(prepared, confirmation, notify)
    except DiskFull:
        _discard_unsent(registry, prepared)
        raise
    ids = [m.run_id for m in manifests]
    if prepared.sweep_run is not None:
        record = prepared.sweep_record()
        arrays = ", ".join(f"{a.job_id} ({a.size})" for a in record.arrays)
        notify(
            f"submitted sweep {record.sweep_id}: {len(ids)} member(s) in {record.submissions} "
            f"submission(s): {arrays}"
        )
    else:
        notify(f"submitted {ids[0]} as {manifests[0].backend} job {manifests[0].job_id}")
    if not wait:
        return _result("submitted", prepared, confirmation)
    from clusterrun.services.status import wait as wait_for_runs
    from clusterrun.services.sweeps import sweep_view

    report = wait_for_runs(registry, ids, on_refresh) if on_refresh else wait_for_runs(registry, ids)
    view = sweep_view(registry, prepared.sweep_run.id, report) if prepared.sweep_run is not None else None
    return _result("submitted", prepared, confirmation, report, view)


def _discard_unsent(registry: Registry, prepared: Prepared) -> None:
    """A full disk before the scheduler was asked: no job can exist for the runs, so they are removed,
    their sweep's too (the error says nothing half-made was kept). Once the scheduler was asked (or a
    manifest holds a job id) they are left for status to recover: a job may have been accepted."""
    if prepared.scheduler_asked:
        return
    members = [m.run for m in prepared.members]
    try:
        manifests = [run.load_manifest() for run in members]
    except ClusterrunError:
        return
    if not any(m.job_id for m in manifests):
        registry.discard([*members, *([prepared.sweep_run] if prepared.sweep_run else [])])


def _result(
    outcome: Outcome,
    prepared: Prepared,
    confirmation: Confirmation | None = None,
    report: StatusReport | None = None,
    view: SweepView | None = None,
) -> SubmitResult:
    """The result, with the records read as they stand now."""
    sweep = prepared.sweep_record() if prepared.sweep_run is not None else None
    return SubmitResult(outcome, prepared, prepared.run.load_manifest(), sweep, confirmation, report, view)
