"""What a submission is made of: the config's members, the captured code, and the duplicates left out.

Nothing is written here but the (shared, content-addressed) snapshot; reproduce.py builds the same
SubmissionPlan from past records instead of a config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config.experiment import check_members_differ, load_experiment
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.profiles import DEFAULT, ClusterProfile
from clusterrun.config.sections import Sweep
from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.inputs import gitstate, snapshot
from clusterrun.records.registry import Registry
from clusterrun.scheduler import get_scheduler, resolve_backend


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


def check_skip_reason(reason: str | None) -> None:
    if reason is not None and not reason.strip():
        raise UsageError("--skip-smoke needs a reason", hint='e.g. --skip-smoke "tested on a GPU node"')


def finished_index(registry: Registry) -> dict[tuple[str, str], str]:
    """(snapshot id, config hash) -> id of a run that completed with them."""
    index: dict[tuple[str, str], str] = {}
    for run in registry.runs():
        try:
            manifest = run.load_manifest()
        except ClusterrunError:
            continue
        if manifest.state == "completed":
            index.setdefault((manifest.snapshot.id, manifest.config_hash), run.id)
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
    most = get_scheduler(backend).limits().max_members if len(members) > 1 else None
    if most is not None and len(members) > most:
        raise UsageError(
            f"{len(members)} members would all start at once on this machine ({backend} backend)",
            hint=f"use SLURM for sweeps over {most} members, or narrow the sweep",
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
