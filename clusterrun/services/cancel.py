"""Cancel runs: one scheduler call per backend; who asked is recorded in each run's manifest.

Runs are named by id (a unique prefix, @latest; a sweep id stands for its members), or chosen like
`scancel -n NAME -t STATE` does: `matching` lists the active runs whose name matches a glob and whose
current state (asked of the scheduler, once) is one of the states given."""

from __future__ import annotations

import fnmatch
import getpass
from dataclasses import dataclass

from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.records.models import CancelRequest
from clusterrun.records.registry import Registry, Run, now_iso
from clusterrun.records.summary import scheduler_folder
from clusterrun.scheduler import get_scheduler
from clusterrun.scheduler.base import JobMismatch
from clusterrun.services import job_identity
from clusterrun.services.listing import expand_ids
from clusterrun.services.query import STATE_GROUPS, parse_states
from clusterrun.services.status import is_active, refresh


@dataclass(frozen=True)
class CancelOutcome:
    run_id: str
    cancelled: bool
    detail: str
    #: what `detail` says of a cancelled run, apart: its backend, its job and who cancelled it
    backend: str = ""
    job_id: str = ""
    by: str = ""


def expand(registry: Registry, run_ids: list[str]) -> list[str]:
    """Ids as typed (prefixes, @latest, sweeps) -> run ids, each once."""
    resolved = [registry.resolve(i, allow_sweep=True) for i in run_ids]
    return list(dict.fromkeys(expand_ids(registry, resolved)))


def matching(
    registry: Registry, name: str | None = None, state: str | None = None, among: list[str] | None = None
) -> list[str]:
    """Active runs (newest first; of `among` when given) whose name matches the glob and whose state,
    brought up to date in one scheduler query per backend, is one of `state` (comma-separated; default:
    any active state)."""
    states = parse_states(state) or frozenset(STATE_GROUPS["active"])
    candidates = []
    pool = [registry.get(i) for i in expand(registry, among)] if among else registry.runs()
    for run in pool:
        if name and not fnmatch.fnmatch(run.id.rsplit("_", 1)[0], name):
            continue
        try:
            if is_active(run.load_manifest()):
                candidates.append(run.id)
        except ClusterrunError:
            continue
    if not candidates:
        return []
    return [r.run_id for r in refresh(registry, candidates).runs if r.state in states and not r.done]


def cancel(registry: Registry, run_ids: list[str]) -> list[CancelOutcome]:
    """Cancel runs by id (a sweep id: its members); every id is checked before anything is cancelled."""
    runs = [registry.get(i) for i in expand(registry, run_ids)]
    # first brought up to date: a run whose job has ended (and whose id may name another job now) is
    # not running, and nothing is cancelled for it
    refresh(registry, [run.id for run in runs])
    user = getpass.getuser()
    outcomes: list[CancelOutcome] = []
    by_backend: dict[str, list[Run]] = {}
    for run in runs:
        manifest = run.load_manifest()
        if is_active(manifest):
            by_backend.setdefault(manifest.backend, []).append(run)
        else:
            outcomes.append(CancelOutcome(run.id, False, f"not running (state {manifest.state})"))
    for backend, members in by_backend.items():
        refs = []
        for run in members:
            manifest = run.load_manifest()
            refs.append(job_identity.job_ref(manifest, scheduler_folder(run, manifest), run.path))
        try:
            get_scheduler(backend).cancel(refs)
        except JobMismatch as exc:  # the id now names another job: refused, nothing cancelled
            owner = next((r.id for r, ref in zip(members, refs, strict=True) if ref.job_id == exc.job_id), "")
            raise UsageError(f"run {owner}: {exc.message}", hint=exc.hint) from None
        for run, ref in zip(members, refs, strict=True):
            run.update(cancel_requested=CancelRequest(by=user, at=now_iso()))
            run.event("cancel_requested", by=user, job_id=ref.job_id)
            detail = f"{backend} job {ref.job_id} cancelled by {user}"
            outcomes.append(CancelOutcome(run.id, True, detail, backend, ref.job_id, user))
    return outcomes
