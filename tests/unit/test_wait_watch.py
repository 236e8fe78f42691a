"""`wait` on local jobs looks at their exit records between refreshes (services/status.py): the end
of a job is seen when its exit record appears, not at the next refresh."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from clusterrun.records.registry import Registry
from clusterrun.services import status
from clusterrun.services.status import RunStatus, StatusReport


def test_the_watch_ends_when_an_exit_record_appears(tmp_path: Path) -> None:
    records = [tmp_path / "a" / "exit.json", tmp_path / "b" / "exit.json"]
    for record in records:
        record.parent.mkdir()
    timer = threading.Timer(0.2, records[1].write_text, args=("{}",))
    timer.start()
    started = time.monotonic()
    assert status._sleep_watching(records, 60.0)
    timer.join()
    assert records[1].exists()
    assert time.monotonic() - started < 30  # woken by the record, not by the 60 s pause


def test_the_watch_ends_when_an_exit_record_is_written_again(tmp_path: Path) -> None:
    record = tmp_path / "exit.json"
    record.write_text('{"requeued": true}')  # an attempt that was requeued; the next one ends

    def rewrite() -> None:  # as jsonio.write_text_atomic does: a new file renamed over the old
        (tmp_path / "new").write_text("{}")
        (tmp_path / "new").replace(record)

    timer = threading.Timer(0.2, rewrite)
    timer.start()
    started = time.monotonic()
    assert status._sleep_watching([record], 60.0)
    timer.join()
    assert time.monotonic() - started < 30


def test_without_a_change_the_watch_sleeps_its_pause(tmp_path: Path) -> None:
    started = time.monotonic()
    assert not status._sleep_watching([tmp_path / "exit.json"], 0.3)
    assert time.monotonic() - started >= 0.3


def test_after_an_exit_record_appears_wait_looks_again_soon(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the record is written a few ms before the wrapper's process ends: the refresh right after the wake
    # may still see it running; the next looks come 2 steps apart, not a whole LOCAL_INTERVAL later
    running = StatusReport([RunStatus("r0", "r", "running", "123", "local")], [], 0)
    done = StatusReport([RunStatus("r0", "r", "completed", "123", "local")], [], 0)
    answers = [running, running, running, done]
    monkeypatch.setattr(status, "refresh", lambda _registry, _ids, **_kw: answers.pop(0))
    woke = iter([True])
    watched: list[float] = []
    slept: list[float] = []

    def watch(_paths: list[Path], pause: float) -> bool:
        watched.append(pause)
        return next(woke, False)

    monkeypatch.setattr(status, "_sleep_watching", watch)
    monkeypatch.setattr(status.time, "sleep", slept.append)
    report = status.wait(Registry(tmp_path), ["r0"])
    assert report.runs[0].state == "completed"
    assert watched == [status.LOCAL_INTERVAL]  # then no whole interval more: quick looks
    assert slept == [2 * status.EXIT_WATCH_STEP] * 2
