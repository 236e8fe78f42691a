"""A sweep's members are made over several processes (services/prepare.py, _Records.make_many, through
services/fanout.py), and what is made is what one process makes: every member once, its id in order of
position, its records its own; a worker that fails has its share finished by the submitting process
without a member made twice; a submission that fails leaves none of the members its workers made."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusterrun.errors import DiskFull
from clusterrun.records import memberfiles, store
from clusterrun.records.registry import Registry
from clusterrun.services import fanout, prepare, quiet
from clusterrun.services.plan import plan
from clusterrun.services.submit import SubmitRequest, approve, submit

MEMBERS = 40  # under the local backend's limit of 64, over the MIN_ITEMS set below: spread over workers


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes whatever this machine's cores (the same code runs on one core as on many)."""
    monkeypatch.setenv(fanout.ENV, "2")
    monkeypatch.setattr(fanout.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(fanout, "MIN_ITEMS", 16)
    for thread in threading.enumerate():  # left by a test before that drew a tqdm bar in this process
        if thread.name == "tqdm_monitor" and callable(getattr(thread, "exit", None)):
            thread.exit()
    # fanout never forks beside another thread: one left running here would make this test pointless
    assert fanout.workers_for(MEMBERS - 1) == 2, [t.name for t in threading.enumerate()]


def _sweep(project: Path) -> SubmitRequest:
    return SubmitRequest(
        project / "configs" / "quickstart.yaml",
        overrides=["params.steps=5"],
        sweep_axes=[f"seed={','.join(str(i) for i in range(MEMBERS))}"],
        backend="local",
        dry_run=True,
        cwd=project,
    )


def _made_by(monkeypatch: pytest.MonkeyPatch, log: Path, fail: Any = None) -> None:
    """write_initial notes which process made each member (and `fail(seed, pid)` may make it fail)."""
    real = prepare.write_initial

    def noted(run: Any, spec: Any, *args: Any, **kwargs: Any) -> Any:
        with open(log, "a") as handle:
            handle.write(f"{spec.seed} {os.getpid()}\n")
        if fail is not None:
            fail(spec.seed, os.getpid())
        return real(run, spec, *args, **kwargs)

    monkeypatch.setattr(prepare, "write_initial", noted)


def _worker_fails(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """_made_by, with the worker (not the submitting process) failing half-way through its share."""
    parent = os.getpid()

    def fail(seed: int, pid: int) -> None:
        if pid != parent and seed == MEMBERS - 10:
            raise RuntimeError("a worker that fails")

    _made_by(monkeypatch, log, fail)


def _members(root: Path) -> dict[str, int]:
    """Run id -> seed of every member directory in the registry."""
    found = {}
    for path in root.iterdir():
        if (path / "manifest.json").is_file():
            found[path.name] = json.loads((path / "manifest.json").read_text())["seed"]
    return found


def _hidden_left(root: Path) -> list[str]:
    """Directories a member was being made in (`.<id>.<pid>.new`), left in the registry."""
    return [name for name in os.listdir(root) if name.endswith(".new")]


def _in_order(ids: list[str]) -> list[int]:
    return [int(i.rsplit("-", 1)[1]) if i.count("-") > 1 else 0 for i in ids]


@pytest.mark.usefixtures("two_workers")
def test_members_made_by_several_processes_are_each_made_once_in_order(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "made.txt"
    _made_by(monkeypatch, log)
    registry = Registry(project / "runs")
    result = submit(_sweep(project), registry, confirm=approve("yes"))
    pids = {line.split()[1] for line in log.read_text().splitlines()}
    assert len(pids) == 2  # the submitting process and one worker
    members = [m.run for m in result.prepared.members]
    assert [store.read_manifest(run.path).seed for run in members] == list(range(MEMBERS))
    assert _in_order([run.id for run in members]) == list(range(MEMBERS))  # ids in order of position
    assert _members(registry.root) == {run.id: seed for seed, run in enumerate(members)}
    for seed, run in enumerate(members):
        manifest = store.read_manifest(run.path)
        assert manifest.sweep == result.sweep_id and manifest.sweep_values == {"seed": seed}
        assert manifest.state == "dry_run" and f"--seed {seed}" in (run.path / "command.sh").read_text()
        # the submitting process, never a worker gone since: `status` would call the member interrupted
        assert manifest.submitter["pid"] == os.getpid()
    assert {run.id for run in registry.created} >= {run.id for run in members}
    assert _hidden_left(registry.root) == []


@pytest.mark.usefixtures("two_workers")
def test_a_workers_share_is_finished_here_without_a_member_made_twice(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _worker_fails(monkeypatch, tmp_path / "made.txt")
    registry = Registry(project / "runs")
    result = submit(_sweep(project), registry, confirm=approve("yes"))
    members = [m.run for m in result.prepared.members]
    made = _members(registry.root)
    assert sorted(made.values()) == list(range(MEMBERS))  # every member once: none twice, none missing
    assert made == {run.id: seed for seed, run in enumerate(members)}
    assert _in_order([run.id for run in members]) == list(range(MEMBERS))
    assert _hidden_left(registry.root) == []


@pytest.mark.usefixtures("two_workers")
def test_a_submitted_sweeps_members_files_are_kept_by_the_sweep_each_its_own(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Submitting (no dry run), the members made after the smoke test keep config.yaml and command.sh in
    the sweep's member files (records/memberfiles.py), each member's texts its own: those of the members
    a failed worker made (adopted here) too; a member's job then writes exactly those into its directory."""
    _worker_fails(monkeypatch, tmp_path / "made.txt")
    registry = Registry(project / "runs")
    request = _sweep(project)
    request.dry_run = False
    prepared = prepare.prepare_plan(plan(request, registry), registry, quiet, submitting=True)
    assert prepared.sweep_run is not None
    lead = prepared.members[0].run  # its shape's smoke test ran in it: made whole, first
    assert all((lead.path / name).is_file() for name in memberfiles.FILES)
    for seed, member in enumerate(prepared.members[1:], start=1):
        run = member.run
        assert not any((run.path / name).exists() for name in memberfiles.FILES), run.id
        kept = memberfiles.kept(run.path, prepared.sweep_run.id)
        script = kept["command.sh"]
        assert f"export CLUSTERRUN_RUN_DIR={run.path}\n" in script and f"--seed {seed}\n" in script
        assert f"export CLUSTERRUN_SEED={seed}\n" in script and script.count(f"clusterrun run {run.id}:") == 1
        recorded = json.loads((run.path / "manifest.json").read_text())
        assert yaml.safe_load(kept["config.yaml"]) == recorded["config"] and recorded["seed"] == seed
        assert memberfiles.materialise(run.path, recorded["sweep"]) == list(memberfiles.FILES)
        assert {name: (run.path / name).read_text() for name in memberfiles.FILES} == kept
        assert memberfiles.materialise(run.path, recorded["sweep"]) == []  # whole now: nothing to write


@pytest.mark.usefixtures("two_workers")
def test_a_submission_that_fails_leaves_none_of_the_members_its_workers_made(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parent = os.getpid()
    log = tmp_path / "made.txt"

    def fail(seed: int, pid: int) -> None:  # the disk fills up in the submitting process's own share
        if pid == parent and seed == 20:
            deadline = time.monotonic() + 30
            while len(log.read_text().splitlines()) < MEMBERS - 5 and time.monotonic() < deadline:
                pass
            raise DiskFull(project / "runs" / "full")

    _made_by(monkeypatch, log, fail)
    registry = Registry(project / "runs")
    with pytest.raises(DiskFull):
        submit(_sweep(project), registry, confirm=approve("yes"))
    assert _members(registry.root) == {}
    assert _hidden_left(registry.root) == []


@pytest.mark.usefixtures("two_workers", "slurm")
def test_job_ids_recorded_by_several_processes_reach_every_member_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job ids of a submitted sweep are written over several processes too (services/launch.py,
    _record): a worker that fails part-way has its share recorded here, and every member ends with its
    own job id, `submitted`, and one `submitted` event (none twice, none missing). Real cluster."""
    from clusterrun.records.writer import SubmissionManifests
    from clusterrun.services.cancel import cancel

    parent = os.getpid()
    real = SubmissionManifests.update_apart
    seen: list[int] = []

    def failing(self: Any, run: Any, state: Any, note: str, fields: dict[str, Any]) -> Any:
        seen.append(os.getpid())
        if os.getpid() != parent and len(seen) == 8:  # the worker, after recording 7 of its share
            raise RuntimeError("a worker that fails")
        return real(self, run, state, note, fields)

    monkeypatch.setattr(SubmissionManifests, "update_apart", failing)
    request = _sweep(project)
    request.dry_run, request.backend = False, "slurm"
    registry = Registry(project / "runs")
    result = submit(request, registry, confirm=approve("yes"))
    try:
        # the parent recorded its own share, then the failed worker's again (the worker wrote 7 first)
        assert seen.count(parent) == MEMBERS
        members = [m.run for m in result.prepared.members]
        arrays = json.loads((registry.root / str(result.sweep_id) / "sweep.json").read_text())["arrays"]
        (array,) = arrays
        for position, run in enumerate(members):
            manifest = store.read_manifest(run.path)
            assert manifest.job_id == f"{array['job_id']}_{position}", run.id
            assert [h.state for h in manifest.state_history][-1] in ("submitted", "pending", "running")
            events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
            assert [e.get("state") for e in events if e["event"] == "state"].count("submitted") == 1, run.id
            assert (run.path / "sbatch.sh").is_file()
    finally:
        cancel(registry, [str(result.sweep_id)])
