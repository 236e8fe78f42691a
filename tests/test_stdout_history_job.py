"""A job writes its stdout_metrics.jsonl (its metrics patterns' matches over stdout) as it ends, before its
exit.json, on its own node: the first `status` that records the end of a thousand runs no longer makes a
thousand files more (bench/run_all.py's first-status row). The file is what `status` would have written.

The promise checked: the record is there, whole, as soon as the job's end is, with no `status` run, on
the local backend and on the real cluster; `status` then finds it and writes nothing again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from clusterrun.analysis import history
from tests.helpers import cli, no_traceback, only_run


def _ended(run: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (run / "exit.json").is_file():
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.2)


def _check(project: Path, backend: str) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", backend, "--yes"], project)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    _ended(run)
    written = run / history.STDOUT_HISTORY
    assert written.is_file(), "no stdout_metrics.jsonl when the job's exit.json appeared"
    assert written.stat().st_mtime_ns <= (run / "exit.json").stat().st_mtime_ns
    assert not (run / "summary.json").exists()  # no status has recorded the end
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    assert [row["final_loss"] for row in rows if "final_loss" in row], rows  # the quickstart's pattern
    config = json.loads((run / "manifest.json").read_text())["config"]
    expected = history.jsonl_text(history.printed_rows(run, config["metrics"]["patterns"], "step"))
    assert written.read_text() == expected  # what status would have written
    inode = written.stat().st_ino
    for _ in range(30):  # the scheduler's word on the end may come a moment after the job's record
        result = cli(["status", run.name], project)
        if (run / "summary.json").exists():
            break
        time.sleep(1)
    assert (run / "summary.json").exists(), result.stdout
    assert written.stat().st_ino == inode  # status found it and wrote nothing again


def test_a_local_job_writes_its_stdout_history_as_it_ends(project: Path) -> None:
    _check(project, "local")


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_slurm_job_writes_its_stdout_history_as_it_ends(project: Path) -> None:
    _check(project, "slurm")
