"""The submit service: experiment -> git -> snapshot -> run records -> smoke test -> estimate -> submit.

A plain run is a submission of one member; a sweep is a submission of many, sent as ONE job array
(more only past the cluster's MaxArraySize, or when members ask for different resources).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clusterrun.analysis.estimate import Estimate, GateDecision, Timing, estimate, fit_points, gate, two_runs
from clusterrun.config.experiment import check_members_differ, load_experiment
from clusterrun.config.profiles import DEFAULT, ClusterProfile
from clusterrun.config.spec import ExperimentSpec, Sweep, canonical_json, render_command
from clusterrun.errors import ClusterrunError, SchedulerError, SchedulerUnavailable, UsageError
from clusterrun.execution import envinfo
from clusterrun.execution.jobrun import run_job
from clusterrun.execution.smoke import SmokeCache, SmokeResult, run_smoke
from clusterrun.inputs import datafp, gitstate, snapshot
from clusterrun.inputs import workdir as workdirs
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.records.jsonio import read_json, write_json_atomic
from clusterrun.records.registry import SCHEMA_VERSION, SWEEP_FILE, Registry, Run, now_iso
from clusterrun.records.summary import smoke_diagnosis
from clusterrun.records.writer import command_script, write_initial, write_script
from clusterrun.scheduler import JobSpec, Scheduler, get_scheduler, resolve_backend

Notify = Callable[[str], None]
LOCAL_MAX_MEMBERS = 64  # the local backend starts every member at once


@dataclass
class SubmitRequest:
    config: Path
    overrides: list[str] = field(default_factory=list)
    sweep_axes: list[str] = field(default_factory=list)  # --sweep KEY=V1,V2 (grid axes)
    cluster: str | None = None
    backend: str = "auto"
    dry_run: bool = False
    allow_dirty: bool = False
    skip_smoke_reason: str | None = None
    force: bool = False  # submit members that duplicate a finished run
    array_parallelism: int | None = None  # --array-parallelism: overrides sweep.parallelism
    argv: list[str] = field(default_factory=list)
    cwd: Path | None = None


@dataclass
class MemberPlan:
    spec: ExperimentSpec
    values: dict[str, Any] = field(default_factory=dict)  # the swept keys of this member
    extra: dict[str, Any] = field(default_factory=dict)  # manifest fields, e.g. reproduces


@dataclass
class SubmissionPlan:
    """What a submission is made of, wherever it came from (a config file, or past records)."""

    name: str
    members: list[MemberPlan]
    git: gitstate.GitState
    snapshot: snapshot.Snapshot
    backend: str
    config_file: str
    overrides: list[str]
    argv: list[str]
    profile: ClusterProfile = DEFAULT
    skip_smoke_reason: str | None = None
    use_smoke_cache: bool = True
    sweep: Sweep | None = None
    sweep_axes: list[str] = field(default_factory=list)
    sweep_extra: dict[str, Any] = field(default_factory=dict)
    parallelism: int | None = None  # at most this many members at once (the array's %N)
    force_sweep: bool = False  # a record for one member too (reproducing a one-member sweep)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # duplicates left out

    @property
    def is_sweep(self) -> bool:
        return self.force_sweep or self.sweep is not None or bool(self.sweep_axes) or len(self.members) > 1


@dataclass
class MemberRun:
    run: Run
    plan: MemberPlan
    job: JobSpec
    manifest: dict[str, Any]


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

    @property
    def run(self) -> Run:
        return self.members[0].run

    @property
    def spec(self) -> ExperimentSpec:
        return self.members[0].plan.spec

    @property
    def manifest(self) -> dict[str, Any]:
        return self.members[0].manifest

    @property
    def smoke_failed(self) -> bool:
        return self.smoke is not None and not self.smoke.ok

    def sweep_record(self) -> dict[str, Any]:
        assert self.sweep_run is not None
        data: dict[str, Any] = read_json(self.sweep_run.file(SWEEP_FILE))
        return data


# --------------------------------------------------------------------------------------------- plan


def check_skip_reason(reason: str | None) -> None:
    if reason is not None and not reason.strip():
        raise UsageError("--skip-smoke needs a reason", hint='e.g. --skip-smoke "tested on a GPU node"')


def finished_index(registry: Registry) -> dict[tuple[str, str], str]:
    """(snapshot id, config hash) -> id of a run that completed with them."""
    index: dict[tuple[str, str], str] = {}
    for run in registry.runs():
        try:
            manifest = run.manifest()
        except ClusterrunError:
            continue
        if manifest.get("state") == "completed":
            key = (str(manifest.get("snapshot", {}).get("id")), str(manifest.get("config_hash")))
            index.setdefault(key, run.id)
    return index


def drop_duplicates(
    members: list[MemberPlan], snapshot_id: str, registry: Registry, force: bool
) -> tuple[list[MemberPlan], list[dict[str, Any]]]:
    """Leave out members identical to a finished run (same code and resolved config), or to each other."""
    if force:
        return members, []
    index = finished_index(registry)
    kept: list[MemberPlan] = []
    skipped: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for position, member in enumerate(members):
        digest = member.spec.config_hash()
        existing = index.get((snapshot_id, digest))
        if existing:
            skipped.append({"values": member.values, "duplicate_of": existing})
        elif digest in seen:
            skipped.append({"values": member.values, "duplicate_of": f"member {seen[digest]} of this sweep"})
        else:
            seen[digest] = position
            kept.append(member)
    return kept, skipped


def plan(request: SubmitRequest, registry: Registry) -> SubmissionPlan:
    """Validate the request and capture the code: nothing is written but the (shared) snapshot."""
    check_skip_reason(request.skip_smoke_reason)
    cwd = (request.cwd or Path.cwd()).resolve()
    experiment = load_experiment(request.config, request.overrides, request.sweep_axes, request.cluster, cwd)
    inputs = check_members_differ(experiment.members)  # a sweep that changes nothing is refused here
    inputs += [
        f"params.{name} is not used by the command or env: it changes nothing "
        f"(put {{{name}}} in the command, or export it: env: {{{name.upper()}: '{{{name}}}'}})"
        for name in experiment.base.unused_params()
    ]
    backend = resolve_backend(request.backend)
    git = gitstate.capture(cwd)
    gitstate.require_clean(git, request.allow_dirty)
    warnings: list[str] = []
    if git.dirty:
        warnings.append(f"uncommitted changes in {len(git.dirty_files)} file(s) are saved as git.patch")
    if git.untracked_files:
        shown = ", ".join(git.untracked_files[:5]) + (" ..." if len(git.untracked_files) > 5 else "")
        warnings.append(f"{len(git.untracked_files)} untracked file(s) are NOT in the snapshot: {shown}")
    if git.dirty_submodules:
        warnings.append(
            f"submodule(s) {', '.join(git.dirty_submodules)} differ from the commit the superproject records "
            "(uncommitted changes or another commit checked out): NOT in the snapshot, which holds the "
            "recorded commit; commit in the submodule, then 'git add' it in the superproject and commit"
        )
    warnings += inputs
    registry.ensure()
    registry.root = registry.root.resolve()
    snap = snapshot.create(Path(git.root), git.commit, git.patch, registry.root)
    members = [MemberPlan(m.spec, m.values) for m in experiment.members]
    members, skipped = drop_duplicates(members, snap.id, registry, request.force)
    for item in skipped:
        warnings.append(f"skipped a duplicate of {item['duplicate_of']}: {item['values'] or '(base config)'}")
    if not members:
        raise ClusterrunError(
            "nothing to submit: every member duplicates a finished run with the same code and config",
            hint="see it with 'clusterrun show <run-id>', or pass --force to run it again",
        )
    if backend == "local" and len(members) > LOCAL_MAX_MEMBERS:
        raise UsageError(
            f"{len(members)} members would all start at once on this machine (local backend)",
            hint=f"use SLURM for sweeps over {LOCAL_MAX_MEMBERS} members, or narrow the sweep",
        )
    return SubmissionPlan(
        name=experiment.base.name,
        members=members,
        git=git,
        snapshot=snap,
        backend=backend,
        config_file=str(request.config),
        overrides=list(request.overrides),
        argv=request.argv,
        profile=experiment.profile,
        skip_smoke_reason=request.skip_smoke_reason,
        sweep=experiment.sweep,
        sweep_axes=experiment.sweep_axes,
        parallelism=request.array_parallelism or (experiment.sweep.parallelism if experiment.sweep else None),
        warnings=warnings,
        skipped=skipped,
    )


# ------------------------------------------------------------------------------------------ prepare


def _smoke_key(snapshot_id: str, spec: ExperimentSpec) -> str:
    return hashlib.sha256(f"{snapshot_id}:{spec.config_hash()}".encode()).hexdigest()[:24]


def shape_key(spec: ExperimentSpec, swept: list[str]) -> str:
    """Members that differ only in swept param/data/seed/resource values share one smoke test."""
    data = spec.resolved()
    data.pop("resources", None)
    for key in swept:
        head, _, rest = key.partition(".")
        if head in ("params", "data") and rest in data.get(head, {}):
            data[head][rest] = None
        elif head == "seed":
            data["seed"] = None
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def _job_spec(run: Run, spec: ExperimentSpec, workdir: str, folder: Path, job_name: str) -> JobSpec:
    res = spec.resources
    return JobSpec(
        run_dir=str(run.path),
        folder=str(folder),
        job_name=job_name,
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


def prepare(request: SubmitRequest, registry: Registry, notify: Notify = lambda _m: None) -> Prepared:
    """Everything before submission. Raises ClusterrunError for bad input; records a smoke failure."""
    return prepare_plan(plan(request, registry), registry, notify)


def prepare_plan(plan: SubmissionPlan, registry: Registry, notify: Notify = lambda _m: None) -> Prepared:
    """Create the run directories, write their records, render the jobs, smoke-test each shape once."""
    snap, git = plan.snapshot, plan.git
    env = envinfo.capture(tuple(sorted({k for m in plan.members for k in m.spec.env})))
    sweep_run = registry.create_sweep(plan.name) if plan.is_sweep else None
    scheduler = get_scheduler(plan.backend)
    notes = _snapshot_notes(plan, registry)
    data_cache: dict[str, datafp.Fingerprint] = {}  # one fingerprint per data path and submission
    members: list[MemberRun] = []
    for member in plan.members:
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
        )
        folder = (sweep_run or run).path / "scheduler"
        job = _job_spec(run, member.spec, str(folder), folder, f"clusterrun:{plan.name}")
        members.append(MemberRun(run, member, job, manifest))
    script = scheduler.render(members[0].job)
    write_script(members[0].run.file("sbatch.sh"), script)  # the others get theirs when submitted
    warnings = list(plan.warnings) + notes
    outcomes, smoke, smoke_run, (timing, no_timing), peak = _smoke_shapes(
        plan, members, registry, notify, warnings
    )
    warnings += [w for w in plan.warnings if w not in warnings]  # what the smoke tests found
    est, own_estimates = _estimate(plan, members, timing, peak, no_timing)
    decision = gate(est, members[0].plan.spec, plan.profile)
    warnings += est.warnings
    for member_run, own in zip(members, own_estimates, strict=True):  # one write for smoke and estimate
        state, note, smoke_record = outcomes[member_run.run.id]
        fields: dict[str, Any] = {"estimate": own.as_record()}
        if smoke_record is not None:
            fields["smoke"] = smoke_record
        member_run.manifest = member_run.run.update(state=state, note=note, **fields)
    if sweep_run is not None:
        _write_sweep_record(sweep_run, plan, members, est)
    return Prepared(plan, members, scheduler, script, smoke, smoke_run, est, decision, sweep_run, warnings)


def _snapshot_notes(plan: SubmissionPlan, registry: Registry) -> list[str]:
    """What the snapshot lacks that the commands name (LFS pointers, untracked paths): once per submission."""
    tokens = [t for m in plan.members for t in render_command(m.spec, str(registry.root), smoke=False)]
    values = [v for m in plan.members for v in m.spec.data.values()]
    return snapshot.snapshot_notes(plan.snapshot.path, Path(plan.git.root), dict.fromkeys(tokens), values)


Outcome = tuple[str | None, str, dict[str, Any] | None]  # state, note, smoke record
Timed = tuple[Timing | None, str]  # the smoke test's timing, or why there is none ("" when not asked for)


def _smoke_shapes(
    plan: SubmissionPlan, members: list[MemberRun], registry: Registry, notify: Notify, warnings: list[str]
) -> tuple[dict[str, Outcome], SmokeResult | None, Run | None, Timed, float | None]:
    """One smoke test per distinct command shape; every member records the result of its shape's test."""
    if plan.skip_smoke_reason is not None:
        warnings.append(f"smoke test skipped: {plan.skip_smoke_reason}")
        skipped: Outcome = (None, "", {"skipped": True, "reason": plan.skip_smoke_reason})
        return {m.run.id: skipped for m in members}, None, None, (None, "smoke test skipped"), None
    shapes: dict[str, list[MemberRun]] = {}
    for member_run in members:
        shapes.setdefault(shape_key(member_run.plan.spec, plan.sweep_axes), []).append(member_run)
    if len(shapes) > 1:
        notify(f"smoke test: {len(shapes)} distinct command shapes in this sweep, one test each")
    outcomes: dict[str, Outcome] = {}
    first: tuple[SmokeResult, Run] | None = None
    failed: tuple[SmokeResult, Run] | None = None
    timing: Timing | None = None
    no_timing = ""
    for group in shapes.values():
        lead = group[0]
        result, (shape_timing, why) = _smoke(lead.run, lead.plan.spec, plan, registry, notify, warnings)
        timing, no_timing = timing or shape_timing, no_timing or why
        record = result.as_record() | {"skipped": False, "tested_in": lead.run.id}
        if not result.ok:
            record["diagnosis"] = smoke_diagnosis(result, lead.plan.spec, plan.git.root).as_record()
        state = "smoke_passed" if result.ok else "smoke_failed"
        for member_run in group:
            outcomes[member_run.run.id] = (state, "", record)
        first = first or (result, lead.run)
        if not result.ok:
            failed = (result, lead.run)
            break
    for member_run in members:  # shapes left untested after a failure
        outcomes.setdefault(member_run.run.id, ("not_submitted", "another shape's smoke test failed", None))
    chosen = failed or first
    assert chosen is not None
    peak = chosen[0].peak_rss_mb if chosen[0].ok else None
    return outcomes, chosen[0], chosen[1], (timing, "" if timing else no_timing), peak


def _smoke(
    run: Run,
    spec: ExperimentSpec,
    plan: SubmissionPlan,
    registry: Registry,
    notify: Notify,
    warnings: list[str],
) -> tuple[SmokeResult, Timed]:
    """The shape's smoke test (or its cached result) and its timing; a failed timing run is a warning."""
    cache = SmokeCache(registry.cache_dir / "smoke")
    key = _smoke_key(plan.snapshot.id, spec)
    cached = cache.get(key) if plan.use_smoke_cache else None
    if cached is not None:
        notify(f"smoke test: passed before for this code and config (run {cached.cached_from}), skipped")
        run.event("smoke_cached", key=key, source=cached.cached_from)
        result = SmokeResult(**(cached.as_record() | {"cached": True}))
        return result, _timing(spec, result, warnings)
    result = _run_smoke_in(run, spec, plan, "smoke", spec.smoke.params, notify)
    steps_param = spec.estimate.steps_param
    if result.ok and steps_param and len(result.step_points) < 2:
        # the job's own step timing gave fewer than two points: measure a second, longer smoke run
        n1 = _smoke_steps(spec)
        if n1 is not None:
            n2 = max(n1 * 2, n1 + 1)  # an int stays an int: argparse's type=int refuses "4.0"
            notify(f"smoke test: a second run with {steps_param}={n2:g} to time one step")
            second = _run_smoke_in(run, spec, plan, "smoke-2", {**spec.smoke.params, steps_param: n2}, notify)
            timing_run = {
                "param": steps_param,
                "steps": n2,
                "seconds": second.seconds,
                "ok": second.ok,
                "returncode": second.returncode,
                "timed_out": second.timed_out,
                "stderr_tail": "" if second.ok else second.stderr_tail(TIMING_TAIL_LINES),
                "stderr_path": second.stderr_path,
            }
            result = replace(result, timing_run=timing_run)  # cached: a cached test keeps its estimate
    cache.put(key, result, run.id)
    return result, _timing(spec, result, warnings)


TIMING_TAIL_LINES = 5  # of a failed timing run's stderr, in its warning


def _smoke_steps(spec: ExperimentSpec) -> int | float | None:
    """The steps_param's value in the smoke test, with its type (an int param must stay an int)."""
    name = spec.estimate.steps_param
    value = spec.smoke.params.get(name, spec.params.get(name)) if name else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _timing(spec: ExperimentSpec, result: SmokeResult, warnings: list[str]) -> Timed:
    """Time per step and start-up: from the job's own step metrics, else from the timing run (kept in
    the smoke record, so a cached test gives the same). A failed timing run is reported, not swallowed."""
    if not result.ok:
        return None, "the smoke test failed"
    fitted = fit_points([(p[0], p[1]) for p in result.step_points])
    if fitted is not None:
        return fitted, ""
    n1 = _smoke_steps(spec)
    run2 = result.timing_run
    if not spec.estimate.steps_param or n1 is None:
        return None, ""  # the estimate says why (no steps_param, or not a number)
    if run2 is None:
        return None, "fewer than two step points"
    if not run2.get("ok"):
        how = "timed out" if run2.get("timed_out") else f"exited with code {run2.get('returncode')}"
        source = f" (cached from run {result.cached_from})" if result.cached else ""
        lines = str(run2.get("stderr_tail") or "").splitlines()
        tail = "\n".join("  " + line for line in lines) or "  (empty)"
        warnings.append(
            f"the timing run ({run2.get('param')}={run2.get('steps')}){source} {how}, so there is no "
            f"wall-time estimate; {run2.get('stderr_path')} ends with:\n{tail}"
        )
        return None, "timing run failed"
    timing = two_runs(float(n1), result.seconds, float(run2["steps"]), float(run2["seconds"]))
    return timing, "" if timing is not None else "the timing run had as many steps as the smoke test"


def _run_smoke_in(
    run: Run, spec: ExperimentSpec, plan: SubmissionPlan, folder: str, params: dict[str, Any], notify: Notify
) -> SmokeResult:
    workdir = run.path / folder
    workdir.mkdir()
    smoke_spec = spec.model_copy(update={"smoke": spec.smoke.model_copy(update={"params": params})})
    links = run.manifest().get("workdir_links") or {}
    text, _argv = command_script(smoke_spec, run, plan.snapshot, plan.git, workdir, smoke=True, links=links)
    write_script(workdir / "command.sh", text)
    try:  # here, not in command.sh: no interpreter start-up in the smoke test's time
        workdirs.materialise(plan.snapshot.path, workdir / WORKDIR, links)
    except workdirs.WorkdirError as exc:
        raise ClusterrunError(str(exc), hint="submit again: the snapshot is rebuilt") from None
    if folder == "smoke":
        notify(f"smoke test: running it locally with smoke.params (timeout {spec.smoke.timeout} s) ...")
    run.event("smoke_started", timeout=spec.smoke.timeout, folder=folder)
    result = run_smoke(
        workdir / "command.sh",
        workdir,
        spec.smoke.timeout,
        workdir / spec.metrics.file,
        spec.estimate.step_metric,
    )
    run.event(
        "smoke_ended", ok=result.ok, seconds=result.seconds, returncode=result.returncode, folder=folder
    )
    _untaint(run, plan, workdir / WORKDIR, links)
    return result


def _untaint(run: Run, plan: SubmissionPlan, work: Path, links: dict[str, str]) -> None:
    """A smoke test that rewrote tracked files in place changed the shared snapshot through its hard
    links: say so, and rebuild the snapshot before any job is made from it."""
    changed = workdirs.check(work, links).modified_in_place
    if not changed:
        return
    shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
    workdirs.mark_tainted(plan.snapshot.path, changed, f"the smoke test of {run.id}")
    run.event("snapshot_tainted", files=changed[:50], by="smoke")
    snapshot.create(Path(plan.git.root), plan.git.commit, plan.git.patch, plan.snapshot.path.parent.parent)
    message = (
        f"the smoke test rewrote tracked file(s) in place: {shown}; the snapshot was rebuilt, but the job "
        "will do the same to its copy: write outputs to new files (e.g. under $CLUSTERRUN_ARTIFACTS_DIR)"
    )
    plan.warnings.append(message)


def _estimate(
    plan: SubmissionPlan,
    members: list[MemberRun],
    timing: Timing | None,
    peak: float | None,
    no_timing: str = "",
) -> tuple[Estimate, list[Estimate]]:
    """The submission's estimate (per-member estimates summed; the longest member's wall time), and each
    member's own."""
    parts = [estimate(m.plan.spec, timing, peak, 1, plan.profile, no_timing=no_timing) for m in members]
    if len(parts) == 1:
        return parts[0], parts
    total = copy.deepcopy(parts[0])
    walls = [p.wall_seconds for p in parts if p.wall_seconds is not None]
    total.members = len(parts)
    total.wall_seconds = max(walls) if walls else None
    total.cpu_hours = sum(p.cpu_hours for p in parts)
    total.gpu_hours = sum(p.gpu_hours for p in parts)
    costs = [p.cost for p in parts if p.cost is not None]
    total.cost = sum(costs) if costs else None
    for part in parts[1:]:
        total.warnings += [w for w in part.warnings if w not in total.warnings]
        for key, value in part.suggestions.items():
            total.suggestions.setdefault(key, value)
    return total, parts


def _write_sweep_record(
    sweep_run: Run, plan: SubmissionPlan, members: list[MemberRun], est: Estimate
) -> None:
    sweep = plan.sweep
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
    write_json_atomic(sweep_run.file(SWEEP_FILE), record)


# ------------------------------------------------------------------------------------------- launch


def _max_array_size(prepared: Prepared) -> int | None:
    if prepared.plan.profile.max_array_size:
        return prepared.plan.profile.max_array_size
    if prepared.plan.backend != "slurm" or len(prepared.members) == 1:
        return None
    from clusterrun.scheduler import info

    try:
        return info.max_array_size(info.cluster_config())
    except SchedulerUnavailable:
        return None  # sbatch will say so if the array is too long


def launch(prepared: Prepared, confirmation: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Submit every member (arrays where possible); job ids reach the manifests. Returns the manifests."""
    if prepared.smoke_failed:
        raise ClusterrunError("the smoke test failed; nothing was submitted")
    # 'orphan' records first: a crash between sbatch and the next write is visible and recoverable
    for member_run in prepared.members:
        member_run.run.update(state="submitting", confirmation=confirmation)
    groups: dict[tuple[Any, ...], list[MemberRun]] = {}
    for member_run in prepared.members:
        job = member_run.job
        shape = (
            job.folder,
            job.chdir,
            job.time_seconds,
            job.mem_mb,
            job.nodes,
            job.cpus_per_task,
            job.gpus,
            job.partition,
            job.account,
            job.qos,
            job.setup,
        )
        groups.setdefault(shape, []).append(member_run)
    parallelism = prepared.plan.parallelism
    max_size = _max_array_size(prepared)
    arrays: list[dict[str, Any]] = []
    manifests: list[dict[str, Any]] = []
    for group in groups.values():
        try:
            submitted = prepared.scheduler.submit_array(
                [m.job for m in group], run_job, parallelism, max_size
            )
        except SchedulerError as exc:
            for member_run in group:
                member_run.run.update(state="submit_failed", note=exc.message)
            raise
        for member_run, sub in zip(group, submitted, strict=True):
            write_script(member_run.run.file("sbatch.sh"), sub.script)
            member_run.manifest = member_run.run.update(
                state="submitted", job_id=sub.job_id, scheduler_folder=member_run.job.folder
            )
            manifests.append(member_run.manifest)
        for array_id in dict.fromkeys(s.job_id.split("_", 1)[0] for s in submitted):
            size = sum(1 for s in submitted if s.job_id.split("_", 1)[0] == array_id)
            arrays.append({"job_id": array_id, "size": size})
    if prepared.sweep_run is not None:
        record = prepared.sweep_record()
        record.update(
            state="submitted",
            arrays=arrays,
            submissions=len(arrays),
            max_array_size=max_size,
            confirmation=confirmation,
        )
        write_json_atomic(prepared.sweep_run.file(SWEEP_FILE), record)
        write_script(
            prepared.sweep_run.file("sbatch.sh"), prepared.members[0].run.file("sbatch.sh").read_text()
        )
    return manifests


def refuse(prepared: Prepared, confirmation: dict[str, Any]) -> None:
    """Record that the user (or the lack of a terminal) declined the submission."""
    for member_run in prepared.members:
        member_run.run.update(
            state="not_submitted", note="declined at the cost gate", confirmation=confirmation
        )
    if prepared.sweep_run is not None:
        record = prepared.sweep_record()
        record.update(state="not_submitted", confirmation=confirmation)
        write_json_atomic(prepared.sweep_run.file(SWEEP_FILE), record)


def mark_dry_run(prepared: Prepared) -> dict[str, Any]:
    for member_run in prepared.members:
        write_script(member_run.run.file("sbatch.sh"), prepared.scheduler.render(member_run.job))
        member_run.manifest = member_run.run.update(state="dry_run")
    return prepared.manifest
