"""The submit service: config -> git -> snapshot -> run record -> smoke test -> render -> submit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun import gitstate, snapshot
from clusterrun.config import ExperimentSpec, load_spec
from clusterrun.errors import ClusterrunError, SchedulerError, UsageError
from clusterrun.jobrun import run_job
from clusterrun.record import command_script, write_initial, write_script
from clusterrun.runs import Registry, Run
from clusterrun.scheduler import JobSpec, Scheduler, get_scheduler, resolve_backend
from clusterrun.smoke import SmokeCache, SmokeResult, run_smoke

Notify = Callable[[str], None]


@dataclass
class SubmitRequest:
    config: Path
    overrides: list[str] = field(default_factory=list)
    backend: str = "auto"
    dry_run: bool = False
    allow_dirty: bool = False
    skip_smoke_reason: str | None = None
    argv: list[str] = field(default_factory=list)
    cwd: Path | None = None


@dataclass
class Prepared:
    """A run on disk, smoke-tested (or not), ready to submit."""

    run: Run
    spec: ExperimentSpec
    manifest: dict[str, Any]
    scheduler: Scheduler
    job: JobSpec
    script: str
    smoke: SmokeResult | None
    warnings: list[str]

    @property
    def smoke_failed(self) -> bool:
        return self.smoke is not None and not self.smoke.ok


def _smoke_key(snapshot_id: str, spec: ExperimentSpec) -> str:
    return hashlib.sha256(f"{snapshot_id}:{spec.config_hash()}".encode()).hexdigest()[:24]


def _job_spec(run: Run, spec: ExperimentSpec, workdir: str) -> JobSpec:
    res = spec.resources
    return JobSpec(
        run_dir=str(run.path),
        folder=str(run.path / "scheduler"),
        job_name=f"clusterrun:{spec.name}",
        chdir=workdir,
        time_seconds=res.time_seconds,
        mem_mb=res.mem_mb,
        nodes=res.nodes,
        cpus_per_task=res.cpus_per_task,
        gpus=res.gpus,
        partition=res.partition,
        account=res.account,
        qos=res.qos,
        setup=tuple(spec.setup),
    )


@dataclass
class RunPlan:
    """What a new run is made of, wherever it came from (a config file, or a past run's record)."""

    spec: ExperimentSpec
    git: gitstate.GitState
    snapshot: snapshot.Snapshot
    backend: str
    config_file: str
    overrides: list[str]
    argv: list[str]
    skip_smoke_reason: str | None = None
    use_smoke_cache: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # manifest fields, e.g. reproduces
    warnings: list[str] = field(default_factory=list)


def check_skip_reason(reason: str | None) -> None:
    if reason is not None and not reason.strip():
        raise UsageError("--skip-smoke needs a reason", hint='e.g. --skip-smoke "tested on a GPU node"')


def plan(request: SubmitRequest, registry: Registry) -> RunPlan:
    """Validate the request and capture the code: nothing is written but the (shared) snapshot."""
    check_skip_reason(request.skip_smoke_reason)
    spec = load_spec(request.config, request.overrides)
    backend = resolve_backend(request.backend)
    cwd = (request.cwd or Path.cwd()).resolve()
    git = gitstate.capture(cwd)
    gitstate.require_clean(git, request.allow_dirty)
    warnings: list[str] = []
    if git.dirty:
        warnings.append(f"uncommitted changes in {len(git.dirty_files)} file(s) are saved as git.patch")
    if git.untracked_files:
        shown = ", ".join(git.untracked_files[:5]) + (" ..." if len(git.untracked_files) > 5 else "")
        warnings.append(f"{len(git.untracked_files)} untracked file(s) are NOT in the snapshot: {shown}")
    registry.ensure()
    registry.root = registry.root.resolve()
    snap = snapshot.create(Path(git.root), git.commit, git.patch, registry.root)
    return RunPlan(
        spec=spec,
        git=git,
        snapshot=snap,
        backend=backend,
        config_file=str(request.config),
        overrides=list(request.overrides),
        argv=request.argv,
        skip_smoke_reason=request.skip_smoke_reason,
        warnings=warnings,
    )


def prepare(request: SubmitRequest, registry: Registry, notify: Notify = lambda _m: None) -> Prepared:
    """Everything before submission. Raises ClusterrunError for bad input; records a smoke failure."""
    return prepare_plan(plan(request, registry), registry, notify)


def prepare_plan(plan: RunPlan, registry: Registry, notify: Notify = lambda _m: None) -> Prepared:
    """Create the run directory, write its record, render the job and smoke-test it."""
    spec, git, snap = plan.spec, plan.git, plan.snapshot
    run = registry.create(spec.name)
    manifest = write_initial(
        run,
        spec,
        git,
        snap,
        config_file=plan.config_file,
        overrides=plan.overrides,
        argv=plan.argv,
        backend=plan.backend,
        extra=plan.extra,
    )
    scheduler = get_scheduler(plan.backend)
    job = _job_spec(run, spec, str(snap.path))
    script = scheduler.render(job)
    write_script(run.file("sbatch.sh"), script)
    warnings = list(plan.warnings)
    smoke: SmokeResult | None = None
    if plan.skip_smoke_reason is not None:
        manifest = run.update(smoke={"skipped": True, "reason": plan.skip_smoke_reason})
        warnings.append(f"smoke test skipped: {plan.skip_smoke_reason}")
    else:
        smoke = _smoke(run, spec, snap, git, registry, notify, use_cache=plan.use_smoke_cache)
        state = "smoke_passed" if smoke.ok else "smoke_failed"
        manifest = run.update(state=state, smoke=smoke.as_record() | {"skipped": False})
    return Prepared(run, spec, manifest, scheduler, job, script, smoke, warnings)


def _smoke(
    run: Run,
    spec: ExperimentSpec,
    snap: snapshot.Snapshot,
    git: gitstate.GitState,
    registry: Registry,
    notify: Notify,
    use_cache: bool = True,
) -> SmokeResult:
    cache = SmokeCache(registry.cache_dir / "smoke")
    key = _smoke_key(snap.id, spec)
    cached = cache.get(key) if use_cache else None
    if cached is not None:
        notify(f"smoke test: passed before for this code and config (run {cached.cached_from}), skipped")
        run.event("smoke_cached", key=key, source=cached.cached_from)
        return SmokeResult(**(cached.as_record() | {"cached": True}))
    workdir = run.path / "smoke"
    workdir.mkdir()
    text, _argv = command_script(spec, run, snap, git, workdir, smoke=True)
    write_script(workdir / "command.sh", text)
    notify(f"smoke test: running one batch locally (timeout {spec.smoke.timeout} s) ...")
    run.event("smoke_started", timeout=spec.smoke.timeout)
    result = run_smoke(workdir / "command.sh", workdir, spec.smoke.timeout)
    run.event("smoke_ended", ok=result.ok, seconds=result.seconds, returncode=result.returncode)
    cache.put(key, result, run.id)
    return result


def launch(prepared: Prepared) -> dict[str, Any]:
    """Submit a prepared run; the job id reaches the manifest atomically. Returns the new manifest."""
    run = prepared.run
    if prepared.smoke_failed:
        raise ClusterrunError("the smoke test failed; nothing was submitted")
    # An 'orphan' record first: a crash between sbatch and the next write is visible and recoverable.
    run.update(state="submitting")
    try:
        submitted = prepared.scheduler.submit(prepared.job, run_job)
    except SchedulerError as exc:
        run.update(state="submit_failed", note=exc.message)
        raise
    write_script(run.file("sbatch.sh"), submitted.script)
    return run.update(state="submitted", job_id=submitted.job_id, scheduler_folder=prepared.job.folder)


def mark_dry_run(prepared: Prepared) -> dict[str, Any]:
    return prepared.run.update(state="dry_run")
