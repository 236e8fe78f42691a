"""From a SubmissionPlan to a submission ready to launch: run directories with their records, the jobs
rendered, the smoke tests run, the estimate and the cost gate's verdict. Nothing reaches the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.analysis.estimate import Estimate, GateDecision, combine, estimate, gate
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.render import render_command
from clusterrun.diagnose.model import Diagnosis
from clusterrun.errors import DiskFull
from clusterrun.execution import envinfo
from clusterrun.execution.smoke import SmokeResult
from clusterrun.inputs import datafp, snapshot
from clusterrun.records import store
from clusterrun.records.jsonio import no_space
from clusterrun.records.models import SCHEMA_VERSION, Manifest, SweepRecord, require_fields
from clusterrun.records.registry import Registry, Run, now_iso
from clusterrun.records.writer import SharedFiles, write_initial, write_script
from clusterrun.scheduler import JobSpec, Scheduler, get_scheduler
from clusterrun.scheduler.naming import job_comment
from clusterrun.services import Notify, quiet
from clusterrun.services.job_request import check_request, job_resources
from clusterrun.services.plan import MemberPlan, SubmissionPlan, SubmitRequest, plan
from clusterrun.services.smoke_tests import smoke_shapes


@dataclass
class MemberRun:
    run: Run
    plan: MemberPlan
    job: JobSpec
    manifest: Manifest


@dataclass
class Prepared:
    """Runs on disk, smoke-tested (or not), estimated, ready to submit."""

    plan: SubmissionPlan
    members: list[MemberRun]
    scheduler: Scheduler
    script: str
    smoke: SmokeResult | None  # the failing smoke test, else the first one
    smoke_run: Run | None  # the run whose directory holds that smoke test's logs
    estimate: Estimate
    gate: GateDecision
    sweep_run: Run | None
    warnings: list[str]
    smoke_diagnosis: Diagnosis | None = None  # of the failing smoke test

    @property
    def run(self) -> Run:
        return self.members[0].run

    @property
    def manifest(self) -> Manifest:
        return self.members[0].manifest

    @property
    def smoke_failed(self) -> bool:
        return self.smoke is not None and not self.smoke.ok

    def sweep_record(self) -> SweepRecord:
        assert self.sweep_run is not None
        return store.read_sweep(self.sweep_run.path)


def _job_spec(
    run: Run, spec: ExperimentSpec, workdir: str, folder: Path, owner: str, dependency: str | None = None
) -> JobSpec:
    """The job of one run; `owner` (the run's id, or its sweep's: one array) names it in the scheduler."""
    res = spec.resources
    return JobSpec(
        run_dir=str(run.path),
        folder=str(folder),
        job_name=owner,
        comment=job_comment(owner),
        chdir=workdir,
        setup=tuple(spec.setup),
        dependency=dependency,
        requeue=spec.requeue.enabled,
        signal_grace=spec.requeue.signal_grace,
        **job_resources(res),
    )


def prepare(request: SubmitRequest, registry: Registry, notify: Notify = quiet) -> Prepared:
    """Everything before submission. Raises ClusterrunError for bad input; records a smoke failure."""
    return prepare_plan(plan(request, registry), registry, notify)


def prepare_plan(plan: SubmissionPlan, registry: Registry, notify: Notify = quiet) -> Prepared:
    """Create the run directories, write their records, render the jobs, smoke-test each shape once.
    No room left to write (DiskFull, exit 3): the directories made so far are removed, nothing stays
    half-made (nothing has reached the scheduler yet)."""
    first = len(registry.created)
    try:
        return _prepare_plan(plan, registry, notify)
    except OSError as exc:
        if not no_space(exc):
            raise
        registry.discard(registry.created[first:])
        if isinstance(exc, DiskFull):
            raise
        raise DiskFull(exc.filename or registry.root) from None


def _prepare_plan(plan: SubmissionPlan, registry: Registry, notify: Notify) -> Prepared:
    # the request against the cluster, and the runs it waits for: before anything is created or run
    dependencies = check_request(plan, get_scheduler(plan.backend), registry)
    snap, git = plan.snapshot, plan.git
    env = envinfo.capture(tuple(sorted({k for m in plan.members for k in m.spec.env})))
    sweep_run = registry.create_sweep(plan.name) if plan.is_sweep else None
    if sweep_run is not None:  # a record at once: a submit killed while preparing leaves a marked sweep
        store.write_sweep(
            sweep_run.path,
            SweepRecord(
                sweep_id=sweep_run.id,
                name=plan.name,
                created=now_iso(),
                argv=plan.argv,
                config_file=plan.config_file,
                overrides=plan.overrides,
                backend=plan.backend,
                state="preparing",
            ),
        )
    scheduler = get_scheduler(plan.backend)
    notes = _snapshot_notes(plan, registry)
    data_cache: dict[str, datafp.Fingerprint] = {}  # one fingerprint per data path and submission
    members: list[MemberRun] = []
    shared = SharedFiles()  # env.json and git.patch: written once, hard-linked into every other member
    for member, dependency in zip(plan.members, dependencies, strict=True):
        run = registry.create(member.spec.name)
        extra = dict(member.extra)
        if sweep_run is not None:
            extra.update(sweep=sweep_run.id, sweep_values=member.values)
        manifest = write_initial(
            run,
            member.spec,
            git,
            snap,
            config_file=plan.config_file,
            overrides=plan.overrides,
            argv=plan.argv,
            backend=plan.backend,
            extra=extra,
            env=env,
            data_fingerprints=datafp.fingerprints(member.spec.data, Path(git.root), data_cache),
            snapshot_notes=notes,
            links=datafp.workdir_links(member.spec.data, Path(git.root), snap.path),
            shared=shared,
        )
        folder = (sweep_run or run).path / "scheduler"
        job = _job_spec(run, member.spec, str(folder), folder, (sweep_run or run).id, dependency)
        members.append(MemberRun(run, member, job, manifest))
    script = scheduler.render(members[0].job)
    write_script(members[0].run.file("sbatch.sh"), script)  # the others get theirs when submitted
    warnings = list(plan.warnings) + notes
    warnings = list(plan.warnings) + notes
    tests = smoke_shapes(plan, [(m.run, m.plan.spec) for m in members], registry, notify, warnings)
    warnings += [w for w in plan.warnings if w not in warnings]  # what the smoke tests found
    own_estimates = [
        estimate(m.plan.spec, tests.timing, tests.peak_rss_mb, 1, plan.profile, no_timing=tests.no_timing)
        for m in members
    ]
    est = combine(own_estimates)
    decision = gate(est, members[0].plan.spec, plan.profile)
    warnings += est.warnings
    for member_run, own in zip(members, own_estimates, strict=True):  # one write for smoke and estimate
        state, note, smoke_record = tests.outcomes[member_run.run.id]
        fields: dict[str, Any] = {"estimate": own.as_record()}
        if smoke_record is not None:
            fields["smoke"] = smoke_record
        member_run.manifest = member_run.run.update(state=state, note=note, **fields)
    if sweep_run is not None:
        _write_sweep_record(sweep_run, plan, members, est)
    return Prepared(
        plan,
        members,
        scheduler,
        script,
        tests.result,
        tests.tested_in,
        est,
        decision,
        sweep_run,
        warnings,
        tests.diagnosis,
    )


def _snapshot_notes(plan: SubmissionPlan, registry: Registry) -> list[str]:
    """What the snapshot lacks that the commands name (LFS pointers, untracked paths): once per submission."""
    tokens = [t for m in plan.members for t in render_command(m.spec, str(registry.root), smoke=False)]
    values = [v for m in plan.members for v in m.spec.data.values()]
    return snapshot.snapshot_notes(plan.snapshot.path, Path(plan.git.root), dict.fromkeys(tokens), values)


def _write_sweep_record(
    sweep_run: Run, plan: SubmissionPlan, members: list[MemberRun], est: Estimate
) -> None:
    sweep = plan.sweep
    require_fields(SweepRecord, plan.sweep_extra, "sweep_extra")
    record = {
        "schema_version": SCHEMA_VERSION,
        "sweep_id": sweep_run.id,
        "name": plan.name,
        "created": now_iso(),
        "argv": plan.argv,
        "config_file": plan.config_file,
        "overrides": plan.overrides,
        "backend": plan.backend,
        "cluster": plan.profile.name,
        "git": plan.git.as_record(None),
        "snapshot": {"id": plan.snapshot.id, "path": str(plan.snapshot.path)},
        "axes": plan.sweep_axes,
        "sweep": sweep.model_dump(mode="json", by_alias=True) if sweep else None,
        "metric": sweep.metric if sweep else None,
        "mode": sweep.mode if sweep else "min",
        "parallelism": plan.parallelism,
        "members": [{"run_id": m.run.id, "values": m.plan.values} for m in members],
        "skipped": plan.skipped,
        "estimate": est.as_record(),
        "arrays": [],
        "state": "prepared",
        **plan.sweep_extra,
    }
    store.write_sweep(sweep_run.path, SweepRecord.model_validate(record))
