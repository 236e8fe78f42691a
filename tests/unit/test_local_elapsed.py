"""A local job's wall time is its exit record's, to the millisecond: it was cut to whole seconds, so a
run of 1.7 s was reported as `Duration: 1.0s` (its summary's duration_seconds 1), while a run of 0.4 s
(cut to 0, which counted as unknown) showed its real 0.4 s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.scheduler import local
from clusterrun.scheduler.base import JobRef


@pytest.mark.parametrize("seconds", [1.707, 0.4, 59.9996, 3])
def test_the_exit_records_seconds_are_the_jobs_elapsed_time(tmp_path: Path, seconds: float) -> None:
    (tmp_path / local.EXIT_RECORD).write_text(json.dumps({"returncode": 0, "seconds": seconds, "host": "h"}))
    status = local._ended(JobRef("123", str(tmp_path), run_dir=str(tmp_path)))
    assert status.state == "completed"
    assert status.elapsed_seconds == pytest.approx(seconds, abs=0.001)


def test_no_seconds_in_the_record_is_unknown(tmp_path: Path) -> None:
    (tmp_path / local.EXIT_RECORD).write_text(json.dumps({"returncode": 1}))
    status = local._ended(JobRef("123", str(tmp_path), run_dir=str(tmp_path)))
    assert (status.state, status.elapsed_seconds) == ("failed", None)
