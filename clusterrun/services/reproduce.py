"""Reproduce a past run from its record alone, and judge whether the results match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterrun.analysis.compare import Comparison, compare
from clusterrun.config.spec import spec_from_data
from clusterrun.errors import ClusterrunError, ExitStatus, GitError
from clusterrun.inputs import snapshot as snapshots
from clusterrun.inputs.gitstate import GitState, open_repo
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import read_json
from clusterrun.records.registry import SWEEP_FILE, Registry, Run
from clusterrun.scheduler import resolve_backend
from clusterrun.services.submit import (
    MemberPlan,
    Notify,
    Prepared,
    SubmissionPlan,
    check_skip_reason,
    prepare_plan,
)


def _patch(run: Run, manifest: dict[str, Any]) -> str:
    name = manifest.get("git", {}).get("patch_file")
    if not name:
        return ""
    try:
        return run.file(str(name)).read_text()
    except OSError:
        raise ClusterrunError(
            f"run {run.id} recorded uncommitted changes but its {name} is missing",
            hint="the record is incomplete; the run cannot be reproduced exactly",
            exit_status=ExitStatus.ENVIRONMENT,
        ) from None


def recorded_git(run: Run, manifest: dict[str, Any]) -> GitState:
    git = manifest.get("git", {})
    return GitState(
        root=str(git.get("root", "")),
        commit=str(git.get("commit", "")),
        branch=str(git.get("branch", "")),
        dirty_files=tuple(git.get("dirty_files", [])),
        untracked_files=tuple(git.get("untracked_files", [])),
        dirty_submodules=tuple(git.get("dirty_submodules", [])),
        patch=_patch(run, manifest),
    )


def recorded_snapshot(manifest: dict[str, Any], git: GitState, registry: Registry) -> snapshots.Snapshot:
    """The run's own snapshot; rebuilt from (commit, patch) only if it was deleted and git still has it."""
    snap = manifest.get("snapshot", {})
    path = Path(str(snap.get("path", "")))
    sid = snapshots.snapshot_id(git.commit, git.patch)
    if snap.get("id") != sid:
        raise ClusterrunError(
            f"run {manifest.get('run_id')}: its snapshot id does not match its commit and patch",
            hint="the record was edited by hand; it cannot be reproduced exactly",
        )
    if (path / snapshots.MARKER).is_file() and not snapshots.damage(path):
        return snapshots.Snapshot(sid, path, reused=True, digest=snapshots.recorded_digest(path))
    try:
        repo = open_repo(Path(git.root) if git.root else Path.cwd())
        repo.commit(git.commit)
    except (GitError, ValueError) as exc:
        raise ClusterrunError(
            f"the snapshot of run {manifest.get('run_id')} is gone (or was modified in place) and commit "
            f"{git.commit[:12]} is not in the repository",
            hint="restore the snapshot directory from a backup, or fetch the commit "
            f"(git fetch origin {git.commit})",
            exit_status=ExitStatus.ENVIRONMENT,
        ) from exc
    return snapshots.create(Path(str(repo.working_tree_dir)), git.commit, git.patch, registry.root)


def plan_reproduction(
    registry: Registry, run_id: str, backend: str, argv: list[str], skip_smoke_reason: str | None = None
) -> SubmissionPlan:
    """A new submission from records alone: one run, or every member of a sweep (as one array)."""
    check_skip_reason(skip_smoke_reason)
    registry.ensure()
    registry.root = registry.root.resolve()
    sweep: dict[str, Any] | None = None
    if registry.is_sweep(run_id):
        sweep = read_json(registry.get(run_id, allow_sweep=True).file(SWEEP_FILE))
        originals = [registry.get(str(m["run_id"])) for m in sweep.get("members", [])]
    else:
        originals = [registry.get(run_id)]
    if not originals:
        raise ClusterrunError(f"sweep {run_id} has no members to reproduce")
    manifests = [run.manifest() for run in originals]
    first, first_manifest = originals[0], manifests[0]
    git = recorded_git(first, first_manifest)
    snap = recorded_snapshot(first_manifest, git, registry)
    recorded = str(first_manifest.get("snapshot", {}).get("digest") or "")
    if recorded and snap.digest and recorded != snap.digest:
        raise ClusterrunError(
            f"the code of run {first.id} cannot be restored exactly: the snapshot's content digest is "
            f"{snap.digest[:12]}, the run recorded {recorded[:12]}",
            hint="restore runs/.snapshots from a backup; the commit alone no longer gives the same files",
            exit_status=ExitStatus.ENVIRONMENT,
        )
    members = []
    for run, manifest in zip(originals, manifests, strict=True):
        if manifest.get("snapshot", {}).get("id") != snap.id:
            raise ClusterrunError(f"sweep {run_id}: member {run.id} ran other code than its siblings")
        spec = spec_from_data(manifest.get("config", {}), f"{run.manifest_path} (config)")
        members.append(MemberPlan(spec, dict(manifest.get("sweep_values") or {}), {"reproduces": run.id}))
    return SubmissionPlan(
        name=members[0].spec.name,
        members=members,
        git=git,
        snapshot=snap,
        backend=resolve_backend(backend),
        config_file=str(first_manifest.get("config_file", "")),
        overrides=list(first_manifest.get("overrides", [])),
        argv=argv,
        skip_smoke_reason=skip_smoke_reason,
        use_smoke_cache=False,  # the machine may have changed since: smoke-test it for real
        sweep_axes=list(sweep.get("axes", [])) if sweep else [],
        sweep_extra={"reproduces": run_id} if sweep else {},
        force_sweep=sweep is not None,
    )


def prepare_reproduction(
    registry: Registry,
    run_id: str,
    backend: str,
    argv: list[str],
    notify: Notify = lambda _m: None,
    skip_smoke_reason: str | None = None,
) -> Prepared:
    plan = plan_reproduction(registry, run_id, backend, argv, skip_smoke_reason)
    return prepare_plan(plan, registry, notify)


def _json(run: Run, name: str) -> dict[str, Any]:
    try:
        data = read_json(run.file(name))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _env(run: Run) -> dict[str, Any]:
    """The environment the job ran in: python_env.json (the interpreter the command ran after its setup
    lines, and its packages), over job_env.json (the node), over env.json (the submitting machine, for
    runs made before the job recorded its own)."""
    env = _json(run, "env.json")
    job = _json(run, "job_env.json")
    for key in ("host", "platform", "gpus"):
        if key in job:
            env[key] = job[key]
    if "python" in job:
        env["python"] = {**env.get("python", {}), **job["python"]}
    probe = _json(run, "python_env.json")
    if probe.get("python"):
        env["python"] = {**env.get("python", {}), **probe["python"]}
        env["packages"] = probe.get("packages", {})
        if probe.get("gpus"):
            env["gpus"] = probe["gpus"]
        env["environment_source"] = "job"
    return env


def compare_runs(
    registry: Registry, id_a: str, id_b: str, rtol: float = 0.0, atol: float = 0.0
) -> Comparison:
    run_a, run_b = registry.get(id_a), registry.get(id_b)
    manifest_a, manifest_b = run_a.manifest(), run_b.manifest()
    return compare(
        manifest_a,
        summaries.read(run_a),
        _env(run_a),
        manifest_b,
        summaries.read(run_b),
        _env(run_b),
        rtol=rtol,
        atol=atol,
        patch_a=_patch(run_a, manifest_a),
        patch_b=_patch(run_b, manifest_b),
    )
