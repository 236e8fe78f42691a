"""What differs between operating systems, in one place: file locks, processes and their memory.

Linux and macOS run everything (processes and memory through psutil, not /proc; locks through flock).
On Windows clusterrun imports, reads the registry and takes its locks (msvcrt); the commands that start
processes (a smoke test runs `bash`, in its own process group; local jobs are submitit's POSIX
controllers) say so through `require_posix` instead of failing half-way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from clusterrun.errors import ClusterrunError, ExitStatus

if TYPE_CHECKING:
    import psutil  # imported where processes are looked at: every command imports this module (locks)

POSIX = os.name == "posix"
_LOCK_POLL = 0.05  # seconds between tries where the system cannot block on a lock (Windows)


def require_posix(what: str) -> None:
    """Refuse `what` (e.g. "the smoke test") on a system without POSIX processes (Windows)."""
    if not POSIX:
        raise ClusterrunError(
            f"{what} needs Linux or macOS: it runs bash in its own process group, which Windows lacks",
            hint="run clusterrun in WSL (Windows Subsystem for Linux), or on the cluster's login node; "
            "reading runs (status, show, logs, compare, site) works here",
            exit_status=ExitStatus.ENVIRONMENT,
        )


# --------------------------------------------------------------------------------------------- locks


def lock(handle: IO[Any], blocking: bool = True) -> bool:
    """Take an exclusive lock on an open file; False when `blocking` is off and another holds it. The
    lock goes with the process: a killed holder never leaves it taken."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not blocking:
                    return False
                time.sleep(_LOCK_POLL)
    else:
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True


def unlock(handle: IO[Any]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block, between processes."""
    with open(path, "a+") as handle:
        lock(handle)
        try:
            yield
        finally:
            unlock(handle)


# ----------------------------------------------------------------------------------------- processes


def stopped(pid: int) -> bool:
    """Whether the process with this pid, on this host, is stopped (Ctrl-Z, SIGSTOP): it holds what it
    holds until someone continues it. False when it runs, is gone, or cannot be told."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_STOPPED)
    except (psutil.Error, OSError):
        return False


def alive(pid: int, command_contains: str = "") -> bool:
    """A running (not zombie) process with this pid, whose command line contains `command_contains`."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if not command_contains:
            return True
        # a process only just forked shows its parent's command line until it has exec'd: a young
        # process gets a short while to show its own (else a fresh job would look gone)
        for _ in range(40):
            if command_contains in " ".join(process.cmdline()):
                return True
            if time.time() - process.create_time() > 2:
                return False
            time.sleep(0.05)
        return False
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """{host, pid, started}: enough to tell later, on the same host, whether this very process still runs
    (a pid alone may be reused)."""
    import psutil

    pid = os.getpid() if pid is None else pid

    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        started = 0.0
    return {"host": socket.gethostname(), "pid": pid, "started": round(started, 2)}


def identity_gone(identity: dict[str, Any]) -> bool | None:
    """Whether the process `identity` names has ended: None when it cannot be told from here (another
    host, or an incomplete record)."""
    import psutil

    try:
        host, pid, started = str(identity["host"]), int(identity["pid"]), float(identity["started"])
    except (KeyError, TypeError, ValueError):
        return None
    if host != socket.gethostname() or not started:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        return abs(process.create_time() - started) > 1.0  # the pid now belongs to another process
    except psutil.NoSuchProcess:
        return True
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None


def tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants as they are now ([] when it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def rss_kb(processes: Iterable[psutil.Process]) -> int:
    """The summed resident memory of these processes, in KB (those gone meanwhile count 0)."""
    import psutil

    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total // 1024


def maxrss_mb(ru_maxrss: int) -> float:
    """getrusage's ru_maxrss in MB: bytes on macOS, kilobytes on Linux and the BSDs."""
    return ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def signal_all(processes: Iterable[psutil.Process], sig: int) -> None:
    """Send `sig` to each process still running; psutil makes sure a reused pid is not hit."""
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            process.send_signal(sig)


def kill_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group (POSIX); False when the group has no process left."""
    if not POSIX:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def running(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` that still run (zombies and reused pids left out)."""
    import psutil

    out = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                out.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


#: prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h)
_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """This process becomes a child subreaper (Linux): a descendant whose parent ended becomes this
    process's child instead of init's, so that it can be reaped here when it ends (reap_group). Some
    init processes (a container's, a VM's agent) reap such orphans late, and until then they count as
    members of their process group. False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here: only a job's wrapper asks

    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_group(pgid: int) -> None:
    """Reap the ended processes of process group `pgid` that are this process's children (the orphans
    adopt_orphans gives it among them); never a child of another group, whose waiter would lose it."""
    waitid = getattr(os, "waitid", None)
    by_group = getattr(os, "P_PGID", None)
    if waitid is None or by_group is None:
        return
    while True:
        try:
            if waitid(by_group, pgid, os.WEXITED | os.WNOHANG) is None:
                return
        except OSError:  # ChildProcessError: none of them is ours
            return
