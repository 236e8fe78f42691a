"""Work on many runs spread over the machine's cores: forked workers, results in order, never less sure
than doing it in one process.

A refresh that finds a thousand runs ended writes two records for each (the manifest's end, the summary)
after reading half a dozen files; a sweep's submission makes a thousand run directories: CPU-bound
Python, one core busy and the others idle. `fanout_map` splits such a batch over forked workers (each
takes a contiguous share; the parent does the first).

What it promises:
- the results are those of `[func(item) for item in items]`, in that order;
- a worker that fails in any way (an exception, a signal, a result that cannot be read back) has its
  share done again in the parent, so the caller sees exactly what one process would have seen
  (`func` must therefore be idempotent: the runs' writes are: an update to the state a run already has
  writes nothing new, and a summary is collected only when the run has none for its state);
- nothing of the workers reaches the terminal or the parent's atexit handlers (they end with _exit);
- one process only where forking is not safe: not Linux, fewer than two cores, a small batch, or
  other threads running (a thread holding a lock at the fork would leave the worker stuck on it).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from clusterrun import envknobs

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64  #: smaller batches are not worth a fork
MAX_WORKERS = int(envknobs.WORKERS.default)
ENV = envknobs.WORKERS.name  #: how many processes at most (1: never fork)


def workers_for(count: int) -> int:
    """How many processes a batch of `count` items is spread over (1: done in this process)."""
    limit = int(envknobs.number(envknobs.WORKERS))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if count < MIN_ITEMS or sys.platform != "linux" or threading.active_count() > 1:
        return 1
    return max(1, min(limit, cores, count // (MIN_ITEMS // 2)))


def fanout_map(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[func(item) for item in items]`, spread over forked workers when that is safe and worth it."""
    workers = workers_for(len(items))
    if workers < 2:
        return [func(item) for item in items]
    size = -(-len(items) // workers)
    shares = [list(items[k : k + size]) for k in range(0, len(items), size)]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    gc.freeze()  # the workers share the parent's objects without copying their pages for the collector
    started: list[tuple[int, int]] = []  # (pid, read end) of each worker, for shares[1:]
    try:
        for share in shares[1:]:
            started.append(_start(func, share))
        results = [func(item) for item in shares[0]]
        for (pid, reading), share in zip(started, shares[1:], strict=True):
            results += _collect(pid, reading, share, func)
        started.clear()
    finally:
        for pid, reading in started:  # interrupted (Ctrl-C): the workers are stopped, not left behind
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
            with contextlib.suppress(OSError):
                os.close(reading)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        gc.unfreeze()
    return results


def _start(func: Callable[[T], R], share: list[T]) -> tuple[int, int]:
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: its share, its results down the pipe, and out without any cleanup
        code = 1
        try:
            os.close(reading)
            data = pickle.dumps([func(item) for item in share], protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(writing, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    return pid, reading


def _collect(pid: int, reading: int, share: list[T], func: Callable[[T], R]) -> list[R]:
    """A worker's results; its share done here again when it did not end well."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(reading, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(reading)
    _pid, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        try:
            results: list[R] = pickle.loads(b"".join(chunks))
            if len(results) == len(share):
                return results
        except Exception:  # an unreadable answer, whatever it was: the share is redone
            pass
    return [func(item) for item in share]
