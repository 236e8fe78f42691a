"""What a submission is made of: the config's members, the captured code, and the duplicates left out.

Nothing is written here but the (shared, content-addressed) snapshot; reproduce.py builds the same
SubmissionPlan from past records instead of a config file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.config.experiment import Member, check_members_differ, load_experiment
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.placeholders import placeholders
from clusterrun.config.profiles import DEFAULT, ClusterProfile
from clusterrun.config.render import render_command, render_env
from clusterrun.config.sections import Sweep
from clusterrun.config.sweep import describe as describe_values
from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.init import argtypes
from clusterrun.inputs import configedit, gitstate, snapshot
from clusterrun.inputs.outputnames import absolute_outputs, is_output_name
from clusterrun.records import config_copy
from clusterrun.records import index as registry_index
from clusterrun.records.registry import ADHOC_DIR, Registry
from clusterrun.scheduler import get_scheduler, resolve_backend
from clusterrun.services.dependencies import with_run_ids
from clusterrun.services.notes import check_tags


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
    after: list[str] = field(default_factory=list)  # --after RUN_ID: start once these runs ended
    afterok: list[str] = field(default_factory=list)  # --afterok RUN_ID: ... once they succeeded
    argv: list[str] = field(default_factory=list)
    cwd: Path | None = None
    tags: list[str] = field(default_factory=list)  # --tag T: written to each run's notes.jsonl


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


def check_member_limit(backend: str, count: int) -> None:
    """Refuse more members than the backend takes in one submission (the local backend: 64), or than
    the scheduler holds at once (SLURM's MaxJobCount: sbatch would keep being refused); shared by
    submit and reproduce."""
    limits = get_scheduler(backend).limits() if count > 1 else None
    if limits is None:
        return
    most = limits.max_members
    if most is not None and count > most:
        raise UsageError(
            f"{count} members would all start at once on this machine ({backend} backend)",
            hint=f"use SLURM for sweeps over {most} members, or narrow the sweep",
        )
    # SLURM refuses a submission that would bring its jobs to MaxJobCount: one less fits an empty queue
    if limits.max_jobs is not None and count >= limits.max_jobs:
        most = limits.max_jobs - 1
        raise UsageError(
            f"{count:,} members, but the cluster takes at most {most:,} jobs at once (MaxJobCount="
            f"{limits.max_jobs:,}; each task of a job array counts): sbatch would refuse the sweep",
            hint=f"submit it in parts of at most {most:,} members (narrow the sweep's axes), or ask the "
            "cluster's admins about MaxJobCount",
        )


def finished_index(
    registry: Registry, backend: str | None = None, snapshot_id: str | None = None
) -> dict[tuple[str, str], str]:
    """(snapshot id, config hash) -> id of a run that completed with them (the newest; on `backend`
    only, when given: a run finished on this machine does not stand for one on the cluster; of
    `snapshot_id` only, when given: a submit looks up its own code's runs)."""
    # no manifest opened unless it changed
    return registry_index.finished(registry.root, backend, snapshot_id)


def ended_ago(registry: Registry, run_id: str) -> str:
    """'2 h ago': when the run's last state change was recorded ('' when unknown)."""
    try:
        history = registry.get(run_id).load_manifest().state_history
        at = datetime.fromisoformat(history[-1].at) if history else None
    except (ClusterrunError, ValueError):
        return ""
    if at is None:
        return ""
    seconds = max(0.0, time.time() - at.timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def duplicate_error(registry: Registry, original: str) -> UsageError:
    """A single run identical to a finished one, in words about that one run."""
    ago = ended_ago(registry, original)
    return UsageError(
        f"this run is identical to {original} (finished{' ' + ago if ago else ''}): the same code, config "
        "and seed on the same backend",
        hint=f"pass --force to run it again, or see its results: clusterrun show {original}",
    )


def drop_duplicates(
    members: list[MemberPlan], snapshot_id: str, registry: Registry, force: bool, backend: str | None = None
) -> tuple[list[MemberPlan], list[dict[str, Any]]]:
    """Leave out members identical to a finished run on the same backend (same code and resolved config),
    or to each other."""
    if force:
        return members, []
    index = finished_index(registry, backend, snapshot_id)
    kept: list[MemberPlan] = []
    skipped: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for position, member in enumerate(members):
        digest = member.spec.config_hash()
        existing = index.get((snapshot_id, digest))
        if existing and not _still_finished(registry, existing, snapshot_id, digest, backend):
            existing = None  # the index's word is checked against the run's own record before a verdict
        if existing:
            skipped.append({"values": member.values, "duplicate_of": existing})
        elif digest in seen:
            skipped.append({"values": member.values, "duplicate_of": f"member {seen[digest]} of this sweep"})
        else:
            seen[digest] = position
            kept.append(member)
    return kept, skipped


def _still_finished(
    registry: Registry, run_id: str, snapshot_id: str, digest: str, backend: str | None
) -> bool:
    """The run's manifest says what the index said: completed, with this code and config (on `backend`)."""
    try:
        manifest = registry.get(run_id).load_manifest()
    except ClusterrunError:
        return False
    return (
        manifest.state == "completed"
        and manifest.snapshot.id == snapshot_id
        and manifest.config_hash == digest
        and backend in (None, manifest.backend)
    )


def _skipped_text(skipped: list[dict[str, Any]]) -> str:
    """One warning for the members left out as duplicates: the first three by their values, with the
    run each one duplicates, and how to submit them all the same."""

    def values(item: dict[str, Any]) -> str:
        shown = " ".join(f"{key}={value}" for key, value in (item["values"] or {}).items())
        return shown or "(base config)"

    listed = "; ".join(f"{values(item)} (= {item['duplicate_of']})" for item in skipped[:3])
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return (
        f"skipped {len(skipped)} member(s) that duplicate a finished run with the same code and config: "
        f"{listed}{more}; --force submits them too"
    )


def _writes_outside(members: Sequence[Member], root: Path) -> list[str]:
    """Absolute paths outside the registry that the command gives as where its program writes (an
    output directory named by an option or variable: inputs/outputnames.py): a run writing there is not
    alone in it (its smoke test, the next run, a sweep's other members write there too), and what it
    writes is neither listed, kept nor compared. Said once per path, with how many members share it."""
    base = members[0].spec
    named = [t for t in [*base.command, *base.env] if is_output_name(t.split("=", 1)[0])]
    if not named:  # nothing named for output: no member needs rendering
        return []
    stand_in = str(root / "<run>")  # {run_dir} is inside the registry
    shared: dict[tuple[str, str], int] = {}
    for member in members:
        argv = render_command(member.spec, stand_in)
        for where, path in absolute_outputs(argv, render_env(member.spec, stand_in)):
            if not Path(os.path.normpath(path)).is_relative_to(root):
                shared[(where, path)] = shared.get((where, path), 0) + 1
    said = []
    for (where, path), count in shared.items():
        who = (
            f"all {count} members of the sweep and the smoke test"
            if count > 1
            else "the run, its smoke test and every later run of this config"
        )
        said.append(
            f"{where} {path} is outside the run's directory: {who} write there, overwriting each other's "
            "files, and clusterrun neither lists, keeps nor compares them; give a relative path (each "
            "run's own, under its working directory)"
        )
    return said


def _arguments_refused(
    members: Sequence[Member], code: Path, root: Path, skip_reason: str | None
) -> list[str]:
    """Refuse a job whose script would refuse its own arguments (init/argtypes.py): `--epochs 2.5` to
    an argparse `type=int`. The smoke test cannot see it when it sets that argument itself (smoke.params:
    epochs=1), and the job would fail at its first line on the cluster. With the smoke test skipped
    (--skip-smoke REASON, the way past any pre-flight check), it is a warning instead."""
    scripts: dict[str, Any] = {}  # by the token naming it: read once for a sweep
    found: list[str] = []
    first: tuple[Member, argtypes.BadArgument, list[str]] | None = None
    for member in members:
        argv = render_command(member.spec, str(root / "<run>"))
        for bad in argtypes.bad_arguments(code / member.spec.cwd, argv, scripts):
            names = _given_by(member.spec, bad.index)
            shown = [
                f"params.{n}={member.spec.params[n]}" for n in names if f"params.{n}" not in member.values
            ]
            where = (
                f"sweep member {member.index} ({describe_values(member.values)}): " if member.values else ""
            )
            found.append(f"{where}{bad}" + (f" ({', '.join(shown)})" if shown else ""))
            first = first or (member, bad, names)
    if first is None:
        return []
    member, bad, names = first
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    said = f"{found[0]}{more}: the job would stop at its first line"
    if skip_reason is not None:
        return [f"{said} (sent all the same: the smoke test is skipped)"]
    smoke = {n: member.spec.smoke.params[n] for n in names if n in member.spec.smoke.params}
    if smoke:
        sets = ", ".join(f"{n}={v}" for n, v in smoke.items())
        said += f", and the smoke test, which sets {sets}, would not see it"
    if bad.type == "choices":
        also = f"add {bad.value!r} to the choices of {bad.flag} in {bad.script}"
    else:
        also = f"change the type= of {bad.flag} in {bad.script}"
    raise UsageError(said, hint=f"{_type_fix(member, bad, names)}, or {also}")


def _given_by(spec: ExperimentSpec, index: int) -> list[str]:
    """The params that give the command's token at `index` ([] when it is literal)."""
    if index >= len(spec.command):
        return []
    return [name for name in placeholders(spec.command[index]) if name in spec.params]


def _type_fix(member: Member, bad: argtypes.BadArgument, names: list[str]) -> str:
    key = f"params.{names[0]}" if len(names) == 1 else ""
    swept = bool(key) and key in member.values
    if bad.type == "choices":
        verb, which = ("sweep", "over") if swept else ("give", "one of")
        return f"{verb} {key or bad.flag} {which} its choices ({argtypes.listed(bad.choices)})"
    kind = argtypes.article(bad.type)
    if swept:
        return f"sweep {key} over {'integers' if bad.type == 'int' else 'numbers'}"
    if key and bad.type == "int":
        try:
            return f"give it {kind}: {key}={int(float(bad.value))}"
        except (ValueError, OverflowError):
            pass
    return f"give {key or bad.flag} {kind}"


def _cwd_refused(
    spec: ExperimentSpec, code: Path, top: str, cwd: Path, given: str, config_path: Path | None = None
) -> None:
    """Refuse a config whose `cwd` is not a folder of the code, or whose script is not where the command
    runs but in the folder the user submits from, or the config's own project folder (a project in a
    subfolder of the repository, its config written without `cwd:`): the smoke test would fail on a
    missing file. `code`: the snapshot; `given`: how the user named the config (an override names the
    fix for it); `config_path`: the config file (projects/vision/configs/x.yaml: projects/vision/)."""
    if not (code / spec.cwd).is_dir():
        raise UsageError(
            f"cwd: {spec.cwd} is not a folder of the commit the run uses (the command would run there)",
            hint="give a folder git tracks, relative to the repository's top, e.g. cwd: "
            + (cwd.relative_to(top).as_posix() if cwd != Path(top) and cwd.is_relative_to(top) else "."),
        )
    position = argtypes.entry_script(spec.command)
    script = spec.command[position] if position is not None else ""
    if not script or "{" in script or os.path.isabs(script) or os.path.lexists(code / spec.cwd / script):
        return
    places = [(cwd, "where you submit from")]
    if config_path is not None:  # the config's folder, or the project folder holding its configs/
        places += [
            (config_path.parent, "beside the config"),
            (config_path.parent.parent, "the config's project"),
        ]
    for folder, why in places:
        folder = folder.resolve()
        here = folder.relative_to(top).as_posix() if folder.is_relative_to(top) else ""
        if here and here != spec.cwd and os.path.lexists(code / here / script):
            where = "the repository's top" if spec.cwd == "." else f"its folder {spec.cwd}/"
            raise UsageError(
                f"{script} is not where the command runs ({where}) but in {here}/, {why}",
                hint=f"add `cwd: {here}` to {given} (or pass cwd={here}): the command then runs in {here}/ "
                "of the run's copy of the code, and its relative paths mean what they mean there",
            )


def plan(request: SubmitRequest, registry: Registry) -> SubmissionPlan:
    """Validate the request and capture the code: nothing is written but the (shared) snapshot."""
    portable.require_posix("clusterrun submit")  # before anything is written (Windows: use WSL)
    check_skip_reason(request.skip_smoke_reason)
    request.tags = check_tags(request.tags)
    cwd = (request.cwd or Path.cwd()).resolve()
    experiment = load_experiment(request.config, request.overrides, request.sweep_axes, request.cluster, cwd)
    inputs = check_members_differ(experiment.members)  # a sweep that changes nothing is refused here
    inputs += [
        f"params.{name} is not used by the command or env: it changes nothing "
        f"(put {{{name}}} in the command, or export it: env: {{{name.upper()}: '{{{name}}}'}})"
        for name in experiment.base.unused_params()
    ]
    # an ad-hoc run's --smoke-args replace the command's arguments by design: nothing to say
    gaps = experiment.base.smoke_command_gaps() if request.config.parent.name != ADHOC_DIR else []
    if gaps:
        them = "it" if len(gaps) == 1 else "them"
        inputs.append(
            f"smoke.command leaves out {', '.join(gaps)} of the command: the smoke test never tries "
            f"{them} (copy {them} into smoke.command)"
        )
    backend = resolve_backend(request.backend)
    git = gitstate.capture(cwd)
    config_path = request.config if request.config.is_absolute() else cwd / request.config
    hint = None
    if git.dirty and not request.allow_dirty:
        hint = configedit.dirty_config_hint(git, config_path, str(request.config), request.overrides)
    gitstate.require_clean(git, request.allow_dirty, hint)
    warnings: list[str] = []
    if git.dirty:
        warnings.append(f"uncommitted changes in {len(git.dirty_files)} file(s) are saved as git.patch")
    # the submitted config is recorded whole with every run: its own absence from the snapshot loses
    # nothing (a command that reads it is named by the snapshot's notes, as any path it names)
    own = configedit.relative_config(config_path, git.root)
    untracked = [f for f in git.untracked_files if f != own]
    if untracked:
        shown = ", ".join(untracked[:5]) + (" ..." if len(untracked) > 5 else "")
        warnings.append(f"{len(untracked)} untracked file(s) are NOT in the snapshot: {shown}")
    if git.dirty_submodules:
        warnings.append(
            f"submodule(s) {', '.join(git.dirty_submodules)} differ from the commit the superproject records "
            "(uncommitted changes or another commit checked out): NOT in the snapshot, which holds the "
            "recorded commit; commit in the submodule, then 'git add' it in the superproject and commit"
        )
    warnings += inputs
    registry.ensure()
    registry.root = registry.root.resolve()
    warnings += _writes_outside(experiment.members, registry.root)
    snap = snapshot.create(Path(git.root), git.commit, git.patch, registry.root)
    top = str(Path(git.root).resolve())
    _cwd_refused(experiment.base, snap.path, top, cwd, str(request.config), config_path)
    if experiment.base.config_file is not None:  # its copy can be made: the file and its keys are there
        config_copy.render(experiment.base, snap.path, str(registry.root / "<run>"))
    warnings += _arguments_refused(experiment.members, snap.path, registry.root, request.skip_smoke_reason)
    members = [
        MemberPlan(with_run_ids(m.spec, registry, request.after, request.afterok), m.values)
        for m in experiment.members
    ]
    single = len(members) == 1 and not experiment.sweep_axes
    members, skipped = drop_duplicates(members, snap.id, registry, request.force, backend)
    if single and skipped and not members:
        raise duplicate_error(registry, str(skipped[0]["duplicate_of"]))
    if skipped:
        warnings.append(_skipped_text(skipped))
    if not members:
        raise UsageError(
            f"nothing to submit: every member of the sweep duplicates a finished run with the same code and "
            f"config on the {backend} backend",
            hint="see them with 'clusterrun show <run-id>', or pass --force to run them again",
        )
    check_member_limit(backend, len(members))
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
