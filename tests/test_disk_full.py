"""A full disk (issue 9, item 11): `submit` says so in one line (exit 3) and leaves nothing half-made;
`status` still lists everything it can read, and records what it could not once there is room.

The registry lives on a small tmpfs of its own (mounting needs root; CI runs as root), filled to the
last byte: the real ENOSPC of a real filesystem, through the real CLI.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterrun.errors import DiskFull, ExitStatus
from clusterrun.records.jsonio import append_jsonl, write_json_atomic
from clusterrun.records.registry import Registry
from tests.helpers import REPO, cli, git, manifest, no_traceback


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the suite as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8M,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    """Write a file until the filesystem has not one byte left."""
    filler = mount / ".filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def run_dirs(registry: Path) -> list[str]:
    return sorted(p.name for p in registry.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_submit_on_a_full_disk_says_so_and_leaves_nothing_half_made(project: Path, small_disk: Path) -> None:
    registry = small_disk / "runs"
    env = {"CLUSTERRUN_RUNS_DIR": str(registry), "CLUSTERRUN_POLL_MAX_AGE": "0"}
    first = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "-q"], project, env)
    assert first.returncode == 0, first.stderr
    [done] = run_dirs(registry)
    # as if the run had ended while the disk filled up: status has its end still to record
    data = manifest(registry / done)
    data["state"] = "running"
    (registry / done / "manifest.json").write_text(json.dumps(data))
    (registry / done / "summary.json").unlink()
    filler = fill(small_disk)

    again = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--force", "-q"], project, env)
    assert again.returncode == ExitStatus.ENVIRONMENT, again.stderr
    errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: disk full while writing {registry}"), (
        again.stderr
    )
    assert "hint: free space" in again.stderr
    no_traceback(again)
    assert run_dirs(registry) == [done]  # the new run's directory was removed, not left half-made
    sweep = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--sweep",
            "params.lr=0.1,0.2",
            "--backend",
            "local",
            "--force",
        ],
        project,
        env,
    )
    assert sweep.returncode == ExitStatus.ENVIRONMENT and "disk full while writing" in sweep.stderr
    assert run_dirs(registry) == [done]  # neither the members nor the sweep's own directory stay

    status = cli(["status"], project, env)
    assert status.returncode == 0, status.stderr
    no_traceback(status)
    assert done in status.stdout and "COMPLETED" in status.stdout.upper()
    assert "disk full while writing" in status.stderr
    assert manifest(registry / done)["state"] == "running"  # not recorded: there was no room
    as_json = cli(["status", "--json"], project, env)
    assert as_json.returncode == 0 and done in as_json.stdout

    filler.unlink()
    later = cli(["status"], project, env)
    assert later.returncode == 0 and "disk full" not in later.stderr
    assert manifest(registry / done)["state"] == "completed"
    assert json.loads((registry / done / "summary.json").read_text())["success"]


def test_a_full_disk_is_a_disk_full_error_naming_the_file(small_disk: Path) -> None:
    registry = Registry(small_disk / "runs")
    run = registry.create("x")
    fill(small_disk)
    target = run.path / "record.json"
    with pytest.raises(DiskFull) as caught:
        write_json_atomic(target, {"data": "x" * 10_000})
    assert caught.value.message == f"disk full while writing {target}"
    assert caught.value.exit_status == ExitStatus.ENVIRONMENT and caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value, OSError)  # code that tolerates an unwritable file tolerates it
    assert [p.name for p in run.path.iterdir()] == []  # no temporary file left behind
    with pytest.raises(DiskFull, match=r"events\.jsonl"):
        append_jsonl(run.path / "events.jsonl", {"event": "x" * 10_000})


def test_a_snapshot_that_does_not_fit_is_one_line_and_removed(project: Path, small_disk: Path) -> None:
    registry = small_disk / "runs"
    env = {"CLUSTERRUN_RUNS_DIR": str(registry)}
    assert (
        cli(
            ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run", "-q"], project, env
        ).returncode
        == 0
    )
    before = sorted(p.name for p in (registry / ".snapshots").iterdir())
    (project / "examples" / "quickstart" / "more.py").write_text("x = 1\n" * 2000)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "more code: a new snapshot")
    fill(small_disk)
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project, env)
    assert result.returncode == ExitStatus.ENVIRONMENT, result.stderr
    assert result.stderr.splitlines()[0] == f"error: disk full while writing {registry / '.snapshots'}"
    no_traceback(result)
    assert sorted(p.name for p in (registry / ".snapshots").iterdir()) == before


def test_a_disk_that_fills_once_the_jobs_are_accepted_leaves_no_ran_job_untracked(
    project: Path, small_disk: Path
) -> None:
    """The local backend accepts a sweep's jobs, then the disk fills (a real ENOSPC on a real tmpfs, at
    the moment submitit's submission returns) before any job id is recorded. The promise: the error
    says the jobs went through (not "nothing half-made was kept"), their run directories stay, and
    every job is found by `status` from its own record and ends with its real state, never
    `submit_failed`. The jobs are held (SIGSTOP) while the disk is full and let go once it has room:
    a job whose wrapper ran on the full disk could not record its end, and is honestly `lost`."""
    registry = small_disk / "runs"
    # in a process of its own, as the CLI runs (submitit's local jobs are that process's children):
    # the real submit, with the disk filled the moment the local backend has launched the jobs
    script = f"""
import json, sys
sys.path.insert(0, {str(REPO)!r})
import psutil
from tests.test_disk_full import fill
from pathlib import Path
from clusterrun import api
from clusterrun.errors import DiskFull
from clusterrun.scheduler.local import LocalScheduler
disk = Path({str(small_disk)!r})
held = []
real = LocalScheduler.submit_array
def accepted_then_full(self, *args, **kwargs):
    submitted = real(self, *args, **kwargs)
    for job in submitted:  # each controller first (it starts no task once stopped), then its tasks
        try:
            controller = psutil.Process(int(job.job_id))
            controller.suspend()
            held.append(controller)
            for task in controller.children(recursive=True):
                task.suspend()
                held.append(task)
        except psutil.NoSuchProcess:  # it ran and ended while the next ones were launched: the disk had room
            continue
    fill(disk)  # the jobs are launched; the disk is full from here on
    return submitted
LocalScheduler.submit_array = accepted_then_full
try:
    api.submit("configs/quickstart.yaml", "params.steps=1", sweep=["params.lr=0.1,0.2,0.3"],
               backend="local", skip_smoke="disk test", yes=True, runs_dir=str(disk / "runs"))
except DiskFull as exc:
    print(json.dumps({{"message": exc.message, "hint": exc.hint}}))
finally:
    (disk / ".filler").unlink(missing_ok=True)  # room again, then the jobs go on
    for process in held:
        try:
            process.resume()
        except psutil.NoSuchProcess:  # a task that ended before it was stopped, with its controller's end
            pass
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stdout + done.stderr
    full = json.loads(done.stdout.strip().splitlines()[-1])
    assert "went through and run" in full["hint"] and "nothing half-made" not in full["hint"]
    members = [name for name in run_dirs(registry) if "-sweep_" not in name]
    assert len(members) == 3  # kept: their jobs run
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cli(["status"], project, {"CLUSTERRUN_RUNS_DIR": str(registry), "CLUSTERRUN_POLL_MAX_AGE": "0"})
        states = {name: manifest(registry / name)["state"] for name in members}
        if all(state not in ("submitting", "submitted", "running", "pending") for state in states.values()):
            break
        time.sleep(0.5)
    for name in members:
        record = manifest(registry / name)
        assert (registry / name / "job_env.json").is_file(), f"{name}: its job never started"
        assert record["job_id"] == json.loads((registry / name / "job_env.json").read_text())["job_id"]
        assert record["state"] == "completed", (name, record["state"])
