"""Work on many runs spread over the machine's cores: forked workers, results in order, never less sure
than doing it in one process.

A refresh that finds a thousand runs ended writes two records for each (the manifest's end, the summary)
after reading half a dozen files; a sweep's submission makes a thousand run directories: CPU-bound
Python, one core busy and the others idle. `fanout_map` splits such a batch over forked workers (each
takes a contiguous share; the parent does the first, then reads the others' answers in order). (A parent
that did no share, one worker more, held 3 MB less after 1,000 runs, but was not shown to be as fast for
10,000 on a noisy machine: bench/RESULTS.md.)

What it promises:
- the results are those of `[func(item) for item in items]`, in that order;
- a worker that fails in any way (an exception, a signal, a result that cannot be read back), or that
  cannot be started (no fork to be had), has its share done in the parent, so the caller sees exactly
  what one process would have seen
  (`func` must therefore be idempotent: the runs' writes are: an update to the state a run already has
  writes nothing new, and a summary is collected only when the run has none for its state);
- nothing of the workers reaches the terminal or the parent's atexit handlers (they end with _exit);
- one process only where forking is not safe: not Linux, fewer than two cores, a small batch, or
  other threads running (a thread holding a lock at the fork would leave the worker stuck on it);
- with `step`, the parent reports how many items are done, the workers' included (each counts its own
  in a page of memory it shares with the parent), after each of its own items and, while it waits for
  the workers, every STEP_EVERY seconds: progress for a person, never used for the results.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import select
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from clusterrun import envknobs

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64  #: smaller batches are not worth a fork
STEP_EVERY = 0.1  #: seconds between reports of progress while the parent waits for its workers
_COUNT = struct.Struct("q")  #: a worker's count of items done, in its slot of the shared page
_SIZE = struct.Struct("Q")  #: the size of a worker's answer, written before it
MAX_WORKERS = int(envknobs.WORKERS.default)
ENV = envknobs.WORKERS.name  #: how many processes at most (1: never fork)


def workers_for(count: int) -> int:
    """How many processes a batch of `count` items is spread over (1: done in this process)."""
    limit = int(envknobs.number(envknobs.WORKERS))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if count < MIN_ITEMS or sys.platform != "linux" or threading.active_count() > 1:
        return 1
    return max(1, min(limit, cores, count // (MIN_ITEMS // 2)))


def fanout_map(
    func: Callable[[T], R], items: Sequence[T], step: Callable[[int], None] | None = None
) -> list[R]:
    """`[func(item) for item in items]`, spread over forked workers when that is safe and worth it;
    `step(done)` hears how many items are done so far (see the module's docstring)."""
    workers = workers_for(len(items))
    if workers < 2:
        return [_stepped(func, item, step, done) for done, item in enumerate(items, 1)]
    size = -(-len(items) // workers)
    shares = [list(items[k : k + size]) for k in range(0, len(items), size)]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # the workers' counts: one slot each in a page shared with them (anonymous and shared, inherited)
    counts = mmap.mmap(-1, max(mmap.PAGESIZE, _COUNT.size * len(shares))) if step is not None else None
    gc.freeze()  # the workers share the parent's objects without copying their pages for the collector
    started: list[tuple[int, int] | None] = []  # (pid, read end) of the worker of each of shares[1:]
    try:
        for slot, share in enumerate(shares[1:], 1):
            try:
                started.append(_start(func, share, counts, slot))
            except OSError:  # no process to be had (a limit on processes, memory): done here instead
                started.append(None)
        progress = _Progress(step, counts, len(shares))
        results = [_stepped(func, item, progress, done) for done, item in enumerate(shares[0], 1)]
        for slot, (worker, share) in enumerate(zip(started, shares[1:], strict=True), 1):
            if worker is None:
                results += _redo(share, func, progress)
            else:
                results += _collect(*worker, share, func, progress, slot)
                started[slot - 1] = None  # collected: nothing left to stop
    finally:
        for worker in started:  # interrupted (Ctrl-C): the workers are stopped, not left behind
            if worker is None:
                continue
            pid, reading = worker
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
            with contextlib.suppress(OSError):
                os.close(reading)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        gc.unfreeze()
        if counts is not None:
            counts.close()
    return results


def _stepped(func: Callable[[T], R], item: T, step: Callable[[int], None] | None, done: int) -> R:
    result = func(item)
    if step is not None:
        step(done)
    return result


class _Progress:
    """The parent's step: its own count plus the workers' (read from their slots), passed on to `step`."""

    def __init__(self, step: Callable[[int], None] | None, counts: mmap.mmap | None, shares: int) -> None:
        self.step, self.counts, self.shares = step, counts, shares
        self.mine = 0  # the parent's own items done (shares[0])
        self.redone = 0  # items done here of the other shares: their worker failed or could not start

    def __call__(self, mine: int) -> None:
        self.mine = mine
        self.report()

    def forget(self, slot: int) -> None:
        """A failed worker's count: its share is done again here (and counted as `redone`)."""
        if self.counts is not None:
            _COUNT.pack_into(self.counts, _COUNT.size * slot, 0)

    def report(self) -> None:
        if self.step is None or self.counts is None:
            return
        theirs = sum(_COUNT.unpack_from(self.counts, _COUNT.size * k)[0] for k in range(1, self.shares))
        self.step(self.mine + theirs + self.redone)


def _start(func: Callable[[T], R], share: list[T], counts: mmap.mmap | None, slot: int) -> tuple[int, int]:
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: its share, its results down the pipe, and out without any cleanup
        code = 1
        try:
            os.close(reading)
            results = []
            for done, item in enumerate(share, 1):
                results.append(func(item))
                if counts is not None:
                    _COUNT.pack_into(counts, _COUNT.size * slot, done)
            data = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
            os.write(writing, _SIZE.pack(len(data)))  # its size first (8 bytes: one write), then it
            view = memoryview(data)
            while view:
                view = view[os.write(writing, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    return pid, reading


def _collect(
    pid: int, reading: int, share: list[T], func: Callable[[T], R], progress: _Progress, slot: int
) -> list[R]:
    """A worker's results; its share done here again when it did not end well."""
    try:
        answer = _answer(reading, progress)
    finally:
        os.close(reading)
    _pid, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0 and answer is not None:
        try:
            results: list[R] = pickle.loads(answer)
            if len(results) == len(share):
                return results
        except Exception:  # an unreadable answer, whatever it was: the share is redone
            pass
    progress.forget(slot)
    return _redo(share, func, progress)


def _answer(reading: int, progress: _Progress) -> bytearray | None:
    """What a worker wrote (its size, then its pickled results), read into one buffer made for it (no
    list of pieces joined into a second copy: the answers of 5,000 runs are megabytes); None when the
    worker ended before writing all of it. Progress is reported every STEP_EVERY s meanwhile."""
    head = bytearray()
    buffer: bytearray | None = None
    filled = 0
    while buffer is None or filled < len(buffer):
        if progress.step is not None:  # progress every STEP_EVERY s while the worker works
            ready, _w, _x = select.select([reading], [], [], STEP_EVERY)
            progress.report()
            if not ready:
                continue
        if buffer is None:
            piece = os.read(reading, _SIZE.size - len(head))
            if not piece:
                return None
            head += piece
            if len(head) == _SIZE.size:
                buffer = bytearray(_SIZE.unpack(head)[0])
            continue
        with memoryview(buffer) as view:
            count = os.readv(reading, [view[filled:]])
        if not count:
            return None
        filled += count
    return buffer


def _redo(share: list[T], func: Callable[[T], R], progress: _Progress) -> list[R]:
    """A share done here, in the parent: a worker's that failed or could not be started."""
    done = []
    for item in share:
        done.append(func(item))
        progress.redone += 1
        progress.report()
    return done
