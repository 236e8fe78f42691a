"""Issue 11, items 4-6 against the real local SLURM cluster: the live table in a real terminal (tmux) with
the queue's reason for a pending job, plain output when piped, logs followed as the job writes them, the
early-failure watch, and jobs named after their runs in squeue, sacct and scancel -n."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, manifest, no_traceback, only_run
from tests.live_helpers import Terminal, holding_sbatch, ticker_project, ticks

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

ESC = "\x1b"


@pytest.fixture
def ticker(tmp_path: Path) -> Path:
    return ticker_project(tmp_path / "proj")


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    term = Terminal(tmp_path)
    yield term  # type: ignore[misc]
    term.close()


def slurm(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True, timeout=60).stdout


def held_submit(project: Path, tmp_path: Path, *extra: str) -> dict[str, object]:
    """Submit through an sbatch that holds the job: it stays PENDING (JobHeldUser) until released."""
    result = cli(
        ["submit", "configs/ticker.yaml", "--backend", "slurm", "--json", *extra],
        project,
        env=holding_sbatch(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _wait_state(project: Path, run_id: str, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while manifest(project / "runs" / run_id)["state"] != state:
        assert time.monotonic() < deadline, manifest(project / "runs" / run_id)["state"]
        cli(["status", run_id], project, env={"CLUSTERRUN_POLL_MAX_AGE": "0"})
        time.sleep(1)


def test_status_watch_redraws_one_table_with_the_queue_reason(
    ticker: Path, tmp_path: Path, terminal: Terminal
) -> None:
    data = held_submit(ticker, tmp_path)
    run_id, job_id = str(data["run_id"]), str(data["job_id"])
    try:
        terminal.start(["status", run_id, "--watch"], ticker)
        first = terminal.wait_for("JobHeldUser", timeout=60)  # squeue's reason, for the pending job
        row = next(line for line in first.splitlines() if run_id in line)
        assert "PENDING" in row and "held" in row and job_id in row  # the reason in words
        # below the table: the scheduler's own word, and what to do about it
        said = f"Waiting: {run_id}: held (JobHeldUser) -> to let it start: scontrol release {job_id}"
        assert said in " ".join(first.split())  # (wrapped on a narrow terminal)
        shown = cli(["show", run_id], ticker)  # show says it too, under the run's state
        assert "State: PENDING" in shown.stdout and said in shown.stdout.splitlines(), shown.stdout
        time.sleep(2.5)
        second = terminal.screen()
        # the same single table, redrawn in place: not a growing scroll of tables
        assert first.count("RUN ID") == 1 and second.count("RUN ID") == 1, second
        assert second != first  # it changed (the refresh clock ticks) without adding a table
    finally:
        slurm("scontrol", "release", job_id)
    final = terminal.wait_for("exit=0", timeout=400)  # the node may be busy with other jobs
    assert final.count("RUN ID") == 1  # the live table was cleared; the final table printed once
    assert "COMPLETED" in final and "=== EXPERIMENT RESULTS ===" in final and "JobHeldUser" not in final
    piped = cli(["status", run_id, "--watch"], ticker, env={"TERM": "xterm-256color"})
    assert piped.returncode == 0 and "1 run(s), 1 ended" in piped.stdout
    assert ESC not in piped.stdout + piped.stderr  # no terminal: plain text, no escape codes


def test_submit_wait_in_a_terminal_shows_the_smoke_spinner_then_one_live_table(
    ticker: Path, tmp_path: Path, terminal: Terminal
) -> None:
    terminal.start(
        ["submit", "configs/ticker.yaml", "--backend", "slurm", "--wait"], ticker, holding_sbatch(tmp_path)
    )
    first = terminal.wait_for("JobHeldUser", timeout=120)
    job_id = str(manifest(only_run(ticker))["job_id"])
    try:
        assert "smoke test: running it locally with smoke.params (timeout 60 s): done after" in first
        assert "=== EXPERIMENT MANIFEST ===" in first
        time.sleep(2.5)
        second = terminal.screen()
        assert first.count("RUN ID") == 1 and second.count("RUN ID") == 1 and second != first, second
    finally:
        slurm("scontrol", "release", job_id)
    final = terminal.wait_for("exit=0", timeout=400)  # the node may be busy with other jobs
    assert "Status: SUCCESS" in final and "Key Metrics: final_loss=0.5 tick=6" in final
    assert final.count("RUN ID") == 0  # the live table went away; the results block stayed


def test_follow_streams_the_job_output_and_logs_follow_too(ticker: Path) -> None:
    followed = cli(["submit", "configs/ticker.yaml", "--backend", "slurm", "--wait", "--follow"], ticker)
    assert followed.returncode == 0, followed.stderr
    out = followed.stdout
    assert ticks(out) == [f"tick {i} of 6" for i in range(1, 7)]  # every line, in order
    assert out.index("tick 6 of 6") < out.index("final loss=0.5") < out.index("=== EXPERIMENT RESULTS ===")
    assert "[stderr] warn at tick 2" in followed.stderr
    assert ESC not in out + followed.stderr
    submitted = cli(
        ["submit", "configs/ticker.yaml", "--backend", "slurm", "--json", "params.lines=4"], ticker
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["run_id"]
    logs = cli(["logs", run_id, "-f"], ticker)
    assert logs.returncode == 0, logs.stderr
    assert ticks(logs.stdout) == [f"tick {i} of 4" for i in range(1, 5)]
    assert "[stderr] warn at tick 2" in logs.stderr and "Status: SUCCESS" in logs.stderr


def test_early_watch_reports_a_job_that_fails_on_the_cluster(ticker: Path) -> None:
    started = time.monotonic()
    result = cli(
        [
            *("submit", "configs/broken.yaml", "--backend", "slurm"),
            *("--skip-smoke", "it fails on purpose", "--watch-seconds", "300"),
        ],
        ticker,
        timeout=400,
    )
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 300  # it ended the watch early: it failed
    no_traceback(result)
    assert (
        "1 of 1 run(s) failed on start" in result.stderr and "no_such_module_for_clusterrun" in result.stderr
    )
    assert "Status: FAILURE (failed)" in result.stdout
    assert manifest(only_run(ticker))["state"] == "failed"


def _comment(job_id: str) -> str:
    """The job's comment as sacct keeps it (the database stores comments only with
    AccountingStoreFlags=job_comment), else as slurmctld still knows it (MinJobAge)."""
    flags = slurm("scontrol", "show", "config")
    if "job_comment" in flags:
        return slurm("sacct", "-X", "-n", "-P", "-j", job_id, "--format=Comment%80").strip()
    shown = slurm("scontrol", "show", "job", job_id)
    return next(word.split("=", 1)[1] for word in shown.split() if word.startswith("Comment="))


def _sacct_names(job_id: str, rows: int = 1) -> list[str]:
    deadline = time.monotonic() + 60
    while True:  # accounting may lag the submission a moment
        out = slurm("sacct", "-n", "-P", "-j", job_id, "--format=JobID,JobName%60")
        names = [line.split("|")[1] for line in out.splitlines() if "." not in line.split("|")[0]]
        if len(names) >= rows or time.monotonic() > deadline:
            return names
        time.sleep(1)


def test_jobs_are_named_after_their_run_and_scancel_n_finds_them(ticker: Path, tmp_path: Path) -> None:
    data = held_submit(ticker, tmp_path)
    run_id, job_id = str(data["run_id"]), str(data["job_id"])
    assert slurm("squeue", "-h", "-j", job_id, "-o", "%j|%k").strip() == f"{run_id}|clusterrun:{run_id}"
    assert _sacct_names(job_id) == [run_id]
    assert _comment(job_id) == f"clusterrun:{run_id}"  # machine-readable: scheduler/naming.py
    slurm("scancel", "-n", run_id)  # what a SLURM user types, with the id clusterrun printed
    _wait_state(ticker, run_id, "cancelled")


def test_a_sweep_is_one_array_named_after_the_sweep_with_its_task_map(ticker: Path, tmp_path: Path) -> None:
    data = held_submit(ticker, tmp_path, "--sweep", "params.lines=1,2,3")
    sweep_id = str(data["sweep_id"])
    record = json.loads((ticker / "runs" / sweep_id / "sweep.json").read_text())
    [array] = record["arrays"]
    members = [m["run_id"] for m in record["members"]]
    assert array["size"] == 3 and sorted(array["members"]) == sorted(members)
    for task, run_id in enumerate(array["members"]):  # task i of the array runs members[i]
        assert manifest(ticker / "runs" / run_id)["job_id"] == f"{array['job_id']}_{task}"
    queued = slurm("squeue", "-h", "-r", "-j", array["job_id"], "-o", "%i|%j|%k").split()
    assert sorted(queued) == [f"{array['job_id']}_{i}|{sweep_id}|clusterrun:{sweep_id}" for i in range(3)]
    assert set(_sacct_names(array["job_id"], rows=1)) == {sweep_id}
    slurm("scancel", "-n", sweep_id)
    for run_id in members:
        _wait_state(ticker, run_id, "cancelled")
