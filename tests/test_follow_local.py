"""Issue 11, items 4-5 on the local backend (the same code paths as on SLURM, which test_live_slurm.py
runs against the real cluster): logs followed as they are written, the early-failure watch, --quiet, and
plain output (no escape codes) when nobody is looking."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import (
    cli,
    cli_started,
    count_manifest_reads,
    make_project,
    manifest,
    no_traceback,
    only_run,
)
from tests.live_helpers import ticker_project, ticks

ESC = "\x1b"


@pytest.fixture
def ticker(tmp_path: Path) -> Path:
    return ticker_project(tmp_path / "proj")


def test_submit_wait_follow_streams_the_job_output_as_it_is_written(ticker: Path) -> None:
    lines: list[str] = []
    early = None
    with cli_started(
        ["submit", "configs/ticker.yaml", "--backend", "local", "--wait", "--follow"], ticker
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("tick 1 ") and early is None:  # what the job had written by then
                early = (only_run(ticker) / "stdout.log").read_text()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0, err
    assert early is not None and "final loss" not in early  # printed while the job still ran
    out = "\n".join(lines)
    assert ticks(out) == [f"tick {i} of 6" for i in range(1, 7)]  # every line, in order
    assert out.index("tick 6 of 6") < out.index("final loss=0.5") < out.index("=== EXPERIMENT RESULTS ===")
    assert "[stderr] warn at tick 2" in err.splitlines()  # the job's stderr, marked
    assert ESC not in out + err  # not a terminal: no colour, no cursor movement


def test_logs_follow_streams_stdout_and_stderr_until_the_run_ends(ticker: Path) -> None:
    submitted = cli(["submit", "configs/ticker.yaml", "--backend", "local", "--json"], ticker)
    assert submitted.returncode == 0, submitted.stderr
    assert "watching the start" not in submitted.stderr  # no terminal: no early watch unless asked
    run_id = json.loads(submitted.stdout)["run_id"]
    followed = cli(["logs", run_id, "-f"], ticker, timeout=120)
    assert followed.returncode == 0, followed.stderr
    assert ticks(followed.stdout) == [f"tick {i} of 6" for i in range(1, 7)]
    assert followed.stdout.rstrip().endswith("final loss=0.5")
    assert "[stderr] warn at tick 2" in followed.stderr
    assert "=== EXPERIMENT RESULTS ===" in followed.stderr and "Status: SUCCESS" in followed.stderr
    assert ESC not in followed.stdout + followed.stderr
    assert manifest(ticker / "runs" / run_id)["state"] == "completed"


def test_early_watch_reports_a_job_that_fails_on_start(ticker: Path) -> None:
    started = time.monotonic()
    result = cli(
        [
            *("submit", "configs/broken.yaml", "--backend", "local"),
            *("--skip-smoke", "fails on purpose", "--watch-seconds", "60"),
        ],
        ticker,
    )
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 60  # reported when it failed, not at the end of the watch
    no_traceback(result)
    assert "1 of 1 run(s) failed on start" in result.stderr
    assert "no_such_module_for_clusterrun" in result.stderr  # the diagnosis names the missing module
    assert "Status: FAILURE" in result.stdout and "Diagnosis:" in result.stdout
    summary = json.loads((only_run(ticker) / "summary.json").read_text())
    assert summary["state"] == "failed" and summary["diagnosis"]["category"] == "missing_module"


def test_no_watch_and_no_terminal_skip_the_early_watch(ticker: Path) -> None:
    base = ["submit", "configs/broken.yaml", "--backend", "local", "--skip-smoke", "fails on purpose"]
    for extra in ([], ["--no-watch", "--watch-seconds", "60"]):
        result = cli([*base, *extra], ticker)
        assert result.returncode == 0, result.stderr
        assert "watching the start" not in result.stderr and "follow it with" in result.stderr


def test_quiet_prints_only_the_run_id(ticker: Path) -> None:
    result = cli(
        ["submit", "configs/ticker.yaml", "--backend", "local", "--wait", "--quiet", "params.lines=2"], ticker
    )
    assert result.returncode == 0, result.stderr
    run_id = only_run(ticker).name
    assert result.stdout == f"{run_id}\n"
    assert "smoke test" not in result.stderr and "MANIFEST" not in result.stderr + result.stdout
    assert manifest(only_run(ticker))["state"] == "completed"


def test_plain_wait_prints_state_changes_without_escape_codes(ticker: Path) -> None:
    result = cli(["submit", "configs/ticker.yaml", "--backend", "local", "--wait", "params.lines=3"], ticker)
    assert result.returncode == 0, result.stderr
    run_id = only_run(ticker).name
    assert f"{run_id}: RUNNING" in result.stderr.splitlines()
    assert "smoke test: running it locally" in result.stderr  # no spinner: the plain line
    assert ESC not in result.stdout + result.stderr
    watched = cli(["status", run_id, "--watch"], ticker, env={"TERM": "xterm-256color"})
    assert watched.returncode == 0 and "1 run(s), 1 ended" in watched.stdout and ESC not in watched.stdout
    quiet = cli(["status", run_id, "--watch", "--quiet"], ticker)
    assert quiet.returncode == 0 and "run(s)," not in quiet.stdout and "COMPLETED" in quiet.stdout


def test_follow_with_json_keeps_stdout_one_document(ticker: Path) -> None:
    result = cli(
        ["submit", "configs/ticker.yaml", "--backend", "local", "--follow", "--json", "params.lines=3"],
        ticker,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["state"] == "completed"  # the job's lines went to stderr
    assert ticks(result.stderr) == [f"tick {i} of 3" for i in range(1, 4)]


def test_a_watch_reads_each_run_once_at_its_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`status --watch` hands what its listing read to the watch's first refresh: each run's manifest is
    read once, not once by the listing and again by the refresh, and the view is the same."""
    from clusterrun.records.registry import Registry
    from clusterrun.services.listing import StatusQuery, status

    config = "name: quick\ncommand: 'true'\nresources: {time: '00:05:00', mem: 100M, cpus_per_task: 1}\n"
    project = make_project(tmp_path / "proj", {"configs/quick.yaml": config})
    for _ in range(2):
        done = cli(["submit", "configs/quick.yaml", "--backend", "local", "--wait", "--force"], project)
        assert done.returncode == 0, done.stderr
    reads = count_manifest_reads(monkeypatch)
    seen: list[object] = []
    view = status(Registry(project / "runs"), StatusQuery(), watch=True, on_refresh=seen.append)
    states = [r.state for r in view.report.runs]
    assert len(states) == 2 and set(states) == {"completed"} and len(seen) == 1
    assert sorted(reads) == sorted({r.run_id for r in view.report.runs})  # each once
    assert all(r.summary is not None for r in view.report.runs)  # the rows keep their results
