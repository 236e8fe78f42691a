"""Reproduce a past run (or a whole sweep) from its records alone, as a new submission linked to the
original; when asked to wait, judge each (original, reproduction) pair with a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clusterrun import portable
from clusterrun.analysis.compare import REPRODUCED, Comparison
from clusterrun.config.models import spec_from_data
from clusterrun.config.profiles import DEFAULT, ClusterProfile, load_profile, search_dirs
from clusterrun.config.sections import Sweep
from clusterrun.errors import ClusterrunError, ExitStatus, GitError, UsageError
from clusterrun.inputs import snapshot as snapshots
from clusterrun.inputs.gitstate import GitState, open_repo
from clusterrun.records import store
from clusterrun.records.models import Manifest, SweepRecord
from clusterrun.records.paths import snapshot_path
from clusterrun.records.registry import Registry, Run
from clusterrun.scheduler import resolve_backend
from clusterrun.scheduler.registry import AUTO, lookup, names
from clusterrun.services import Notify, quiet
from clusterrun.services.compare import check_tolerances, compare, compare_runs, recorded_patch
from clusterrun.services.plan import MemberPlan, SubmissionPlan, check_member_limit, check_skip_reason
from clusterrun.services.prepare import prepare_plan
from clusterrun.services.status import wait as wait_for_runs
from clusterrun.services.submit import Confirm, Review, SubmitResult, finish, refuse_expensive


@dataclass
class ReproduceRequest:
    run_id: str  # a run, or a sweep (every member, as one new array)
    backend: str = "auto"
    argv: list[str] = field(default_factory=list)
    skip_smoke_reason: str | None = None
    rtol: float = 0.0  # the verdict's tolerances (exact equality by default)
    atol: float = 0.0


@dataclass
class ReproduceResult:
    """The new submission and, once both runs of every pair have ended, a verdict per pair."""

    submission: SubmitResult
    pairs: list[tuple[str, str]]  # (original, reproduction)
    verdicts: list[Comparison] = field(default_factory=list)  # one per pair, after waiting
    warnings: list[str] = field(default_factory=list)  # of the status refresh before one pair's verdict

    @property
    def waited(self) -> bool:
        return bool(self.verdicts)

    @property
    def reproduced(self) -> bool:
        return self.waited and all(v.verdict == REPRODUCED for v in self.verdicts)

    @property
    def run_ids(self) -> list[str]:
        return [new for _original, new in self.pairs]

    def as_record(self) -> dict[str, Any]:
        """What `--json` prints: the submission's record, or the verdict(s)."""
        if not self.waited:
            return self.submission.as_record()
        if len(self.pairs) == 1:
            return self.verdicts[0].as_record()
        return {"verdicts": [v.as_record() for v in self.verdicts]}


def recorded_git(run: Run, manifest: Manifest) -> GitState:
    git = manifest.git
    return GitState(
        root=git.root,
        commit=git.commit,
        branch=git.branch,
        dirty_files=tuple(git.dirty_files),
        untracked_files=tuple(git.untracked_files),
        dirty_submodules=tuple(git.dirty_submodules),
        patch=recorded_patch(run, manifest),
    )


def recorded_snapshot(manifest: Manifest, git: GitState, registry: Registry) -> snapshots.Snapshot:
    """The run's own snapshot; rebuilt from (commit, patch) only if it was deleted and git still has it."""
    snap = manifest.snapshot
    # never code from outside the registry's snapshot store, whatever the record says (OutsideRegistry)
    path = snapshot_path(snap.path, registry.root, f"run {manifest.run_id}: snapshot.path")
    sid = snapshots.snapshot_id(git.commit, git.patch)
    if snap.id != sid:
        raise ClusterrunError(
            f"run {manifest.run_id}: its snapshot id does not match its commit and patch",
            hint="the record was edited by hand; it cannot be reproduced exactly",
        )
    if (path / snapshots.MARKER).is_file() and not snapshots.damage(path):
        if git.root:  # one made before git views gets one: git in the job says the run's commit
            snapshots.ensure_git_view(Path(git.root), git.commit, path)
        return snapshots.Snapshot(sid, path, reused=True, digest=snapshots.recorded_digest(path))
    try:
        repo = open_repo(Path(git.root) if git.root else Path.cwd())
        repo.commit(git.commit)
    except (GitError, ValueError) as exc:
        raise ClusterrunError(
            f"the snapshot of run {manifest.run_id} is gone (or was modified in place) and commit "
            f"{git.commit[:12]} is not in the repository",
            hint="restore the snapshot directory from a backup, or fetch the commit "
            f"(git fetch origin {git.commit})",
            exit_status=ExitStatus.ENVIRONMENT,
        ) from exc
    return snapshots.create(Path(str(repo.working_tree_dir)), git.commit, git.patch, registry.root)


_NEVER_RAN = {
    "dry_run": "a dry run (--dry-run)",
    "not_submitted": "never submitted (declined at the cost gate)",
}


def _check_it_ran(run_id: str, manifest: Manifest) -> None:
    """A run that never ran has no results a reproduction could match: refused, with the submit to run."""
    never = _NEVER_RAN.get(manifest.state)
    if never is None:
        return
    config = manifest.config_file or "its config"
    overrides = " ".join(manifest.overrides)
    raise UsageError(
        f"{run_id} is {never}: it never ran, so there is nothing to reproduce",
        hint=f"run it: clusterrun submit {config}{' ' + overrides if overrides else ''}",
    )


def _backend(asked: str, recorded: str, run_id: str, warnings: list[str]) -> str:
    """The backend a reproduction runs on: the one asked for, else the one the original ran on (a local
    run reproduced locally, though SLURM is here too), else `auto`'s choice, said in a warning."""
    if asked != AUTO or not recorded:
        return resolve_backend(asked)
    if recorded in names() and lookup(recorded).probe():
        return recorded
    chosen = resolve_backend(AUTO)
    if chosen != recorded:
        warnings.append(
            f"{run_id} ran on the {recorded} backend, which is not available here: reproduced on {chosen}"
        )
    return chosen


def plan_reproduction(
    registry: Registry, run_id: str, backend: str, argv: list[str], skip_smoke_reason: str | None = None
) -> SubmissionPlan:
    """A new submission from records alone: one run, or every member of a sweep (as one array)."""
    portable.require_posix("clusterrun reproduce")  # before anything is written (Windows: use WSL)
    check_skip_reason(skip_smoke_reason)
    registry.ensure()
    registry.root = registry.root.resolve()
    sweep: SweepRecord | None = None
    run_id = registry.resolve(run_id, allow_sweep=True)  # a prefix or @latest may name a sweep
    if registry.is_sweep(run_id):
        sweep = store.read_sweep(registry.get(run_id, allow_sweep=True).path)
        originals = [registry.get(m.run_id) for m in sweep.members]
    else:
        originals = [registry.get(run_id)]
    if not originals:
        raise ClusterrunError(f"sweep {run_id} has no members to reproduce")
    manifests = [run.load_manifest() for run in originals]
    first, first_manifest = originals[0], manifests[0]
    warnings: list[str] = []
    backend = _backend(backend, first_manifest.backend, run_id, warnings)
    check_member_limit(backend, len(originals))  # as submit does: the local backend takes 64 at most
    _check_it_ran(run_id, first_manifest)  # (after the size: a dry run of a sweep too large says that first)
    git = recorded_git(first, first_manifest)
    snap = recorded_snapshot(first_manifest, git, registry)
    recorded = first_manifest.snapshot.digest  # "" in records before 2026-12
    if recorded and snap.digest and recorded != snap.digest:
        raise ClusterrunError(
            f"the code of run {first.id} cannot be restored exactly: the snapshot's content digest is "
            f"{snap.digest[:12]}, the run recorded {recorded[:12]}",
            hint="restore runs/.snapshots from a backup; the commit alone no longer gives the same files",
            exit_status=ExitStatus.ENVIRONMENT,
        )
    members = []
    for run, manifest in zip(originals, manifests, strict=True):
        if manifest.snapshot.id != snap.id:
            raise ClusterrunError(f"sweep {run_id}: member {run.id} ran other code than its siblings")
        spec = spec_from_data(manifest.config.to_data(), f"{run.manifest_path} (config)")
        members.append(MemberPlan(spec, dict(manifest.sweep_values), {"reproduces": run.id}))
    return SubmissionPlan(
        name=members[0].spec.name,
        members=members,
        git=git,
        snapshot=snap,
        backend=backend,
        config_file=first_manifest.config_file,
        overrides=list(first_manifest.overrides),
        argv=argv,
        profile=_recorded_profile(sweep, git, first_manifest.config_file, warnings),
        skip_smoke_reason=skip_smoke_reason,
        use_smoke_cache=False,  # the machine may have changed since: smoke-test it for real
        sweep=_recorded_section(sweep),
        sweep_axes=list(sweep.axes) if sweep else [],
        sweep_extra=_sweep_fields(sweep, run_id),
        parallelism=sweep.parallelism if sweep else None,
        force_sweep=sweep is not None,
        warnings=warnings,
    )


def _sweep_fields(sweep: SweepRecord | None, sweep_id: str) -> dict[str, Any]:
    """What the new sweep record takes over from the original's as it stands: its `sweep:` section,
    metric and mode (parallelism and axes go through the plan)."""
    if sweep is None:
        return {}
    return {"reproduces": sweep_id, "sweep": sweep.sweep, "metric": sweep.metric, "mode": sweep.mode}


def _recorded_section(sweep: SweepRecord | None) -> Sweep | None:
    """The original's `sweep:` section, validated (None when it had none or it no longer validates:
    the record keeps it verbatim either way)."""
    if sweep is None or sweep.sweep is None:
        return None
    try:
        return Sweep.model_validate(sweep.sweep)
    except ValidationError:
        return None


def _recorded_profile(
    sweep: SweepRecord | None, git: GitState, config_file: str, warnings: list[str]
) -> ClusterProfile:
    """A sweep's cluster profile, by the name it recorded (its max_array_size splits the arrays the same
    way); the default profile when it had none or the profile is gone (with a warning)."""
    name = sweep.cluster if sweep is not None else None
    if not name or name == DEFAULT.name:
        return DEFAULT
    root = Path(git.root) if git.root else Path.cwd()
    try:
        return load_profile(name, search_dirs(root / config_file if config_file else None, root))
    except UsageError as exc:
        warnings.append(f"the sweep's cluster profile {name!r} is not found ({exc.message}); using defaults")
        return DEFAULT


def reproduce(
    registry: Registry,
    request: ReproduceRequest,
    *,
    confirm: Confirm = refuse_expensive,
    notify: Notify = quiet,
    review: Review | None = None,
    wait: bool = False,
) -> ReproduceResult:
    """Submit the run (or sweep) again from its records; with `wait`, wait for both runs of every pair
    and compare them. `notify` hears of the submission (not of the smoke tests)."""
    check_tolerances(request.rtol, request.atol)
    with registry.writing():  # the registry's umask while it writes (records/perms.py)
        plan = plan_reproduction(
            registry, request.run_id, request.backend, request.argv, request.skip_smoke_reason
        )
        # its smoke tests run without progress, as always; no dry run: members made after them submitting
        prepared = prepare_plan(plan, registry, submitting=True)
        submission = finish(registry, prepared, confirm=confirm, notify=notify, review=review)
    pairs = [(str(m.plan.extra["reproduces"]), m.run.id) for m in prepared.members]
    if not wait or submission.outcome != "submitted":
        return ReproduceResult(submission, pairs)
    wait_for_runs(registry, [run for pair in pairs for run in pair])
    rtol, atol = request.rtol, request.atol
    if len(pairs) == 1:
        report = compare(registry, pairs[0][0], pairs[0][1], rtol=rtol, atol=atol)
        return ReproduceResult(submission, pairs, [report.comparison], report.warnings)
    verdicts = [compare_runs(registry, original, new, rtol=rtol, atol=atol) for original, new in pairs]
    return ReproduceResult(submission, pairs, verdicts)
