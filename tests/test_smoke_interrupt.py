"""`clusterrun submit` stopped during its smoke test (Ctrl-C, SIGTERM, SIGHUP), or a smoke test past its
timeout: no process of the test's group (nor a child that left it) survives, and the run ends in the
terminal state `interrupted`, which status and show report. Through real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import REPO, cli, cli_started, git, manifest, no_traceback, only_run

SPAWN = """\
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "1000"])
escaped = subprocess.Popen(["setsid", "sleep", "1000"])  # leaves the smoke test's process group
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(f"{os.getpgid(0)} {child.pid} {escaped.pid} {os.getpid()}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(1000)
"""


def _config(project: Path, pidfile: Path, timeout: int) -> str:
    (project / "spawn.py").write_text(SPAWN)
    (project / "configs" / "spawn.yaml").write_text(
        "name: spawn\ncommand: python spawn.py {pidfile}\n"
        f"params: {{pidfile: {json.dumps(str(pidfile))}}}\n"
        f"smoke: {{timeout: {timeout}}}\nresources: {{time: '00:05:00', mem: 500M}}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "spawn")
    return "configs/spawn.yaml"


def _wait_for(path: Path, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return [int(n) for n in path.read_text().split()]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group(pgid: int) -> list[int]:
    """The running (not zombie) processes of a process group."""
    found = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return found


def _assert_all_stopped(pids: list[int]) -> None:
    pgid, child, escaped, command = pids
    deadline = time.monotonic() + 10  # stopping takes a SIGTERM, a grace period, then SIGKILL
    while time.monotonic() < deadline and (_group(pgid) or _running(escaped)):
        time.sleep(0.1)
    assert not _group(pgid), f"processes of the smoke test's group survived: {_group(pgid)}"
    assert not any(_running(p) for p in (child, escaped, command)), "a process of the smoke test survived"


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_during_the_smoke_test_stops_its_tree_and_marks_the_run(
    project: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    pidfile = tmp_path / "spawn.pids"
    config = _config(project, pidfile, timeout=600)
    submit = cli_started(["submit", config, "--backend", "local"], project)
    try:
        pids = _wait_for(pidfile)
        submit.send_signal(sig)
        stdout, stderr = submit.communicate(timeout=60)
    finally:
        if submit.poll() is None:
            submit.kill()
            submit.communicate()
    _assert_all_stopped(pids)
    name = signal.Signals(sig).name
    assert submit.returncode == 130, stderr
    error = f"error: interrupted by {name} during the smoke test: nothing was submitted; spawn_"
    assert error in stderr and "marked interrupted" in stderr and "\nhint: " in stderr, stderr
    assert "Traceback" not in stderr + stdout
    run = only_run(project)
    record = manifest(run)
    assert record["state"] == "interrupted" and record["job_id"] in (None, "")
    assert name in record["state_history"][-1]["note"]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "state" and events[-1]["state"] == "interrupted"
    status = cli(["status", "--json"], project)
    assert status.returncode == 0, status.stderr
    assert [r["state"] for r in json.loads(status.stdout)["runs"]] == ["interrupted"]
    shown = cli(["show", run.name], project)
    no_traceback(shown)
    assert "State: INTERRUPTED" in shown.stdout and name in shown.stdout and "--watch" not in shown.stdout
    failed = cli(["status", "@latest-failed", "--json"], project)  # an interrupted run did not succeed
    assert failed.returncode == 0 and run.name in failed.stdout


def test_the_smoke_timeout_stops_the_whole_tree(project: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "spawn.pids"
    config = _config(project, pidfile, timeout=3)
    started = time.monotonic()
    result = cli(["submit", config, "--backend", "local"], project, timeout=120)
    assert time.monotonic() - started < 60
    no_traceback(result)
    assert result.returncode == 1 and "smoke test FAILED (timed out)" in result.stderr
    _assert_all_stopped(_wait_for(pidfile, timeout=1))
    record = manifest(only_run(project))
    assert record["state"] == "smoke_failed" and record["smoke"]["timed_out"] is True
    assert record["smoke"]["diagnosis"]["category"] == "time_limit"
    shown = cli(["show", only_run(project).name], project)
    assert "Smoke Test Diagnosis: time_limit: smoke test timed out after 3 s" in shown.stdout
    assert "smoke/stderr.log" in shown.stdout and Path(record["smoke"]["stderr_path"]).is_file()


def test_a_smoke_failure_is_shown_for_every_member_with_logs_that_exist(project: Path) -> None:
    (project / "fail.py").write_text(
        "import sys\nsys.stderr.write('warning: /tmp/cache: No such file or directory\\n')\n"
        "raise ValueError('bad value for ' + sys.argv[1])\n"
    )
    (project / "configs" / "fail.yaml").write_text(
        "name: fail\ncommand: python fail.py {tag}\nparams: {tag: a}\nsmoke: {timeout: 60}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "fail")
    result = cli(["submit", "configs/fail.yaml", "--backend", "local", "--sweep", "params.tag=a,b"], project)
    no_traceback(result)
    assert result.returncode == 1 and "smoke test FAILED" in result.stderr
    runs = sorted(p for p in (project / "runs").glob("fail_*") if (p / "manifest.json").is_file())
    assert len(runs) == 2
    lead = manifest(runs[0])["smoke"]["tested_in"]
    for run in runs:  # the one that ran the test, and the one that shares its result
        record = manifest(run)
        assert record["state"] == "smoke_failed"
        diagnosis = record["smoke"]["diagnosis"]
        assert diagnosis["category"] == "unknown" and "ValueError: bad value" in diagnosis["evidence"]
        assert "No such file" not in diagnosis["evidence"]  # a warning before the traceback is not its cause
        assert f"clusterrun logs {lead} --smoke --stderr" in diagnosis["fix"]
        shown = cli(["show", run.name], project)
        no_traceback(shown)
        assert "Smoke Test Diagnosis: unknown:" in shown.stdout and "--watch" not in shown.stdout
        logs_line = next(line for line in shown.stdout.splitlines() if line.startswith("Smoke Test Logs: "))
        assert Path(logs_line.split()[3]).is_file() and "/smoke/stderr.log" in logs_line
        logs = cli(["logs", run.name, "--smoke", "--stderr"], project)
        assert logs.returncode == 0 and "ValueError: bad value" in logs.stdout, logs.stderr


def test_a_submit_killed_with_sigkill_leaves_no_run_created_forever(project: Path, tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the run's record names its submitting process, and the next `status`
    sees that process gone, stops the smoke test that outlived it and marks the run interrupted (a run
    never stays `created` for ever, its smoke test never runs on for ever)."""
    pidfile = tmp_path / "spawn.pids"
    config = _config(project, pidfile, timeout=600)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CLUSTERRUN_RUNS_DIR", None)
    submit = subprocess.Popen(
        [sys.executable, "-m", "clusterrun", "submit", config, "--backend", "local"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids: list[int] = []
    try:
        pids = _wait_for(pidfile)
        run = only_run(project)
        live = cli(["status", "--json"], project)  # while the submitter lives, the run is its own
        assert [r["state"] for r in json.loads(live.stdout)["runs"]] == ["created"], live.stdout
        submit.kill()
        submit.wait(timeout=30)
    finally:
        if submit.poll() is None:
            submit.kill()
    record = manifest(run)
    assert record["state"] == "created" and record["submitter"]["pid"] == submit.pid
    assert any(_running(pid) for pid in pids[1:])  # the smoke test outlived its submit
    status = cli(["status", "--json"], project)
    assert status.returncode == 0, status.stderr
    assert [r["state"] for r in json.loads(status.stdout)["runs"]] == ["interrupted"]
    _assert_all_stopped(pids)  # ... until that status stopped its whole tree
    after = manifest(run)
    assert after["state"] == "interrupted"
    assert "submitting process ended" in after["state_history"][-1]["note"]
