"""The smoke test: run the real command locally, from the snapshot, for a single batch.

A failing smoke test stops the submission. A passing one is cached per (snapshot, resolved config), so
submitting the same thing again skips it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import psutil

from clusterrun import portable
from clusterrun.analysis import rowformat
from clusterrun.execution.smoke_record import SmokeCache as SmokeCache
from clusterrun.execution.smoke_record import SmokeResult as SmokeResult
from clusterrun.execution.supervise import stop_leftovers
from clusterrun.records.jsonio import read_json, write_json_atomic
from clusterrun.records.logtext import SPAWN_AT_IMPORT_WORDS

STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL when a smoke test is stopped
STOPPED_SPAWN_LOOP = (
    "its worker processes kept dying as they started (started at import), and would have until the timeout"
)
SPAWN_LOOP_AFTER = 3  # workers that died starting (SPAWN_AT_IMPORT_WORDS): a pool that restarts them forever


class _SpawnLoopWatch:
    """The test's stderr, read as it grows (every half second, from where it was left): True once it
    shows SPAWN_LOOP_AFTER workers that died as they started because the script starts them at import.
    Such a pool starts new ones forever: the test would only end at its timeout."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.count, self.next_look = path, 0, 0, 0.0
        self.words = SPAWN_AT_IMPORT_WORDS.encode()
        self.carry = b""  # the end of the last read, for words split between two reads

    def looping(self, now: float) -> bool:
        if now < self.next_look:
            return False
        self.next_look = now + 0.5
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(1 << 20)
        except OSError:
            return False
        self.offset += len(data)
        text = self.carry + data
        self.count += text.count(self.words)
        self.carry = text[-(len(self.words) - 1) :]
        return self.count >= SPAWN_LOOP_AFTER


class _StepWatcher:
    """Timestamps each new `{step_metric: N}` line of the metrics file (JSON lines, or a table's rows:
    analysis/rowformat.py) as the job writes it."""

    def __init__(self, path: Path | None, step_metric: str, started: float) -> None:
        self.path, self.step_metric, self.started = path, step_metric, started
        self.offset = 0
        self.points: list[list[float]] = []

    def poll(self) -> None:
        if self.path is None or rowformat.is_document(self.path):
            return  # a JSON document is written whole, often at the end: its steps were not timed
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        now = round(time.monotonic() - self.started, 4)
        for record in rowformat.parser(self.path)(complete.decode("utf-8", errors="replace")):
            step = record.get(self.step_metric)
            if isinstance(step, int | float) and not isinstance(step, bool):
                self.points.append([float(step), now])


#: The smoke test's first process (execution/launcher.py): runs the command, writes its rusage peak.
LAUNCHER = str(Path(__file__).with_name("launcher.py"))
#: Where the launcher writes the command's peak (rusage maxrss), in the test's folder; read, then removed.
PEAK_FILE = ".peak"


def _launched_peak_kb(path: Path) -> float:
    """The command's peak as the launcher wrote it, in KB (0 when it wrote none: it was stopped)."""
    try:
        text = path.read_text()
        path.unlink()
    except OSError:
        return 0.0
    return portable.maxrss_mb(int(text)) * 1024 if text.strip().isdigit() else 0.0


class _TreeMemory:
    """The peak of the summed RSS of a process tree: `root` and its descendants, sampled at most every
    `interval` s (less often when a sample is slow, so the overhead stays under ~5%), through psutil (on
    Linux and macOS alike). Every process seen in the tree is remembered, so that the ones that left it
    (their parent died, or they started a session of their own) are stopped with it."""

    def __init__(self, root: int, interval: float = 0.1, skip_root: bool = False) -> None:
        self.root, self.interval, self.skip_root = root, interval, skip_root
        self.peak_kb = 0
        self.next = 0.0
        self.seen: dict[int, psutil.Process] = {}

    def poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if now < self.next and not force:
            return
        processes = portable.tree(self.root)
        for process in processes:
            self.seen.setdefault(process.pid, process)
        counted = [p for p in processes if p.pid != self.root] if self.skip_root else processes
        self.peak_kb = max(self.peak_kb, portable.rss_kb(counted))
        self.next = now + max(self.interval, 20 * (time.monotonic() - now))

    def stop(self) -> None:
        """Stop the whole tree: its process group (the smoke test's own session) and every process
        ever seen in it; SIGTERM first, SIGKILL for what is left after a grace period."""
        self.poll(force=True)  # the tree as it is now, before its members are orphaned
        portable.kill_group(self.root, signal.SIGTERM)
        portable.signal_all(self.seen.values(), signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while portable.running(self.seen.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.skip_root:  # the command's processes first: the launcher collects them, then ends
            portable.signal_all([p for p in self.seen.values() if p.pid != self.root], signal.SIGKILL)
            root = [p for p in self.seen.values() if p.pid == self.root]
            deadline = time.monotonic() + 0.5
            while portable.running(root) and time.monotonic() < deadline:
                time.sleep(0.01)
        portable.kill_group(self.root, signal.SIGKILL)  # what is left, and what was never sampled
        portable.signal_all(self.seen.values(), signal.SIGKILL)


class SmokeInterrupted(KeyboardInterrupt):
    """clusterrun was told to stop (SIGINT, SIGTERM, SIGHUP) while a smoke test ran; the test's whole
    process tree was stopped before this was raised."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"{signal.Signals(signum).name} during the smoke test")
        self.signum = signum


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SmokeInterrupted (as SIGINT raises KeyboardInterrupt), so that the smoke
    test is stopped and recorded; Python's default for them is to die on the spot, leaving it running."""
    if threading.current_thread() is not threading.main_thread() or not portable.POSIX:
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise SmokeInterrupted(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP ignored for the block (in the main thread of a POSIX system)."""
    if threading.current_thread() is not threading.main_thread() or not portable.POSIX:
        yield
        return
    previous = {
        sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: In the smoke test's directory while it runs: the identity of its root process ({host, pid, started}).
PROCESS_FILE = "smoke.process.json"


def stop_orphaned(run_dir: Path) -> int:
    """Stop the process trees of smoke tests of this run whose `submit` was killed outright (the test
    outlived it); returns how many trees were stopped. Only on the host that ran them."""
    stopped = 0
    for owner in sorted(run_dir.glob(f"smoke*/{PROCESS_FILE}")):
        if owner.is_symlink():
            continue
        identity = read_json(owner)
        if not isinstance(identity, dict) or portable.identity_gone(identity) is not False:
            continue
        processes = portable.tree(int(identity["pid"]))
        portable.signal_all(processes, signal.SIGKILL)
        portable.kill_group(int(identity["pid"]), signal.SIGKILL)
        with contextlib.suppress(OSError):
            owner.unlink()
        stopped += 1
    return stopped


def run_smoke(
    script: Path, workdir: Path, timeout: float, metrics_file: Path | None = None, step_metric: str = "step"
) -> SmokeResult:
    """Run `bash script` with stdout/stderr to files in `workdir`; stop its whole process tree on timeout.

    While it runs, the metrics file is watched so that steps get timestamps (for the estimate), and the
    memory of its whole process tree is sampled (workers and data loaders count, as on the cluster).
    Interrupted (Ctrl-C, SIGTERM, SIGHUP), it stops the tree and raises (SmokeInterrupted for SIGTERM
    and SIGHUP, KeyboardInterrupt for SIGINT)."""
    portable.require_posix("the smoke test")
    stdout_path, stderr_path = workdir / "stdout.log", workdir / "stderr.log"
    peak_file = workdir / PEAK_FILE
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERRUN_SETUP_DONE"}
    started = time.monotonic()
    watcher = _StepWatcher(metrics_file, step_metric, started)
    timed_out = looping = False
    spawns = _SpawnLoopWatch(stderr_path)
    with _stop_signals(), open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        peak_file.unlink(missing_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-S", "-E", LAUNCHER, str(peak_file), "bash", str(script)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = started + timeout
        memory = _TreeMemory(process.pid, skip_root=True)  # the launcher's own few MB are not the command's
        # who runs the test, for a later `status` should this process be killed outright (SIGKILL):
        # it then stops the test's tree (see stop_orphaned)
        owner = workdir / PROCESS_FILE
        with contextlib.suppress(OSError):
            write_json_atomic(owner, portable.process_identity(process.pid))
        try:
            while True:
                memory.poll()  # before wait4: once the root is reaped, its tree is gone
                pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
                watcher.poll()
                if pid:
                    break
                now = time.monotonic()
                if not timed_out and not looping and spawns.looping(now):
                    looping = True  # it would only end at its timeout: stopped now, said below
                    memory.stop()
                    deadline = now + 3600
                if now > deadline and not timed_out and not looping:
                    timed_out = True
                    memory.stop()
                    deadline = time.monotonic() + 3600  # now only wait for it to die
                time.sleep(0.02)
        except BaseException:  # Ctrl-C, SIGTERM: the test runs in its own session, so it is stopped here
            with _shielded():  # a second Ctrl-C must not cut the stopping short
                memory.stop()
                process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        _count, leftover = stop_leftovers(process.pid)  # what a job's end would stop, said at submit
        memory.stop()  # stray children of the command (those that left its process group too)
        with contextlib.suppress(OSError):
            owner.unlink()
    seconds = time.monotonic() - started
    if timed_out:
        with open(stderr_path, "a") as err_text:
            err_text.write(
                f"\nclusterrun: smoke test killed after the {timeout:g} s timeout (smoke.timeout)\n"
            )
    elif looping:
        with open(stderr_path, "a") as err_text:
            err_text.write(f"\nclusterrun: smoke test stopped after {seconds:.0f} s: {STOPPED_SPAWN_LOOP}\n")
    peak_kb = max(memory.peak_kb, _launched_peak_kb(peak_file))
    return SmokeResult(
        ok=process.returncode == 0 and not timed_out and not looping,
        returncode=process.returncode,
        seconds=round(seconds, 3),
        peak_rss_mb=round(peak_kb / 1024, 1),
        timed_out=timed_out,
        leftover=leftover,
        stopped=STOPPED_SPAWN_LOOP if looping else "",
        stdout_path=str(stdout_path),
        stderr_path=str(stderr_path),
        step_points=watcher.points,
    )
