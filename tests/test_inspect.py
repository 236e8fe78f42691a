"""show, logs and cancel: locally and on the real cluster."""

from __future__ import annotations

import getpass
import json
import re
import time
from pathlib import Path

import pytest

from tests.helpers import cli, git, manifest, no_traceback

SLEEPER = (
    "name: sleeper\ncommand: python -c \"import time; print('started', flush=True); time.sleep({secs})\"\n"
)


def _add_sleeper(project: Path, secs: int = 120) -> None:
    (project / "configs" / "sleep.yaml").write_text(SLEEPER.format(secs=secs))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "sleeper")


def _wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_show_and_logs_of_a_finished_run(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "--json"], project)
    run_id = json.loads(result.stdout)["run_id"]
    shown = cli(["show", run_id], project)
    assert shown.returncode == 0, shown.stderr
    assert "=== EXPERIMENT MANIFEST ===" in shown.stdout and "=== EXPERIMENT RESULTS ===" in shown.stdout
    assert "Status: SUCCESS" in shown.stdout and f"clusterrun reproduce {run_id}" in shown.stdout
    assert re.search(r"Resources Used: time \S+ of 00:05:00 \(\d+%\), memory \d+M of 500M", shown.stdout)
    as_json = json.loads(cli(["show", run_id, "--json"], project).stdout)
    assert as_json["summary"]["metrics"]["step"] == 200
    out = cli(["logs", run_id], project)
    assert out.returncode == 0 and out.stdout.count("loss=") == 201
    assert cli(["logs", run_id, "--smoke"], project).stdout.startswith("step 1 loss=")
    assert cli(["logs", run_id, "--stderr"], project).stdout == ""
    missing = cli(["logs", "nope_20990101-000000"], project)
    assert missing.returncode == 2
    no_traceback(missing)


@pytest.mark.parametrize("backend", ["local", pytest.param("slurm", marks=[pytest.mark.slurm])])
def test_cancel_records_who_and_ends_the_run(
    project: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "slurm":
        request.getfixturevalue("slurm")
    _add_sleeper(project)
    submitted = cli(
        ["submit", "configs/sleep.yaml", "--backend", backend, "--json", "--skip-smoke", "a sleep"], project
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["run_id"]
    run = project / "runs" / run_id
    _wait_for(run / "stdout.log", "started")
    cancelled = cli(["cancel", run_id], project)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancelled by {getpass.getuser()}" in cancelled.stderr
    done = cli(["status", "--watch", run_id], project, timeout=120)
    assert done.returncode == 0, done.stderr
    data = manifest(run)
    assert data["state"] == "cancelled" and data["cancel_requested"]["by"] == getpass.getuser()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success"] is False and summary["diagnosis"]["category"] == "cancelled"
    again = cli(["cancel", run_id], project)
    assert again.returncode == 1 and "not running" in again.stderr
