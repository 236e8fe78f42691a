"""At most N jobs of one local sweep at once (the local backend's `%N`): before it runs, each job takes
one of N slot locks in the sweep's scheduler folder, and waits (shown as `pending`) until one is free.

The locks are file locks held by the job's own process, so a job that ends or is killed frees its slot
at once, whatever killed it. A job's time limit counts from when it got its slot, not from its start;
submitit's own limit becomes a backstop. With several tasks per job only task 0 takes the slot; the
others wait until it has.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from clusterrun import portable

SLOTS_DIR = "slots"
POLL_SECONDS = 0.2


class CancelledWhileWaiting(RuntimeError):
    """SIGTERM (clusterrun cancel) reached a job still waiting for its slot."""


def slots_dir(folder: str | Path) -> Path:
    """The slot locks of a throttled sweep (made at submission: its jobs are pending until they hold one)."""
    return Path(folder) / SLOTS_DIR


def granted_marker(folder: str | Path, job_id: str) -> Path:
    """The file that says a job holds its slot (it runs)."""
    return slots_dir(folder) / f"{job_id}.granted"


def backstop_minutes(time_seconds: float, limit: int, members: int) -> float:
    """submitit's time limit for a throttled job: its own limit for every wave of at most `limit` jobs
    that may run before it, plus a minute."""
    return (time_seconds * math.ceil(members / limit) + 60) / 60


@dataclass(frozen=True)
class Throttled:
    """The job's entry point, run once a slot of `limit` in `folder` is free, for `seconds` at most."""

    entry: Callable[[str], Any]
    folder: str
    limit: int
    seconds: float

    def __call__(self, run_dir: str) -> Any:
        job_id = os.environ.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())
        rank = int(os.environ.get("SUBMITIT_LOCAL_GLOBALID", "0") or 0)
        slots = slots_dir(self.folder)
        slots.mkdir(parents=True, exist_ok=True)
        with _cancellable(), _slot(slots, self.limit, job_id, rank), _time_limit(self.seconds):
            return self.entry(run_dir)


@contextlib.contextmanager
def _cancellable() -> Iterator[None]:
    """While waiting, SIGTERM ends the job (submitit's own handler ignores it); the entry point, once
    it runs, installs its own handler."""

    def cancel(_signum: int, _frame: FrameType | None) -> None:
        raise CancelledWhileWaiting("cancelled while waiting for a free slot (sweep parallelism)")

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _slot(slots: Path, limit: int, job_id: str, rank: int) -> Iterator[None]:
    granted = granted_marker(slots.parent, job_id)
    if rank != 0:  # the job's other tasks: task 0 holds the job's slot
        while not granted.exists():
            time.sleep(POLL_SECONDS)
        yield
        return
    while True:
        for index in range(limit):
            with open(slots / f"slot-{index}.lock", "a+") as handle:
                if not portable.lock(handle, blocking=False):
                    continue
                try:
                    granted.touch()
                    yield
                finally:
                    granted.unlink(missing_ok=True)
                    portable.unlock(handle)
                return
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """SIGTERM to this process after `seconds` (the job wrapper passes it on to the command)."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
