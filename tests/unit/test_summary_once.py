"""A run's end is summarised once, however many refreshes see it end together (watchers of a sweep
that has just ended): one collects the summary under the run's lock, the others read what it wrote.
And the summary reads the run's metrics file once."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from clusterrun.records import summary as summaries
from clusterrun.records.registry import Registry, Run
from clusterrun.services import status as status_service

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"


def _ended_run(tmp_path: Path) -> Run:
    """A completed run whose summary has not been collected yet (its manifest alone)."""
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    manifest["scheduler_folder"] = ""  # its own scheduler/ folder (the golden one names another machine's)
    (registry.root / manifest["run_id"]).mkdir()
    (registry.root / manifest["run_id"] / "manifest.json").write_text(json.dumps(manifest))
    return registry.get(manifest["run_id"])


def test_two_refreshes_that_see_the_end_together_collect_its_summary_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _ended_run(tmp_path)
    manifest = run.load_manifest()
    assert manifest.state == "completed" and summaries.load(run) is None
    real_collect = summaries.collect
    calls: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def slow_collect(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        inside.set()
        assert release.wait(10)
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(summaries, "collect", slow_collect)
    shown: dict[str, Any] = {}

    def refresh(name: str) -> None:
        shown[name] = status_service.settled_status(run, manifest)

    first = threading.Thread(target=refresh, args=("first",), name="first")
    first.start()
    assert inside.wait(10)  # the first refresh is collecting
    second = threading.Thread(target=refresh, args=("second",), name="second")
    second.start()
    second.join(0.5)  # it waits for the run's lock (without it, it would be collecting by now)
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["first"]
    events = [json.loads(line) for line in run.file("events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("summary_collected") == 1
    assert shown["first"].summary == shown["second"].summary
    assert shown["second"].summary is not None and shown["second"].summary["state"] == "completed"


def test_a_summary_reads_the_metrics_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its last values and its history come from one read of metrics.jsonl (a long run's file is tens of
    thousands of lines, read for every run a refresh ends)."""
    import os

    run = _ended_run(tmp_path)
    lines = [json.dumps({"step": i, "loss": 1 / (i + 1)}) for i in range(50)]
    run.file("metrics.jsonl").write_text("\n".join([*lines, json.dumps({"loss": float("nan")})]) + "\n")
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if os.path.basename(os.fspath(path)) == "metrics.jsonl":
            opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    summary = summaries.collect(run, run.load_manifest(), {"state": "completed"})
    assert len(opened) == 1
    assert summary.metrics["step"] == 49 and summary.metrics_non_finite == {"loss": "nan"}
    assert summary.metrics_history["points"] == 50  # loss at steps 0-49 (step is the axis; nan no point)


def test_a_summary_takes_the_jobs_own_record_of_its_outputs_instead_of_walking_its_working_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exit.json's `outputs` (the job walked its working copy as it ended) is the summary's; without one
    (an older job, or a job killed before it wrote exit.json) the summary walks it, with the same result."""
    from clusterrun.inputs import workdir

    run = _ended_run(tmp_path)
    run.update(attempts=[{"attempt": 1, "job_id": "7"}])  # the wrapper numbers each attempt as it starts
    (run.path / "work" / "sub").mkdir(parents=True)
    (run.path / "work" / "sub" / "out.txt").write_text("made")
    (run.path / "artifacts").mkdir()
    (run.path / "artifacts" / "model.pt").write_bytes(b"12345")
    walked = summaries.collect(run, run.load_manifest(), {"state": "completed"})
    items, modified = summaries.output_files(run, run.load_manifest())
    ended = {"returncode": 0, "seconds": 1.0, "attempt": 1, "requeued": False}
    (run.path / "exit.json").write_text(
        json.dumps({**ended, "outputs": workdir.outputs_record(items, modified)})
    )
    walks: list[Path] = []
    real_check = workdir.check
    monkeypatch.setattr(
        workdir, "check", lambda path, links=None: walks.append(path) or real_check(path, links)
    )
    recorded = summaries.collect(run, run.load_manifest(), {"state": "completed"})
    assert walks == []  # not walked again
    assert recorded.artifacts == walked.artifacts == ["artifacts/model.pt", "work/sub/out.txt"]
    assert recorded.artifacts_info == walked.artifacts_info
    (run.path / "exit.json").write_text(json.dumps({**ended, "outputs": {"artifacts": "planted"}}))
    again = summaries.collect(run, run.load_manifest(), {"state": "completed"})
    assert walks and again.artifacts == walked.artifacts  # a record it cannot trust: walked
    # an earlier attempt's record, left by a later attempt killed before it wrote its own: walked
    (run.path / "work" / "sub" / "later.txt").write_text("the second attempt's")
    (run.path / "exit.json").write_text(json.dumps({**ended, "outputs": workdir.outputs_record(items, [])}))
    run.update(attempts=[{"attempt": 1, "job_id": "7"}, {"attempt": 2, "job_id": "7"}])
    walks.clear()
    later = summaries.collect(run, run.load_manifest(), {"state": "timeout"})
    assert walks and "work/sub/later.txt" in later.artifacts
    requeued = {**ended, "attempt": 2, "requeued": True, "outputs": workdir.outputs_record(items, [])}
    (run.path / "exit.json").write_text(json.dumps(requeued))
    walks.clear()
    assert "work/sub/later.txt" in summaries.collect(run, run.load_manifest(), {"state": "pending"}).artifacts
    assert walks


def _running_run(tmp_path: Path) -> Run:
    """The golden completed run as it was while its job ran: its manifest says running, no summary."""
    run = _ended_run(tmp_path)
    data = json.loads(run.manifest_path.read_text())
    data["state"], data["state_source"] = "running", ""
    data["state_history"] = [h for h in data["state_history"] if h["state"] != "completed"]
    run.manifest_path.write_text(json.dumps(data))
    return run


def _ended(job_id: str) -> Any:
    from clusterrun.scheduler.base import JobStatus

    return JobStatus(job_id, "completed", "COMPLETED", exit_code=0, elapsed_seconds=3.0, source="sacct")


def test_an_end_is_recorded_under_one_lock_with_its_events_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state and the summary of an end seen by a refresh: the manifest first, then the summary, then
    both events in that order, in one append (the run's lock taken once)."""
    from clusterrun import portable

    run = _running_run(tmp_path)
    manifest = run.load_manifest()
    locks: list[str] = []
    real_locked = portable.locked

    def counted(path: Path) -> Any:
        locks.append(Path(path).name)
        return real_locked(path)

    monkeypatch.setattr(portable, "locked", counted)
    events_before = (
        run.file("events.jsonl").read_text().splitlines() if run.file("events.jsonl").exists() else []
    )
    shown = status_service._apply(run, manifest, _ended(manifest.job_id or "1"))
    assert shown.state == "completed"
    assert run.load_manifest().state == "completed"
    assert summaries.load(run) is not None and summaries.load(run).state == "completed"  # type: ignore[union-attr]
    assert locks == [".lock"]
    added = [
        json.loads(line) for line in run.file("events.jsonl").read_text().splitlines()[len(events_before) :]
    ]
    assert [(e["event"], e["state"]) for e in added] == [
        ("state", "completed"),
        ("summary_collected", "completed"),
    ]
    # seen again: nothing more is written
    status_service._apply(run, run.load_manifest(), _ended(manifest.job_id or "1"))
    assert len(run.file("events.jsonl").read_text().splitlines()) == len(events_before) + 2


def test_a_summary_that_cannot_be_written_leaves_the_recorded_state_and_its_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the summary is written: the manifest's end is recorded with its event (the next
    refresh collects the summary), never a state without its event."""
    from clusterrun.errors import DiskFull

    run = _running_run(tmp_path)
    manifest = run.load_manifest()

    def full(*_args: Any, **_kwargs: Any) -> None:
        raise DiskFull(run.file("summary.json"))

    monkeypatch.setattr(summaries, "write", full)
    with pytest.raises(DiskFull):
        status_service._apply(run, manifest, _ended(manifest.job_id or "1"))
    assert run.load_manifest().state == "completed" and summaries.load(run) is None
    events = [json.loads(line) for line in run.file("events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "state" and events[-1]["state"] == "completed"
    monkeypatch.undo()
    shown = status_service._apply(run, run.load_manifest(), _ended(manifest.job_id or "1"))
    assert shown.summary is not None and summaries.load(run) is not None
