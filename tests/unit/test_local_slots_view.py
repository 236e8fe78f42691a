"""A throttled local sweep (`sweep.parallelism: N`) never shows more than N members running.

Two ways it did (CI, stop 35: `status` counted 2 running in a sweep of parallelism 1):
- a member whose command had ended, its final exit record written and its slot given back, still
  counted as running for the few tenths of a second its process took to exit, while the next member
  already held the slot;
- `poll` looked at each member's slot marker in turn, so a hand-over between two looks showed both the
  member giving the slot back and the one taking it as running.

The jobs' processes are faked alive (`_alive`); markers, records and the slot hand-over are real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.scheduler import local, local_slots
from clusterrun.scheduler.base import JobRef


def _sweep(tmp_path: Path, jobs: list[str]) -> tuple[Path, list[JobRef]]:
    folder = tmp_path / "sched"
    local_slots.slots_dir(folder).mkdir(parents=True)
    refs = []
    for job in jobs:
        run_dir = tmp_path / f"run-{job}"
        run_dir.mkdir()
        refs.append(JobRef(job, str(folder), run_dir=str(run_dir)))
    return folder, refs


def _record(ref: JobRef, **fields: object) -> None:
    (Path(ref.run_dir) / local.EXIT_RECORD).write_text(json.dumps({"seconds": 1.0, **fields}))


def test_each_members_state_follows_its_slot_and_its_final_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "_alive", lambda _pid: True)  # every process still there
    monkeypatch.setattr(local, "_wrapper_done", lambda _ref: False)  # and none has exited
    folder, refs = _sweep(tmp_path, ["101", "102", "103", "104"])
    holder, _starting, done, requeued = refs
    local_slots.granted_marker(folder, holder.job_id).touch()
    _record(done, returncode=0)  # ran, gave its slot back; its process has not exited yet
    _record(requeued, returncode=-1, requeued=True)  # its first attempt was requeued: waits again
    states = {job: status.state for job, status in local.LocalScheduler().poll(refs).items()}
    assert states == {"101": "running", "102": "pending", "103": "completed", "104": "pending"}


def test_a_hand_over_between_two_looks_never_shows_two_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, refs = _sweep(tmp_path, ["201", "202"])
    giving, taking = refs
    local_slots.granted_marker(folder, giving.job_id).touch()
    handed: list[bool] = []

    def alive(pid: int) -> bool:
        if str(pid) == taking.job_id and not handed:  # between the looks at the two, the slot changes hands
            handed.append(True)
            _record(giving, returncode=0)
            local_slots.granted_marker(folder, giving.job_id).unlink()
            local_slots.granted_marker(folder, taking.job_id).touch()
        return True

    monkeypatch.setattr(local, "_alive", alive)
    states = [status.state for status in local.LocalScheduler().poll(refs).values()]
    assert states.count("running") == 1, states
    view = [status.state for status in local.LocalScheduler().poll(refs).values()]
    assert view == ["completed", "running"]  # the next look sees the hand-over whole


def test_a_sweep_without_a_limit_is_running_until_its_wrapper_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "_alive", lambda _pid: True)
    monkeypatch.setattr(local, "_wrapper_done", lambda _ref: False)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ref = JobRef("301", str(tmp_path / "sched"), run_dir=str(run_dir))
    _record(ref, returncode=0)
    assert local.LocalScheduler().poll([ref])["301"].state == "running"


def test_a_running_members_elapsed_time_counts_from_its_slot_or_its_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running local job showed ELAPSED '-' in a plain status (only its end gave a time)."""
    import os
    import time

    import psutil

    monkeypatch.setattr(local, "_alive", lambda _pid: True)
    folder, refs = _sweep(tmp_path, ["401"])
    granted = local_slots.granted_marker(folder, "401")
    granted.touch()
    os.utime(granted, (time.time() - 30, time.time() - 30))  # it took its slot 30 s ago
    assert local.LocalScheduler().poll(refs)["401"].elapsed_seconds == pytest.approx(30, abs=2)
    monkeypatch.setattr(local, "_wrapper_done", lambda _ref: False)
    me = JobRef(str(os.getpid()), str(tmp_path / "plain"), run_dir=str(tmp_path))  # not throttled
    age = time.time() - psutil.Process().create_time()
    assert local.LocalScheduler().poll([me])[me.job_id].elapsed_seconds == pytest.approx(age, abs=2)
