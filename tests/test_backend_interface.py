"""The scheduler interface, proved by a backend that is neither SLURM nor submitit (tests/fake_backend.py).

The fake is registered by a fixture, and nothing else: submit, status, cancel, orphan recovery, the
summary's scheduler logs and doctor all reach it through the registry and the Scheduler protocol.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterrun import scheduler
from clusterrun.errors import SchedulerUnavailable, UsageError
from clusterrun.records.registry import Registry
from clusterrun.scheduler import checks as host_checks
from clusterrun.scheduler.base import Scheduler
from clusterrun.services import doctor
from clusterrun.services.cancel import cancel
from clusterrun.services.launch import launch
from clusterrun.services.plan import SubmitRequest
from clusterrun.services.prepare import prepare
from clusterrun.services.status import refresh, wait
from tests.fake_backend import NAME, OOM_LINE, FakeScheduler
from tests.helpers import git
from tests.helpers import manifest as read_manifest

SLEEP = "name: sleeper\ncommand: python -c 'import time; time.sleep(120)'\nresources: {time: '00:05:00'}\n"


@pytest.fixture
def fake() -> Iterator[FakeScheduler]:
    """The whole of 'adding a backend', as far as clusterrun is concerned: one register() call."""
    backend = FakeScheduler()
    scheduler.register(NAME, FakeScheduler, lambda: True, when="the tests register it")
    try:
        yield backend
    finally:
        scheduler.unregister(NAME)
        backend.stop_all()


def _submit(project: Path, config: str = "configs/quickstart.yaml", **fields: Any) -> list[dict[str, Any]]:
    """Submit through the services; the members' manifests as written (manifest.json)."""
    request = SubmitRequest(
        config=project / config,
        backend=NAME,
        skip_smoke_reason="the fake backend test",
        force=True,
        cwd=project,
        argv=["clusterrun", "submit", config, "--backend", NAME],
        **fields,
    )
    prepared = prepare(request, Registry(project / "runs"))
    launch(prepared)
    return [read_manifest(m.run.path) | {"run_dir": str(m.run.path)} for m in prepared.members]


def _protocol_methods() -> list[str]:
    return [n for n, v in vars(Scheduler).items() if callable(v) and not n.startswith("_")]


@pytest.mark.parametrize("name", ["slurm", "local", NAME])
def test_every_backend_implements_the_whole_protocol(fake: FakeScheduler, name: str) -> None:
    backend = scheduler.scheduler_named(name)
    assert backend.name == name
    for method in _protocol_methods():
        wanted = list(inspect.signature(getattr(Scheduler, method)).parameters)[1:]
        got = list(inspect.signature(getattr(backend, method)).parameters)
        assert got == wanted, f"{name}.{method}{tuple(got)} differs from the protocol's {tuple(wanted)}"


def test_the_registry_lists_it_and_auto_takes_it_by_priority(
    fake: FakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list(scheduler.BACKENDS) == ["auto", "slurm", NAME, "local"]
    assert f"else {NAME} when the tests register it, else local" in scheduler.backend_help()
    monkeypatch.setattr(host_checks, "_which", lambda _name: None)  # no sbatch: slurm's probe says no
    assert scheduler.resolve_backend("auto") == NAME
    assert isinstance(scheduler.get_scheduler("auto"), FakeScheduler)
    with pytest.raises(UsageError, match="unknown backend 'pbs'") as info:
        scheduler.get_scheduler("pbs")
    assert f"auto, slurm, {NAME}, local" in info.value.hint
    with pytest.raises(ValueError, match="already registered"):
        scheduler.register(NAME, FakeScheduler, lambda: True)


def test_submit_status_and_summary_through_the_services(project: Path, fake: FakeScheduler) -> None:
    (manifest,) = _submit(project)
    assert manifest["backend"] == NAME and str(manifest["job_id"]).startswith("fake")
    registry = Registry(project / "runs")
    report = wait(registry, [str(manifest["run_id"])], first_interval=0.2, max_interval=1, timeout=120)
    (row,) = report.runs
    assert row.state == "completed", row
    summary = row.summary or {}
    assert summary["success"] is True and "final_loss" in summary["metrics"]
    logs = [Path(p).name for p in summary["logs"]["scheduler"]]
    assert logs == [f"{manifest['job_id']}.err", f"{manifest['job_id']}.out"]  # the fake's own log_paths


def test_cancel_through_the_services(project: Path, fake: FakeScheduler) -> None:
    (project / "configs" / "sleep.yaml").write_text(SLEEP)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "sleeper")
    (manifest,) = _submit(project, "configs/sleep.yaml")
    registry = Registry(project / "runs")
    run_id = str(manifest["run_id"])
    assert refresh(registry, [run_id], max_age=0).runs[0].state == "running"
    (outcome,) = cancel(registry, [run_id])
    assert outcome.cancelled and f"{NAME} job {manifest['job_id']} cancelled" in outcome.detail
    report = wait(registry, [run_id], first_interval=0.2, max_interval=1, timeout=60)
    assert report.runs[0].state == "cancelled"
    assert (report.runs[0].summary or {})["diagnosis"]["category"] == "cancelled"


def test_a_sweep_is_split_by_the_backends_limits(project: Path, fake: FakeScheduler) -> None:
    manifests = _submit(project, sweep_axes=["params.lr=0.1,0.2,0.3"])
    assert len(manifests) == 3
    sweep_id = str(manifests[0]["sweep"])
    record = json.loads((project / "runs" / sweep_id / "sweep.json").read_text())
    assert record["max_array_size"] == 2 and [a["size"] for a in record["arrays"]] == [2, 1]
    assert {str(m["job_id"]).rsplit("_", 1)[0] for m in manifests} == {a["job_id"] for a in record["arrays"]}
    ids = [str(m["run_id"]) for m in manifests]
    report = wait(Registry(project / "runs"), ids, first_interval=0.2, max_interval=1, timeout=120)
    assert [r.state for r in report.runs] == ["completed"] * 3


def test_an_interrupted_submission_is_recovered_by_the_backend(project: Path, fake: FakeScheduler) -> None:
    (manifest,) = _submit(project)
    registry = Registry(project / "runs")
    assert wait(registry, [manifest["run_id"]], first_interval=0.2, timeout=120).runs[0].state == "completed"
    run_dir = Path(str(manifest["run_dir"]))
    data = json.loads((run_dir / "manifest.json").read_text())
    data.update(state="submitting", job_id=None)  # as if clusterrun died before recording the id
    (run_dir / "manifest.json").write_text(json.dumps(data))
    report = wait(registry, [run_dir.name], first_interval=0.2, max_interval=1, timeout=60)
    assert report.runs[0].job_id == manifest["job_id"] and report.runs[0].state == "completed"


def test_doctor_shows_the_backends_own_checks(
    project: Path, fake: FakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = doctor.run_checks(project, project / "runs", NAME)
    rows = {c.name: c for c in report.checks}
    assert list(rows) == ["git", "python", "disk", "registry", "allocation", "slurm", NAME]
    assert report.backend == NAME
    assert rows["slurm"].status == "skip" and rows["slurm"].detail == f"--backend {NAME}: slurm is not used"
    assert rows[NAME].status == "ok"
    monkeypatch.setattr(host_checks, "_which", lambda _name: None)
    report = doctor.run_checks(project, project / "runs", "auto")
    slurm = report.check("slurm")
    assert report.backend == NAME and slurm.detail == f"'sbatch' is not on PATH: {NAME} backend will be used"


def test_state_vocabulary_and_log_evidence_are_backend_neutral(fake: FakeScheduler) -> None:
    assert scheduler.normalise_state("KILLED") == ("cancelled", "")  # only the fake knows the word
    assert scheduler.normalise_state("KILLED", "slurm") == ("unknown", "")
    assert scheduler.normalise_state("CANCELLED by 1000") == ("cancelled", "1000")
    assert scheduler.normalise_state("timeout", NAME) == ("timeout", "")  # clusterrun's own word stays
    logs = {"scheduler/x.err": f"step 3\n{OOM_LINE}\n"}
    (evidence,) = scheduler.log_evidence(logs)
    assert evidence.state == "out_of_memory" and evidence.log == "scheduler/x.err"
    assert scheduler.log_evidence(logs, "slurm") == []


def test_an_unavailable_backend_is_refused_with_its_own_message() -> None:
    scheduler.register("gone", FakeScheduler, lambda: False, missing="'gonectl' is not on PATH", hint="H")
    try:
        with pytest.raises(SchedulerUnavailable, match="--backend gone, but 'gonectl' is not on PATH"):
            scheduler.get_scheduler("gone")
        assert scheduler.resolve_backend("auto") != "gone"
        assert isinstance(scheduler.scheduler_named("gone"), FakeScheduler)  # reading records needs no probe
    finally:
        scheduler.unregister("gone")
