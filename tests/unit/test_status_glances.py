"""A wide listing hands refresh a glance of each run only a poll may change (its backend and its job),
not the run's manifest: the manifest is read again where the run is recorded, so no listing holds every
manifest of a big registry at once (10,000 of them took 300 MB). What it must keep: the verdict of each
run is the one a refresh holding the manifests would record, also when the record changed between the
glance and the recording (another job named, the file damaged).

The poll is a stub here (these are the refresh's own rules); tests/test_status_fanout.py makes the same
first listing of a sweep that ended on the real cluster."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry, Run
from clusterrun.scheduler.base import JobRef, JobStatus
from clusterrun.services import listing
from clusterrun.services import status as status_service

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"
RUNS = 120  # a wide listing: at least listing.ROW_CACHE_FROM runs


def _running(registry: Registry, index: int) -> Run:
    """The golden run as its SLURM job ran: running, no summary, job 5000+index."""
    data = json.loads((GOLDEN / "manifest.json").read_text())
    run_id = f"glance_20261206-{index:06d}"
    data.update(run_id=run_id, backend="slurm", job_id=str(5000 + index), scheduler_folder="")
    data["state"], data["state_source"] = "running", ""
    data["state_history"] = [h for h in data["state_history"] if h["state"] != "completed"]
    (registry.root / run_id).mkdir()
    (registry.root / run_id / "manifest.json").write_text(json.dumps(data))
    return registry.get(run_id)


class _Stub:
    """The SLURM backend's poll as this test needs it: a fixed answer, and a look at memory as it is asked."""

    def __init__(self, answer: dict[str, JobStatus]) -> None:
        self.answer = answer
        self.asked: list[str] = []
        self.manifests_alive = -1

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        self.asked += [ref.job_id for ref in refs]
        gc.collect()
        self.manifests_alive = sum(1 for o in gc.get_objects() if isinstance(o, Manifest))
        return {ref.job_id: self.answer[ref.job_id] for ref in refs if ref.job_id in self.answer}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> _Stub:
    monkeypatch.setenv("CLUSTERRUN_WORKERS", "1")  # every run recorded in this process: its memory seen
    found = _Stub({})

    def cached_poll(scheduler: Any, refs: list[JobRef], *_args: Any, **_kw: Any) -> dict[str, JobStatus]:
        return found.poll(refs)

    monkeypatch.setattr(status_service, "get_scheduler", lambda _backend: found)
    monkeypatch.setattr(status_service, "cached_poll", cached_poll)
    return found


def _ended(job_id: str) -> JobStatus:
    return JobStatus(job_id, "completed", "COMPLETED", exit_code=0, elapsed_seconds=3.0, source="sacct")


def test_a_wide_listing_polls_its_runs_without_holding_their_manifests(tmp_path: Path, stub: _Stub) -> None:
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    runs = [_running(registry, i) for i in range(RUNS)]
    stub.answer = {r.load_manifest().job_id or "": _ended(r.load_manifest().job_id or "") for r in runs}
    gc.collect()
    view = listing.status(registry, listing.StatusQuery(limit=RUNS, summaries=False, table=True))
    assert sorted(stub.asked) == sorted(stub.answer)  # one poll asked about every run's job
    # while the scheduler was asked, the listing held none of the 120 manifests it had read
    assert 0 <= stub.manifests_alive < 5, stub.manifests_alive
    assert [r.state for r in view.report.runs] == ["completed"] * RUNS
    for run in runs:  # each end recorded, with its summary, as a refresh holding the manifest records it
        assert run.load_manifest().state == "completed"
        summary = json.loads(run.file("summary.json").read_text())
        assert summary["state"] == "completed" and summary["run_id"] == run.id


def test_a_run_whose_record_names_another_job_since_the_glance_takes_no_verdict_from_the_poll(
    tmp_path: Path, stub: _Stub
) -> None:
    """Glanced while it named job 5000, recorded after it came to name job 7777 (resubmitted, adopted):
    the poll asked about 5000 only, so its silence about 7777 says nothing (no `unseen_since`, never
    `lost`) and 5000's end is not this run's."""
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    changed, steady = _running(registry, 0), _running(registry, 1)
    glances = {r.id: status_service.glance(r, r.load_manifest()) for r in (changed, steady)}
    assert all(glances.values())
    data = json.loads(changed.manifest_path.read_text())
    data["job_id"] = "7777"
    changed.manifest_path.write_text(json.dumps(data))
    stub.answer = {"5000": _ended("5000")}  # job 5001 (steady's) unknown to the scheduler
    report = status_service.refresh(registry, [changed.id, steady.id], glances=glances)  # type: ignore[arg-type]
    shown = {r.run_id: r for r in report.runs}
    assert shown[changed.id].state == "running" and shown[changed.id].job_id == "7777"
    after = changed.load_manifest()
    assert after.state == "running" and after.job_id == "7777" and not after.unseen_since
    # the other run's job, which the poll was asked about and did not know, is counted as unseen
    assert steady.load_manifest().unseen_since


def test_a_record_damaged_since_the_glance_is_reported_and_the_others_recorded(
    tmp_path: Path, stub: _Stub
) -> None:
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    runs = [_running(registry, i) for i in range(3)]
    glances = {r.id: status_service.glance(r, r.load_manifest()) for r in runs}
    runs[1].manifest_path.write_text("{ not json")
    stub.answer = {str(5000 + i): _ended(str(5000 + i)) for i in range(3)}
    report = status_service.refresh(registry, [r.id for r in runs], glances=glances)  # type: ignore[arg-type]
    states = {r.run_id: r.state for r in report.runs}
    assert states == {runs[0].id: "completed", runs[1].id: "damaged", runs[2].id: "completed"}
    assert any(runs[1].id in w for w in report.warnings), report.warnings
    assert runs[1].manifest_path.read_text() == "{ not json"  # left as it is


def test_only_a_run_that_only_a_poll_may_change_is_glanced(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    run = _running(registry, 0)
    manifest = run.load_manifest()
    seen = status_service.glance(run, manifest)
    assert seen is not None and seen.backend == "slurm" and seen.ref.job_id == "5000"
    for state in ("submitting", "created", "preparing", "smoke_passed", "completed", "dry_run"):
        assert status_service.glance(run, manifest.model_copy(update={"state": state})) is None, state
