"""What a submission asks the scheduler for, checked before anything is created or smoke-tested: the
request against the cluster (the backend's preflight), and the runs it waits for (dependencies)."""

from __future__ import annotations

from typing import Any

from clusterrun.config.sections import Resources
from clusterrun.records.registry import Registry
from clusterrun.scheduler import JobSpec, Scheduler
from clusterrun.services.dependencies import dependency
from clusterrun.services.plan import SubmissionPlan


def job_resources(res: Resources) -> dict[str, Any]:
    """Every JobSpec field that comes from `resources` (one list for the job and its preflight probe)."""
    return {
        "time_seconds": res.time_seconds,
        "mem_mb": res.mem_mb,
        "nodes": res.nodes,
        "cpus_per_task": res.cpus_per_task,
        "gpus": res.gpus,
        "partition": res.partition,
        "account": res.account,
        "qos": res.qos,
        "tasks_per_node": res.tasks_per_node,
        "gpus_per_task": res.gpus_per_task,
        "gpu_type": res.gpu_type,
        "constraint": res.constraint,
        "exclusive": res.exclusive,
        "reservation": res.reservation,
        "mail_type": res.mail_type,
        "mail_user": res.mail_user,
        "extra": tuple(res.extra.items()),
        "launcher": res.launcher,
    }


def probe(res: Resources, dependency: str | None = None) -> JobSpec:
    """The job a request makes, without a run: what the backend's preflight checks."""
    return JobSpec(
        run_dir="",
        folder="",
        job_name="",
        chdir="",
        dependency=dependency,
        **job_resources(res),
    )


def check_request(plan: SubmissionPlan, scheduler: Scheduler, registry: Registry) -> list[str | None]:
    """Each member's dependency (None: none), after the backend's preflight of each distinct request.
    Raises UsageError (exit 2) for a request the cluster can never run or a dependency never met; what
    could not be checked becomes a warning of the plan."""
    deps: dict[str, str | None] = {}
    checked: set[str] = set()
    out: list[str | None] = []
    preflight = getattr(scheduler, "preflight", None)  # optional for a backend
    for member in plan.members:
        res = member.spec.resources
        key = res.model_dump_json()
        if key not in deps:
            notes: list[str] = []
            deps[key] = dependency(member.spec, registry, plan.backend, notes)
            plan.warnings += [n for n in notes if n not in plan.warnings]
        if key not in checked and preflight is not None:
            checked.add(key)
            plan.warnings += [w for w in preflight(probe(res, deps[key])) if w not in plan.warnings]
        out.append(deps[key])
    return out
