"""Runs that must end before a new one starts: `resources.after` (whatever their end) and
`resources.afterok` (only if they succeeded), also `submit --after/--afterok RUN_ID`.

Run ids are recorded in the config (so `reproduce` keeps them); each submission turns them into the
scheduler's dependency on their job ids, after one status refresh. A run that already ended is a
dependency already met (left out, with a note); an --afterok run that ended without success, or one that
never reached the scheduler, is refused before anything is created (the job could never start).
"""

from __future__ import annotations

from clusterrun.config.models import ExperimentSpec
from clusterrun.errors import UsageError
from clusterrun.records.registry import Registry
from clusterrun.scheduler import TERMINAL


def with_run_ids(
    spec: ExperimentSpec, registry: Registry, after: list[str], afterok: list[str]
) -> ExperimentSpec:
    """The spec with `after`/`afterok` added and every id made whole (a prefix or @latest -> the run id)."""
    res = spec.resources
    if not (after or afterok or res.after or res.afterok):
        return spec
    whole = {
        "after": [registry.get(i).id for i in [*res.after, *after]],
        "afterok": [registry.get(i).id for i in [*res.afterok, *afterok]],
    }
    resources = res.model_validate(res.model_dump() | whole)
    return spec.model_copy(update={"resources": resources})


def dependency(spec: ExperimentSpec, registry: Registry, backend: str, notes: list[str]) -> str | None:
    """The scheduler's dependency (`afterany:12:13,afterok:14`) for the spec's runs; None when none is
    left to wait for. Raises UsageError for one that can never be met."""
    wanted = spec.resources.dependencies
    if not wanted:
        return None
    ids = sorted({i for group in wanted.values() for i in group})
    from clusterrun.services.status import refresh  # only when a run waits for others

    report = refresh(registry, ids)
    notes += report.warnings
    states = {r.run_id: r for r in report.runs}
    parts: list[str] = []
    for kind, run_ids in wanted.items():
        jobs: list[str] = []
        for run_id in run_ids:
            run = states[run_id]
            key = "after" if kind == "afterany" else kind
            if run.state in TERMINAL:
                if kind == "afterok" and run.state != "completed":
                    raise UsageError(
                        f"resources.afterok: run {run_id} ended {run.state.upper()}, so this job could "
                        "never start",
                        hint=f"use --after {run_id} to start once it ended whatever its state, or drop it",
                    )
                notes.append(f"{key} {run_id}: it already ended ({run.state}), nothing to wait for")
                continue
            if not run.job_id:
                raise UsageError(
                    f"resources.{key}: run {run_id} was never submitted (state {run.state}), so there is "
                    "no job to wait for",
                    hint=f"submit it first, or drop {run_id} from resources.{key}",
                )
            if run.backend != backend:
                raise UsageError(
                    f"resources.{key}: run {run_id} is a {run.backend} job; "
                    f"a {backend} job cannot wait for it",
                    hint=f"submit with --backend {run.backend}, or once {run_id} has ended",
                )
            jobs.append(run.job_id)
        if jobs:
            parts.append(":".join([kind, *jobs]))
    return ",".join(parts) or None
