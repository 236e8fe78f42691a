"""`clusterrun logs RUN --rank R` (one rank's logs) and `--attempt N` (one attempt's part of the logs,
from the byte offsets each attempt records in the manifest), on a real 2-rank job of the local backend."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import cli, make_project, no_traceback

SCRIPT = """\
import os, sys
rank = os.environ["RANK"]
print(f"hello from rank {rank}", flush=True)
print(f"warning from rank {rank}", file=sys.stderr, flush=True)
"""

CONFIG = {
    "name": "logparts",
    "command": "python hello.py",
    "smoke": {"timeout": 60},
    "resources": {"nodes": 1, "tasks_per_node": 2, "time": "00:05:00", "mem": "200M"},
}


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("logparts")
    files = {"hello.py": SCRIPT, "configs/logparts.yaml": yaml.safe_dump(CONFIG, sort_keys=False)}
    project = make_project(root / "proj", files)
    result = cli(["submit", "configs/logparts.yaml", "--backend", "local", "--wait", "--json"], project)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    yield project, Path(json.loads(result.stdout)["run_dir"])


def _refused(project: Path, args: list[str], *expected: str) -> str:
    result = cli(["logs", *args], project)
    no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    hints = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
    assert len(errors) == 1 and hints, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


def _printed(project: Path, args: list[str]) -> str:
    result = cli(["logs", *args], project)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rank_prints_that_ranks_stdout_or_stderr(ranked: tuple[Path, Path]) -> None:
    project, run = ranked
    assert _printed(project, [run.name, "--rank", "1"]) == "hello from rank 1\n"
    assert _printed(project, [run.name, "--rank", "1", "--stderr"]) == "warning from rank 1\n"
    assert _printed(project, [run.name, "--rank", "0"]) == (run / "stdout.log").read_text()
    assert "hello from rank 0" in _printed(project, [run.name, "--rank", "0"])


def test_a_rank_that_does_not_exist_is_refused_listing_the_ranks(ranked: tuple[Path, Path]) -> None:
    project, run = ranked
    _refused(project, [run.name, "--rank", "5"], "error: run", "no stdout log of rank 5", "its ranks: 0, 1")
    _refused(project, [run.name, "--rank", "-1"], "--rank")
    _refused(project, [run.name, "--rank", "1", "--scheduler"], "--rank", "drop --scheduler")


def _manifest(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "manifest.json").read_text())
    return data


def test_attempt_prints_each_attempts_part_from_the_recorded_offsets(ranked: tuple[Path, Path]) -> None:
    project, run = ranked
    attempts = _manifest(run)["attempts"]
    assert [a["attempt"] for a in attempts] == [1]  # the job wrapper recorded it, with its offsets
    assert attempts[0]["offsets"]["stdout.log"] == 0
    first_out, first_err = (run / "stdout.log").read_text(), (run / "stderr.log").read_text()
    assert _printed(project, [run.name, "--attempt", "1"]) == first_out
    _refused(project, [run.name, "--attempt", "2"], "has no attempt 2", "its attempts: 1")
    _refused(project, [run.name, "--attempt", "0"], "--attempt")
    _refused(project, [run.name, "--attempt", "1", "--follow"], "--follow")
    _refused(project, [run.name, "--attempt", "1", "--smoke"], "--smoke")
    _refused(project, [run.name, "--attempt", "1", "--rank", "1"], "rank 0's logs only")
    # a second attempt, laid out as the job wrapper lays one out (execution/attempts.py): it records
    # the logs' sizes when it starts, then writes its delimiter line and its output after them
    data = _manifest(run)
    sizes = {name: (run / name).stat().st_size for name in ("stdout.log", "stderr.log")}
    data["attempts"].append({**data["attempts"][0], "attempt": 2, "offsets": sizes, "reason": "completed"})
    data["attempts"][0]["reason"] = "preempted"
    tmp = run / "manifest.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, run / "manifest.json")
    for name, text in (("stdout.log", "resumed at step 7\n"), ("stderr.log", "resumed warning\n")):
        with open(run / name, "a") as log:
            log.write(f"=== clusterrun: attempt 2 (n1, now) ===\n{text}")
    assert _printed(project, [run.name, "--attempt", "1"]) == first_out
    assert _printed(project, [run.name, "--attempt", "1", "--stderr"]) == first_err
    second = _printed(project, [run.name, "--attempt", "2"])
    assert second == "=== clusterrun: attempt 2 (n1, now) ===\nresumed at step 7\n"
    assert _printed(project, [run.name, "--attempt", "2", "--stderr"]).endswith("resumed warning\n")
    _refused(project, [run.name, "--attempt", "3"], "its attempts: 1, 2")


def test_an_empty_stdout_says_where_the_run_wrote_instead(tmp_path: Path) -> None:
    """What a user met with a script that logs with Python's logging (stderr, by default): `clusterrun
    logs RUN` printed nothing at all. It still prints the empty stdout, and says on stderr that the run
    wrote to stderr, with the command that shows it (of the smoke test too)."""
    quiet = "import logging\nlogging.basicConfig(level=logging.INFO)\nlogging.info('epoch 0 loss=0.5')\n"
    config = {"name": "quiet", "command": "python quiet.py", "resources": {"time": "00:05:00", "mem": "200M"}}
    files = {"quiet.py": quiet, "configs/quiet.yaml": yaml.safe_dump(config)}
    project = make_project(tmp_path / "proj", files)
    ran = cli(["submit", "configs/quiet.yaml", "--backend", "local", "--wait", "--yes", "--json"], project)
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["run_id"]
    for flags in ([], ["--smoke"]):
        result = cli(["logs", run_id, *flags], project)
        assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr
        assert "(stdout.log is empty; the run wrote" in result.stderr, result.stderr
        assert f"clusterrun logs {run_id}{''.join(' ' + f for f in flags)} --stderr)" in result.stderr
        assert "INFO:root:epoch 0 loss=0.5" in _printed(project, [run_id, *flags, "--stderr"])
    assert "is empty" not in cli(["logs", run_id, "--stderr"], project).stderr
    (project / "runs" / run_id / "stderr.log").write_text("")  # a run that wrote nothing there
    silent = cli(["logs", run_id, "--stderr"], project)
    assert silent.returncode == 0 and silent.stdout == "" and "(stderr.log is empty)" in silent.stderr
    assert "(stdout.log is empty)" in cli(["logs", run_id], project).stderr  # both empty now
