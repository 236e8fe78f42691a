"""The pieces of issue 11's progress display: display modes, the live runs table, the log follower, the
last-line reader of the smoke test's spinner, and the job comment's format (scheduler/naming.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from clusterrun.cli.display import display_mode, last_line
from clusterrun.cli.follow import STDERR_PREFIX, Followed, Tail, run_logs
from clusterrun.cli.live import RunsView, state_lines
from clusterrun.scheduler.naming import COMMENT_PREFIX, id_from_comment, job_comment
from clusterrun.services.status import RunStatus, StatusReport


def test_display_mode_live_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    master, slave = os.openpty()
    tty = open(slave, "w")  # noqa: SIM115 - closed below
    try:
        assert display_mode(tty) == "live"
        assert display_mode(tty, quiet=True) == "quiet"
        assert display_mode(io.StringIO()) == "plain"  # a pipe, a file
        monkeypatch.setenv("NO_COLOR", "1")
        assert display_mode(tty) == "plain"
        monkeypatch.delenv("NO_COLOR")
        monkeypatch.setenv("TERM", "dumb")
        assert display_mode(tty) == "plain"
    finally:
        tty.close()
        os.close(master)


def _run(run_id: str, state: str, **kw: object) -> RunStatus:
    return RunStatus(run_id, "q", state, kw.pop("job_id", "101"), "slurm", **kw)  # type: ignore[arg-type]


def _render(view: RunsView, height: int = 40) -> str:
    out = Console(width=140, height=height, record=True, file=io.StringIO(), color_system=None)
    out.print(view)
    return out.export_text()


def test_runs_view_shows_state_reason_elapsed_and_latest_metrics() -> None:
    view = RunsView()
    view.update(
        StatusReport(
            [
                _run("q_1", "pending", reason="QOSMaxJobsPerUserLimit"),
                _run("q_2", "running", elapsed_seconds=75, node="vm", metrics={"loss": 0.25, "step": 30}),
                _run("q_3", "failed", elapsed_seconds=3),
            ],
            ["SLURM did not answer"],
            1,
        )
    )
    text = _render(view)
    assert text.count("RUN ID") == 1 and "3 run(s), 1 ended" in text
    pending = next(line for line in text.splitlines() if "q_1" in line)
    assert "PENDING" in pending and "a limit of your QOS" in pending  # the reason in words
    assert "Waiting: q_1: a limit of your QOS (QOSMaxJobsPerUserLimit)" in text  # and as SLURM says it
    running = next(line for line in text.splitlines() if "q_2" in line)
    assert "RUNNING" in running and "loss=0.25 step=30" in running and "00:01:1" in running
    assert "FAILED=1" in text and "PENDING=1" in text and "1/3 ended" in text  # counts and the bar
    assert "warning: SLURM did not answer" in text


def test_runs_view_keeps_to_the_screen_with_active_runs_first() -> None:
    view = RunsView()
    runs = [_run(f"q_{i}", "completed") for i in range(40)] + [_run("q_live", "running")]
    view.update(StatusReport(runs, [], 1))
    text = _render(view, height=20)
    assert "q_live" in text and "more" in text and len(text.splitlines()) <= 20


def test_state_lines_print_changes_only(capsys: pytest.CaptureFixture[str]) -> None:
    show = state_lines()
    show(StatusReport([_run("q_1", "pending", reason="Priority")], [], 1))
    show(StatusReport([_run("q_1", "pending", reason="Priority")], [], 1))
    show(StatusReport([_run("q_1", "running", node="vm")], [], 1))
    assert capsys.readouterr().err.splitlines() == [
        "q_1: PENDING, behind higher-priority jobs (Priority)",
        "q_1: RUNNING on vm",
    ]


def test_followed_copies_complete_lines_then_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    out = io.StringIO()
    followed = Followed(log, out, "[r] ")
    assert followed.poll() == 0  # not written yet
    log.write_bytes(b"one\ntw")
    followed.poll()
    assert out.getvalue() == "[r] one\n"  # the partial line waits for its end
    with open(log, "ab") as handle:
        handle.write(b"o\nthree")
    followed.poll()
    followed.poll(final=True)
    assert out.getvalue() == "[r] one\n[r] two\n[r] three\n"


def test_followed_shows_a_progress_bar_as_its_last_state_not_each_redraw(tmp_path: Path) -> None:
    # tqdm redraws its bar with carriage returns and ends it with a newline: `logs -f` printed each of
    # its hundreds of states as a line of its own
    log = tmp_path / "stderr.log"
    err = io.StringIO()
    followed = Followed(log, err, STDERR_PREFIX)
    bar = "".join(f"\repoch 0: {i}/63" for i in range(64))
    log.write_bytes(f"loading\r\n{bar}".encode())
    followed.poll()
    assert err.getvalue() == f"{STDERR_PREFIX}loading\n"  # the bar's line has not ended yet
    with open(log, "ab") as handle:
        handle.write(b"\nepoch 0 val_loss 0.1\nlast\rlast, redrawn")
    followed.poll()
    followed.poll(final=True)
    lines = err.getvalue().splitlines()
    assert lines == [
        f"{STDERR_PREFIX}{x}" for x in ("loading", "epoch 0: 63/63", "epoch 0 val_loss 0.1", "last, redrawn")
    ]


def test_tail_follows_stdout_and_stderr_as_they_grow(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    files = run_logs(tmp_path, out=out, err=err)
    with Tail(files, interval=0.05):
        for i in range(3):
            with open(tmp_path / "stdout.log", "a") as handle:
                handle.write(f"line {i}\n")
            time.sleep(0.15)
            assert out.getvalue().splitlines()[-1] == f"line {i}"  # there before the next is written
        (tmp_path / "stderr.log").write_text("oops\n")
    assert err.getvalue() == f"{STDERR_PREFIX}oops\n"  # no colour: not a terminal


def test_last_line_of_the_newest_log(tmp_path: Path) -> None:
    old, new = tmp_path / "stdout.log", tmp_path / "stderr.log"
    old.write_text("step 1\nstep 2\n")
    new.write_text("progress 10%\rprogress 90%\n\n")
    os.utime(old, (1, 1))
    assert last_line([old, new, tmp_path / "missing"]) == "progress 90%"
    assert last_line([tmp_path / "missing"]) == ""


def test_job_comment_names_the_run_and_reads_back() -> None:
    comment = job_comment("quickstart_20261202-101500-2")
    assert comment == f"{COMMENT_PREFIX}quickstart_20261202-101500-2"
    assert id_from_comment(comment) == "quickstart_20261202-101500-2"
    assert id_from_comment("clusterrun:q-sweep_20261202-101500") == "q-sweep_20261202-101500"
    for other in ("", "nightly build", "clusterrun:", "clusterrun:../etc", "clusterrun:a b"):
        assert id_from_comment(other) is None
    with pytest.raises(ValueError):
        job_comment("not an id")


def test_the_command_modules_do_not_import_rich() -> None:
    """rich is imported only when something is drawn: `clusterrun --help` and piped commands stay fast."""
    code = (
        "import sys, clusterrun.cli.submit, clusterrun.cli.status, clusterrun.cli.logs; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
