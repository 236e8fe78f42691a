"""`wait` on local jobs looks at their exit records between refreshes (services/status.py): the end
of a job is seen when its exit record appears, not at the next refresh."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from clusterrun.services import status


def test_the_watch_ends_when_an_exit_record_appears(tmp_path: Path) -> None:
    records = [tmp_path / "a" / "exit.json", tmp_path / "b" / "exit.json"]
    for record in records:
        record.parent.mkdir()
    timer = threading.Timer(0.2, records[1].write_text, args=("{}",))
    timer.start()
    started = time.monotonic()
    status._sleep_watching(records, 60.0)
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
    status._sleep_watching([record], 60.0)
    timer.join()
    assert time.monotonic() - started < 30


def test_without_a_change_the_watch_sleeps_its_pause(tmp_path: Path) -> None:
    started = time.monotonic()
    status._sleep_watching([tmp_path / "exit.json"], 0.3)
    assert time.monotonic() - started >= 0.3
