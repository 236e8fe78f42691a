"""Cancel runs: one scheduler call per backend; who asked is recorded in each run's manifest."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from clusterrun.records.models import CancelRequest
from clusterrun.records.registry import Registry, Run, now_iso
from clusterrun.records.summary import scheduler_folder
from clusterrun.scheduler import JobRef, get_scheduler
from clusterrun.services.status import is_active


@dataclass(frozen=True)
class CancelOutcome:
    run_id: str
    cancelled: bool
    detail: str


def cancel(registry: Registry, run_ids: list[str]) -> list[CancelOutcome]:
    runs = [registry.get(i) for i in run_ids]  # every id is checked before anything is cancelled
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
            refs.append(JobRef(str(manifest.job_id), str(scheduler_folder(run, manifest))))
        get_scheduler(backend).cancel(refs)
        for run, ref in zip(members, refs, strict=True):
            run.update(cancel_requested=CancelRequest(by=user, at=now_iso()))
            run.event("cancel_requested", by=user, job_id=ref.job_id)
            outcomes.append(CancelOutcome(run.id, True, f"{backend} job {ref.job_id} cancelled by {user}"))
    return outcomes
