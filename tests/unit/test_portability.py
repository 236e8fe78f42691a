"""What differs between operating systems goes through clusterrun/portable.py: process liveness, tree
memory and stopping through psutil (no /proc), ru_maxrss in the right unit, file locks through one
helper, and a Windows without fcntl/pwd that still imports clusterrun and says what it cannot do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from clusterrun import portable
from clusterrun.errors import ClusterrunError, ExitStatus
from clusterrun.execution import smoke
from clusterrun.execution.smoke import run_smoke
from clusterrun.records.registry import Registry
from clusterrun.scheduler import local

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "clusterrun"


def _wait_for(path: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().strip()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_no_linux_only_interface_is_left_in_the_package() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "portable.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(word in line for word in ('"/proc', 'f"/proc', "ru_maxrss / 1024", "import fcntl", "fcntl."))
    ]
    assert not offenders, "\n".join(offenders)


def test_liveness_through_psutil_tells_running_dead_and_zombie_apart(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "submitit-marker"])
    try:
        assert portable.alive(sleeper.pid)
        assert portable.alive(sleeper.pid, command_contains="submitit-marker")
        assert not portable.alive(sleeper.pid, command_contains="something-else")
        assert local._alive(sleeper.pid)  # the local backend's controller check: "submitit" in its argv
        sleeper.kill()
        deadline = time.monotonic() + 10
        while psutil.Process(sleeper.pid).status() != psutil.STATUS_ZOMBIE:  # killed, not reaped yet
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert not portable.alive(sleeper.pid) and not local._alive(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not portable.alive(sleeper.pid)  # reaped: no such process


def test_tree_memory_sums_every_process_of_the_tree(tmp_path: Path) -> None:
    grab = "b = bytearray(60 * 1024 * 1024); open({!r}, 'w').write('1'); import time; time.sleep(60)"
    flags = [tmp_path / f"ready{i}" for i in range(2)]
    script = tmp_path / "tree.sh"
    script.write_text(
        f'{sys.executable} -c "{grab.format(str(flags[0]))}" &\n'
        f'{sys.executable} -c "{grab.format(str(flags[1]))}" &\n'
        "wait\n"
    )
    root = subprocess.Popen(["bash", str(script)], start_new_session=True)
    try:
        for flag in flags:
            _wait_for(flag)
        processes = portable.tree(root.pid)
        assert len(processes) >= 3 and processes[0].pid == root.pid
        assert portable.rss_kb(processes) > 2 * 60 * 1024  # two children of 60 MB each, and bash
        memory = smoke._TreeMemory(root.pid)
        memory.poll()
        assert memory.peak_kb > 2 * 60 * 1024 and len(memory.seen) >= 3
        memory.stop()
        assert all(_gone(p.pid) for p in processes)
    finally:
        portable.kill_group(root.pid, signal.SIGKILL)
        root.wait()


@pytest.mark.parametrize(("platform", "raw", "mb"), [("linux", 204800, 200.0), ("darwin", 209715200, 200.0)])
def test_ru_maxrss_is_read_in_the_unit_of_the_system(
    monkeypatch: pytest.MonkeyPatch, platform: str, raw: int, mb: float
) -> None:
    monkeypatch.setattr(portable.sys, "platform", platform)
    assert portable.maxrss_mb(raw) == pytest.approx(mb)


def test_a_lock_held_by_another_process_is_seen_and_freed_when_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "slot.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                sys.path.insert(0, {str(REPO)!r})
                from clusterrun import portable
                handle = open({str(path)!r}, "a+")
                portable.lock(handle)
                open({str(tmp_path / "held")!r}, "w").write("1")
                time.sleep(60)
                """
            ),
        ]
    )
    try:
        _wait_for(tmp_path / "held")
        with open(path, "a+") as handle:
            assert portable.lock(handle, blocking=False) is False
            holder.kill()  # the lock goes with its process
            holder.wait()
            assert portable.lock(handle, blocking=False) is True
            portable.unlock(handle)
    finally:
        holder.kill()
        holder.wait()


def test_a_run_update_serialises_through_the_portable_lock(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run = registry.create("exp")
    (run.path / "manifest.json").write_text(
        json.dumps({"schema_version": 1, "run_id": run.id, "state": "created"})
    )
    with portable.locked(run.path / ".lock"):  # while it is held, another process cannot update
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
                "from clusterrun.records.registry import Run; "
                f"Run(Path({str(run.path)!r})).update(state='x')",
            ]
        )
        time.sleep(1.0)
        assert child.poll() is None, "the update did not wait for the lock"
        assert run.load_manifest().state == "created"
    assert child.wait(timeout=30) == 0
    assert run.load_manifest().state == "x"


def test_the_smoke_timeout_stops_a_child_that_left_the_process_group(tmp_path: Path) -> None:
    script = tmp_path / "command.sh"
    script.write_text(f"setsid sleep 1000 &\necho $! > {tmp_path}/escaped.pid\nsleep 1000\n")
    started = time.monotonic()
    result = run_smoke(script, tmp_path, timeout=2)
    assert result.timed_out and time.monotonic() - started < 20
    escaped = int((tmp_path / "escaped.pid").read_text())
    assert _gone(escaped), "a process of the smoke test outlived its timeout"


def test_without_posix_processes_the_smoke_test_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(portable, "POSIX", False)
    script = tmp_path / "command.sh"
    script.write_text("echo hi\n")
    with pytest.raises(ClusterrunError) as caught:
        run_smoke(script, tmp_path, timeout=5)
    assert "needs Linux or macOS" in caught.value.message and "WSL" in caught.value.hint
    assert caught.value.exit_status == ExitStatus.ENVIRONMENT
    assert not (tmp_path / "stdout.log").exists()  # refused before anything started


def test_clusterrun_imports_where_fcntl_pwd_and_resource_do_not_exist(tmp_path: Path) -> None:
    """Windows has none of them: `import clusterrun`, its CLI and its API must still load there."""
    code = textwrap.dedent(
        f"""
        import sys
        import psutil  # it has a Windows build of its own; its Linux one uses `resource`
        for name in ("fcntl", "pwd", "grp", "resource", "termios"):
            sys.modules[name] = None  # importing it now raises ImportError, as on Windows
        sys.path.insert(0, {str(REPO)!r})
        import clusterrun, clusterrun.api, clusterrun.cli.app
        from clusterrun.diagnose.fixes.scheduler_events import user_name
        from clusterrun.records.registry import Registry
        from pathlib import Path
        run = Registry(Path({str(tmp_path)!r}) / "runs").create("exp")
        with __import__("contextlib").suppress(Exception):
            run.update(state="x")  # no manifest: an error of the record, not of a missing module
        print("ok", user_name("4242"))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "uid", "4242"]


def test_the_cli_without_posix_processes_says_what_it_cannot_do(project: Path) -> None:
    """As on Windows: `submit` and `reproduce` refuse before writing anything; reading runs works."""
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); from clusterrun import portable; "
        "portable.POSIX = False; from clusterrun.cli.app import main; sys.exit(main(sys.argv[1:]))"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args], cwd=project, capture_output=True, text=True, timeout=120
        )

    submit = run("submit", "configs/quickstart.yaml", "--backend", "local")
    assert submit.returncode == int(ExitStatus.ENVIRONMENT), submit.stderr
    lines = submit.stderr.splitlines()
    assert lines[0] == (
        "error: clusterrun submit needs Linux or macOS: it runs bash in its own process group, which "
        "Windows lacks"
    )
    assert lines[1].startswith("hint: run clusterrun in WSL") and "Traceback" not in submit.stderr
    assert not list(project.glob("runs/quickstart_*"))  # nothing was written
    reproduce = run("reproduce", "quickstart_20261201-120000", "--backend", "local")
    assert (
        reproduce.returncode == int(ExitStatus.ENVIRONMENT)
        and "clusterrun reproduce needs" in reproduce.stderr
    )
    status = run("status")
    assert status.returncode == 0, status.stderr
