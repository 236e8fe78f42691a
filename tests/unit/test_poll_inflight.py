"""The shared poll cache's promise when a query is slow (scheduler/cache.py): processes that arrive while
another's query is going take its answer, or its failure, however long it took: N watchers of a slow or
hung accounting cost one query, not one each in turn. And a waiter does not wait for a lock holder that
is stopped (Ctrl-Z). The pieces here are real (flock between open files, processes, psutil); only the
scheduler is a fake that counts its queries (the real cluster's case: tests/test_poll_inflight.py)."""

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

import pytest

from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler import cache as poll_cache
from clusterrun.scheduler.base import JobRef, JobStatus, PollResult
from clusterrun.scheduler.cache import cached_poll

QUERY = 1.2  #: seconds each query of the slow scheduler takes
MAX_AGE = 0.3  #: shorter than a query: before, an answer that took longer was shared with nobody


class Slow:
    """A scheduler whose every query takes QUERY seconds, counted; `down`: it then fails."""

    name = "slow"

    def __init__(self, down: bool = False) -> None:
        self.calls = 0
        self.down = down
        self.lock = threading.Lock()

    def poll(self, refs: list[JobRef]) -> PollResult:
        with self.lock:
            self.calls += 1
        time.sleep(QUERY)
        if self.down:
            raise SchedulerUnavailable("SLURM did not answer: sacct timed out", hint="later")
        return PollResult({r.job_id: JobStatus(r.job_id, "running") for r in refs})


def _watchers(backend: Slow, cache: Path, offsets: list[float]) -> list[object]:
    """One thread per offset, each arriving that many seconds after the first and asking once."""
    results: list[object] = [None] * len(offsets)
    ref = JobRef("42", "/f")

    def ask(i: int, offset: float) -> None:
        time.sleep(offset)
        try:
            results[i] = cached_poll(backend, [ref], cache, MAX_AGE)  # type: ignore[arg-type]
        except SchedulerUnavailable as exc:
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i, o)) for i, o in enumerate(offsets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_watchers_that_arrive_during_a_slow_query_share_its_answer(tmp_path: Path) -> None:
    backend = Slow()
    started = time.monotonic()
    # all arrive while the first query is going, the later ones more than MAX_AGE after it began
    results = _watchers(backend, tmp_path / "poll.json", [0.0, 0.4, 0.8, 1.0])
    took = time.monotonic() - started
    assert backend.calls == 1, backend.calls  # before: 2 (each late one found the answer too old)
    assert all(isinstance(r, PollResult) and r["42"].state == "running" for r in results), results
    assert took < 2 * QUERY, took  # nobody waited for a second query


def test_a_failed_slow_query_is_every_waiters_answer(tmp_path: Path) -> None:
    backend = Slow(down=True)
    results = _watchers(backend, tmp_path / "poll.json", [0.0, 0.4, 0.8])
    assert backend.calls == 1, backend.calls  # a hung scheduler is not asked again by each in turn
    assert all(isinstance(r, SchedulerUnavailable) for r in results), results


def test_an_answer_older_than_max_age_is_not_taken_by_one_who_came_after_it(tmp_path: Path) -> None:
    """The in-flight rule takes only queries still going when a process arrived, never older ones."""
    backend = Slow()
    cache, ref = tmp_path / "poll.json", JobRef("42", "/f")
    cached_poll(backend, [ref], cache, MAX_AGE)  # type: ignore[arg-type]
    time.sleep(MAX_AGE + 0.1)
    cached_poll(backend, [ref], cache, MAX_AGE)  # type: ignore[arg-type]
    assert backend.calls == 2


HOLDER = """
import sys, time
from pathlib import Path
from clusterrun.scheduler.cache import _poll_lock
with _poll_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the poll lock (HOLDER) for the block; continued and killed after it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        os.kill(holder.pid, signal.SIGCONT)  # continued, should the test have stopped it
        holder.kill()
        holder.communicate()


def test_a_waiter_does_not_wait_for_a_stopped_holder(tmp_path: Path) -> None:
    lock = tmp_path / "poll.json.lock"
    with _held(lock) as holder:
        waited: list[float] = []

        def wait() -> None:
            begun = time.monotonic()
            with poll_cache._poll_lock(lock):
                waited.append(time.monotonic() - begun)

        # a holder that runs is waited for
        thread = threading.Thread(target=wait)
        thread.start()
        thread.join(poll_cache.HOLDER_CHECK * 2.5)
        assert thread.is_alive() and not waited
        os.kill(holder.pid, signal.SIGSTOP)  # Ctrl-Z: it holds the lock until continued
        thread.join(poll_cache.HOLDER_CHECK * 3)
        assert waited, "the waiter still waits for a stopped holder"
        assert waited[0] < poll_cache.LOCK_TIMEOUT / 4


@pytest.mark.parametrize("content", [b"", b"garbage", b"otherhost 1\n", b"host notapid\n"])
def test_a_lock_file_that_names_no_stopped_holder_here_is_waited_for(tmp_path: Path, content: bytes) -> None:
    lock = tmp_path / "poll.lock"
    lock.write_bytes(content)
    with open(lock, "a+b") as handle:
        assert poll_cache._holder_stopped(handle) is False


class Asked:
    """A scheduler answering at once, with the jobs of each query recorded; `ended` jobs are completed."""

    name = "asked"

    def __init__(self) -> None:
        self.queries: list[list[str]] = []
        self.ended: set[str] = set()

    def poll(self, refs: list[JobRef]) -> PollResult:
        self.queries.append(sorted(r.job_id for r in refs))
        return PollResult(
            {
                r.job_id: JobStatus(r.job_id, "completed" if r.job_id in self.ended else "running")
                for r in refs
            }
        )


def test_one_poll_answers_every_watch_of_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Watches of different runs: whoever polls asks for the jobs the others want too; they ask nothing."""
    monkeypatch.setattr(poll_cache, "ASKED_LATELY", 0.0)
    backend, cache = Asked(), tmp_path / "poll.json"
    a, b, c = JobRef("1", "/f", cluster="x"), JobRef("2", "/f", cluster="x"), JobRef("3", "/f", cluster="y")
    cached_poll(backend, [a], cache, 5.0, watch=5.0)  # type: ignore[arg-type]
    cached_poll(backend, [c], cache, 5.0, watch=5.0)  # type: ignore[arg-type]  # another cluster's job
    cached_poll(backend, [b], cache, 5.0, watch=5.0)  # type: ignore[arg-type]
    assert backend.queries == [["1"], ["3"], ["1", "2"]]  # b's poll asked for a's job, not c's (cluster y)
    # a's watch, looking again within its interval, finds its answer in the cache: no query
    assert cached_poll(backend, [a], cache, 5.0, watch=5.0)["1"].state == "running"  # type: ignore[arg-type]
    assert len(backend.queries) == 3
    # a one-shot status (no watch) asks for what the watches want as well, and wants nothing itself
    backend.ended = {"1"}
    cached_poll(backend, [JobRef("4", "/f", cluster="x")], cache, 0.0)  # type: ignore[arg-type]
    assert backend.queries[-1] == ["1", "2", "4"]
    # a job seen ended is wanted no more
    cached_poll(backend, [JobRef("5", "/f", cluster="x")], cache, 0.0)  # type: ignore[arg-type]
    assert backend.queries[-1] == ["2", "5"]


def test_a_watch_that_stopped_is_not_asked_for_after_a_few_of_its_intervals(tmp_path: Path) -> None:
    backend, cache = Asked(), tmp_path / "poll.json"
    cached_poll(backend, [JobRef("1", "/f")], cache, 0.1, watch=0.1)  # type: ignore[arg-type]
    time.sleep(poll_cache.WANTED_FOR * 0.1 + poll_cache.ASKED_LATELY + 0.1)
    cached_poll(backend, [JobRef("2", "/f")], cache, 0.0)  # type: ignore[arg-type]
    assert backend.queries == [["1"], ["2"]]


def test_a_watch_answered_from_the_cache_says_again_what_it_wants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its wish would otherwise lapse while others' polls answer it, and it would poll again itself."""
    monkeypatch.setattr(poll_cache, "ASKED_LATELY", 0.0)
    backend, cache, a = Asked(), tmp_path / "poll.json", JobRef("1", "/f")
    cached_poll(backend, [a], cache, 1.0, watch=1.0)  # type: ignore[arg-type]
    for _ in range(8):  # 4 s (a's first wish lasts 3): another polls every 0.5 s, a looks as often
        time.sleep(0.5)
        cached_poll(backend, [JobRef("2", "/f")], cache, 0.0)  # type: ignore[arg-type]
        cached_poll(backend, [a], cache, 1.0, watch=1.0)  # type: ignore[arg-type]
    assert all("1" in query for query in backend.queries[1:]), backend.queries  # a was wanted throughout
    assert sum(query == ["1"] for query in backend.queries) == 1  # and never asked for alone again


def test_a_watch_answered_from_the_cache_never_waits_to_say_what_it_wants(tmp_path: Path) -> None:
    """Its answer is there: it does not wait behind another's poll (a slow sacct) only to renew its wish."""
    backend, cache, a = Asked(), tmp_path / "poll.json", JobRef("1", "/f")
    cached_poll(backend, [a], cache, 1.0, watch=1.0)  # type: ignore[arg-type]  # wanted for 3 s
    with _held(cache.with_name(cache.name + ".lock")):
        answered: list[float] = []

        def look() -> None:
            begun = time.monotonic()
            # fresh for 5 s, and its wish (3 s left) is due again: the lock is busy, so not now
            result = cached_poll(backend, [a], cache, 5.0, watch=5.0)  # type: ignore[arg-type]
            assert result["1"].state == "running"
            answered.append(time.monotonic() - begun)

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(3.0)
        assert answered and answered[0] < 1.0, answered  # before: it waited for the lock (up to 135 s)
        assert backend.queries == [["1"]]
