"""Run the user's command as a child in its own process group and watch it until it exits, reacting
to the signals the scheduler sends the job.

- SIGUSR2 (`--signal=USR2@grace`: the time limit is `grace` seconds away, or a preemption's warning):
  forwarded to the command's process group unless the scheduler signals every process itself; then
  `on_warning(now)` says by when the command must have stopped (None: let it run to the end).
  Past that deadline the group gets SIGTERM, and SIGKILL STOP_GRACE seconds later.
- SIGTERM, SIGINT (a cancel, a requeue, a preemption, the time limit itself): forwarded the same way.
- `warned_at`: a SIGUSR2 that came before the command started; passed on to its process group
  EARLY_RESEND seconds after the start (a command that missed it is still stopped at the deadline).

Every signal is also reported to `on_signal(name)`. Nothing here decides what an attempt's end means:
that is attempts.py's job.

When the command has exited, what it started and left running in its process group (a monitor, a
server it forgot to stop) is stopped, SIGTERM then SIGKILL, as the scheduler stops a job's processes at
its end (SLURM's cgroup tracking; the local backend has no such thing): nothing of a finished run goes
on writing into its logs or using the machine. Their command lines are in `Outcome.leftover`.
A process of the job's own that may outlive the command by a moment (command.sh's environment probe,
named by `awaited`) is waited for, not reported: a short command would otherwise be said to have left
it running, and the probe's record be lost, wherever Python starts slowly (a shared file system).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

import psutil

from clusterrun import portable

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when the wrapper stops the command
EARLY_RESEND = 2.0  # a warning that came before the command started is passed on this long after
#: Seconds between samples of the command tree's memory (SLURM's own: 30 s by default), by the command's
#: age: a pool of workers that lives a second, in a short job, is seen (a 1 s period missed it, and the
#: memory suggested from the run was below what its workers held); one walk of the tree a second after.
SAMPLE_EVERY = ((10.0, 0.2), (60.0, 0.5))
SAMPLE_LATER = 1.0
#: A sample costs a walk of every process on the node (psutil reads /proc): at most this share of a core.
SAMPLE_SHARE = 0.05
LEFTOVER_GRACE = 0.2  # what the command started may take this long to end on its own after it exited
LEFTOVER_POLL = 0.005  # seconds between looks at the process group meanwhile (one kill(0) each)
#: How long the job's own processes (`awaited`) may take after the command exited: the environment
#: probe asks nvidia-smi with a 10 s time-out, after a Python's start-up.
AWAITED_WAIT = 15.0
AWAITED_POLL = 0.02  # seconds between looks at them (a walk of the process table each)
#: How long a process showing no command line (mid-exec) is looked at again: 0.1 s was too short on a
#: loaded machine (CI of 9564b7f: the probe exec'd by a slow python shim still showed none, and was
#: taken for the user's `python3`); the wait costs nothing unless a process shows none.
CMDLINE_SETTLE = 1.0
LEFTOVER_STOP = 2.0  # seconds between SIGTERM and SIGKILL for what it left running
LEFTOVER_SHOWN = 5  # command lines recorded of what it left running
WATCHED = (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)


def sample_period(age: float, walk_seconds: float = 0.0) -> float:
    """The seconds to the next sample of the memory of a command `age` seconds old (SAMPLE_EVERY), on a
    node where the last sample took `walk_seconds`."""
    every = next((every for until, every in SAMPLE_EVERY if age < until), SAMPLE_LATER)
    return max(every, walk_seconds / SAMPLE_SHARE)


@dataclass
class Outcome:
    """How the command ended."""

    returncode: int
    usage: Any  # resource.struct_rusage of the command (its waited-for children included)
    signals: list[str] = field(default_factory=list)  # what the job received, in order
    warned_at: float | None = None  # when SIGUSR2 came
    terminated_at: float | None = None  # when SIGTERM or SIGINT came
    stopped: bool = False  # the wrapper stopped the command at its deadline
    leftover: list[str] = field(default_factory=list)  # what it left running, stopped after it exited
    peak_tree_kb: int = 0  # the largest summed RSS of its whole process tree, sampled (sample_period)
    leftover_count: int = 0


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:  # an old kernel
        return None


def supervise(
    argv: Sequence[str],
    stdout: IO[bytes],
    stderr: IO[bytes],
    env: Mapping[str, str],
    *,
    forward: bool,
    on_warning: Callable[[float], float | None] = lambda _now: None,
    on_signal: Callable[[str], None] = lambda _name: None,
    warned_at: float | None = None,
    awaited: str = "",
    warn_with: int = signal.SIGUSR2,
) -> Outcome:
    """Run `argv` in a new process group (its own session) and wait for it; see the module's doc.
    `awaited`: a process whose command line holds it is the job's own, waited for (AWAITED_WAIT) and
    never reported as left running. `warn_with`: what the command is sent when SIGUSR2 comes (requeue.signal:
    SIGUSR1 for PyTorch Lightning, sent whether or not the scheduler signals every process itself)."""
    process = subprocess.Popen(
        list(argv), stdout=stdout, stderr=stderr, env=dict(env), start_new_session=True
    )
    pgid = process.pid
    outcome = Outcome(returncode=0, usage=None)
    deadline: list[float] = []  # set once, by the first SIGUSR2 that asks for one

    def received(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        now = time.time()
        outcome.signals.append(name)
        if signum == signal.SIGUSR2 and warn_with != signal.SIGUSR2:
            _signal_group(pgid, warn_with)  # the warning as the command listens for it
        elif forward:
            _signal_group(pgid, signum)
        if signum == signal.SIGUSR2:
            if outcome.warned_at is None:
                outcome.warned_at = now
                stop_by = on_warning(now)
                if stop_by is not None:
                    deadline.append(stop_by)
        elif outcome.terminated_at is None:
            outcome.terminated_at = now
        on_signal(name)

    previous = {signum: signal.signal(signum, received) for signum in WATCHED}
    fd = _pidfd(process.pid)
    started = time.time()
    next_sample = started
    killed_at: float | None = None
    resend_at: float | None = None
    if warned_at is not None:  # it came before the command ran: the command has yet to hear it
        outcome.warned_at = warned_at
        outcome.signals.append("SIGUSR2")
        stop_by = on_warning(warned_at)
        if stop_by is not None:
            deadline.append(stop_by)
        resend_at = time.time() + EARLY_RESEND
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.time()
            if resend_at is not None and now >= resend_at:
                _signal_group(pgid, warn_with)  # once its handler (or command.sh's trap) is set
                resend_at = None
            if deadline and not outcome.stopped and now >= deadline[0]:
                outcome.stopped = True
                _signal_group(pgid, signal.SIGTERM)
                killed_at = now + STOP_GRACE
            elif killed_at is not None and now >= killed_at:
                _signal_group(pgid, signal.SIGKILL)
                killed_at = None
            if now >= next_sample:  # the whole tree's memory, as the cluster counts it (workers too)
                outcome.peak_tree_kb = max(outcome.peak_tree_kb, portable.rss_kb(portable.tree(process.pid)))
                after = time.time()
                next_sample = after + sample_period(now - started, after - now)
            wait = min(0.25 if deadline else 1.0, max(0.0, next_sample - time.time()))
            if fd is not None:
                select.select([fd], [], [], wait)
            else:
                time.sleep(min(wait, 0.25))
    finally:
        if fd is not None:
            os.close(fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    outcome.returncode = os.waitstatus_to_exitcode(status)
    outcome.usage = usage
    process.returncode = outcome.returncode
    outcome.leftover_count, outcome.leftover = stop_leftovers(pgid, awaited)
    return outcome


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member that changed its user: still there
        return True
    return True


def _members(pgid: int) -> list[tuple[int, str]]:
    """The running (not zombie) processes of a process group whose parent is not one of them (a
    monitor loop and the `sleep` it runs now are one thing left running): (pid, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for process in psutil.process_iter(["pid", "ppid", "cmdline", "status"]):
        try:
            if os.getpgid(process.pid) != pgid or process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
        except OSError:
            continue
        words = process.info["cmdline"] or _settled_cmdline(process)
        found[process.pid] = (process.info["ppid"], " ".join(" ".join(words).split()))  # on one line
    return [(pid, command) for pid, (parent, command) in found.items() if parent not in found]


def _settled_cmdline(process: psutil.Process) -> list[str]:
    """The command line of a process that showed none: one caught in the middle of an exec (the job's
    probe, `exec python envprobe.py ...` from a shim, showed an empty one for an instant and was taken
    for the user's `python3`), read again for up to CMDLINE_SETTLE; its name when it still has none."""
    deadline = time.monotonic() + CMDLINE_SETTLE
    while time.monotonic() < deadline:
        time.sleep(0.005)
        try:
            words = process.cmdline()
        except psutil.Error:
            break
        if words:
            return words
    try:
        return [process.name()]
    except psutil.Error:
        return []


def _ended_within(pgid: int, seconds: float) -> bool:
    """The process group is gone within `seconds` (looked at every LEFTOVER_POLL); its ended members
    that are this process's children (portable.adopt_orphans) are reaped meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        portable.reap_group(pgid)
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(LEFTOVER_POLL)


def stop_leftovers(pgid: int, awaited: str = "") -> tuple[int, list[str]]:
    """Stop what is left running in the command's process group once the command exited: (how many,
    the first command lines). Costs one kill(0) when nothing is left, as for nearly every command, and
    no more time than what is left takes to end when that is at most LEFTOVER_GRACE. Processes whose
    command line holds `awaited` are the job's own: waited for up to AWAITED_WAIT, then stopped, and
    never counted."""
    # children that exit along with it (a pool's workers) are not leftovers
    if _ended_within(pgid, LEFTOVER_GRACE):
        return 0, []
    members = _members(pgid)
    deadline = time.monotonic() + AWAITED_WAIT
    # only the job's own left (zombies aside, which _members leaves out): waited for until they end
    while members and awaited and all(awaited in command for _pid, command in members):
        if time.monotonic() >= deadline:
            break
        time.sleep(AWAITED_POLL)
        members = [] if _ended_within(pgid, 0.0) else _members(pgid)
    theirs = [command for _pid, command in members if not (awaited and awaited in command)]
    if not members:  # gone meanwhile, or only zombies waiting for their parent
        return 0, []
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + LEFTOVER_STOP
    while _members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    return len(theirs), [command[:200] for command in theirs[:LEFTOVER_SHOWN]]
