"""A poll cache shared by concurrent `clusterrun status` invocations (a JSON file per backend, and a lock).

Every job's entry has its own time: the moment the query that answered for it started. A process that
finds all its jobs fresh (younger than `max_age`) reads them and asks nothing. Otherwise it takes the
poll lock, reads the file again (another watcher may have just polled) and only then, if still needed,
asks the scheduler once, for the jobs that are not fresh. So N terminals watching the same runs cost
about one scheduler query per `max_age`, not N; an entry is never replaced by an older answer, so no
watcher shows `running` for a job another has already seen end. A scheduler that did not answer is
remembered for `max_age` too (the others report it without asking again), and so are the answer's
warnings (e.g. that accounting did not answer).

A process that waited for the lock while another's query was going takes that query's answer (or its
failure) however long the query took: it is what its own query, asked at the moment it arrived, could
at best have said, and asking again would double the load exactly when accounting is slow (a query
longer than `max_age` was shared with nobody) or down (each watcher in turn waited out its own
time-out). The lock's holder writes its host and pid into the lock file; a waiter does not wait for a
holder that is stopped (Ctrl-Z), and otherwise waits as long as a query may take (LOCK_TIMEOUT).

Watches of different runs share too: a watch (`watch` seconds between its looks) writes the jobs it
follows into the file as wanted, for a few of its intervals, and whoever polls asks for every job still
wanted by a live watch (its own, and the others' not answered in the last second; jobs seen ended are
dropped). The others find their answers fresh and ask nothing: N watches of a registry, whatever they
follow, cost about one query per interval.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.errors import DiskFull, SchedulerUnavailable
from clusterrun.records.jsonio import read_json, write_text_atomic
from clusterrun.scheduler import _proc, identity
from clusterrun.scheduler.base import TERMINAL, JobRef, JobStatus, PollResult, Scheduler

FORMAT = 2
MAX_ENTRIES = 5000
#: seconds a process waits for another's poll: as long as a poll may take (sacct's time limit, then
#: squeue's); a holder stuck longer, or stopped, is not waited for
LOCK_TIMEOUT = 2 * _proc.DEFAULT_TIMEOUT + 15.0
HOLDER_CHECK = 1.0  #: seconds between looks at whether the lock's holder is stopped
POLLS_KEPT = 16  #: the (started, done) times of the last polls kept in the file
WANTED_FOR = 3  #: a watch's jobs stay wanted this many of its intervals after it last said so
WANTED_AGAIN = 1.5  #: ... and it says so again when fewer than this many intervals are left
ASKED_LATELY = 1.0  #: seconds: another's wanted job answered this recently is not asked again
_REF_FIELDS = {f.name for f in fields(JobRef)}
_STATUS_FIELDS = {f.name for f in fields(JobStatus)}


def key(ref: JobRef) -> str:
    """A job's entry: its cluster, id and (once known) submit time, so that two jobs that had the same
    id never share one."""
    return f"{ref.cluster}/{ref.job_id}/{ref.submit_time}"


class _Cache:
    def __init__(self, data: Any) -> None:
        ok = isinstance(data, dict) and data.get("format") == FORMAT
        self.jobs: dict[str, dict[str, Any]] = dict(data.get("jobs") or {}) if ok else {}
        self.failure: dict[str, Any] = dict(data.get("failure") or {}) if ok else {}
        self.warnings: dict[str, Any] = dict(data.get("warnings") or {}) if ok else {}
        polls = data.get("polls") if ok else None
        #: (started, done) of the last polls, answered or failed
        self.polls: list[list[float]] = [
            [float(p[0]), float(p[1])]
            for p in (polls if isinstance(polls, list) else [])
            if isinstance(p, list) and len(p) == 2 and all(isinstance(t, int | float) for t in p)
        ]

        wanted = data.get("wanted") if ok else None
        #: key -> {"ref": the JobRef's fields, "until": epoch seconds}: the jobs live watches follow
        self.wanted: dict[str, dict[str, Any]] = dict(wanted) if isinstance(wanted, dict) else {}

    def want(self, refs: list[JobRef], until: float) -> None:
        for ref in refs:
            self.wanted[key(ref)] = {"ref": asdict(ref), "until": until}
        if len(self.wanted) > MAX_ENTRIES:  # the soonest to expire go
            kept = sorted(self.wanted.items(), key=lambda kv: float(kv[1].get("until", 0)))[-MAX_ENTRIES:]
            self.wanted = dict(kept)

    def wants_again(self, refs: list[JobRef], soon: float) -> bool:
        """Whether any of `refs` is not wanted, or no longer after `soon`."""
        for ref in refs:
            item = self.wanted.get(key(ref))
            if not isinstance(item, dict) or float(item.get("until", 0)) < soon:
                return True
        return False

    def others_wanted(self, refs: list[JobRef], now: float) -> list[JobRef]:
        """The jobs live watches want that `refs` do not hold, on the clusters `refs` are on, not ended
        and not answered in the last ASKED_LATELY seconds; expired or ended ones are forgotten."""
        own, clusters = {key(r) for r in refs}, {r.cluster for r in refs}
        out = []
        for name, item in list(self.wanted.items()):
            ref = _ref(item)
            entry = self.jobs.get(name)
            status = entry.get("status") if isinstance(entry, dict) else None
            ended = isinstance(status, dict) and status.get("state") in TERMINAL
            if ref is None or ended or float(item.get("until", 0)) < now:
                del self.wanted[name]
                continue
            if name in own or ref.cluster not in clusters:
                continue
            if isinstance(entry, dict) and float(entry.get("at", 0)) >= now - ASKED_LATELY:
                continue
            out.append(ref)
        return out

    def in_flight_since(self, arrived: float) -> float:
        """The start of the earliest poll still going at `arrived` (done after it): its answers are as
        fresh as a query asked at `arrived`. Infinity when there was none."""
        return min((started for started, done in self.polls if done >= arrived), default=float("inf"))

    def polled(self, started: float) -> None:
        self.polls = [*self.polls, [started, time.time()]][-POLLS_KEPT:]

    def entry(self, ref: JobRef, fresh_after: float) -> tuple[bool, JobStatus | None]:
        """(fresh, status): fresh when an answer for the job is younger than fresh_after; status None
        when the scheduler did not know the job then."""
        entry = self.jobs.get(key(ref))
        if not isinstance(entry, dict) or float(entry.get("at", 0)) < fresh_after:
            return False, None
        record = entry.get("status")
        if record is None:
            return True, None
        try:
            status = JobStatus(**{f: v for f, v in record.items() if f in _STATUS_FIELDS})
        except (TypeError, AttributeError):
            return False, None
        return (True, status) if identity.matches(ref, status) else (False, None)

    def failure_after(self, fresh_after: float) -> SchedulerUnavailable | None:
        if float(self.failure.get("at", 0)) < fresh_after:
            return None
        return SchedulerUnavailable(
            str(self.failure.get("message", "")), hint=str(self.failure.get("hint", ""))
        )

    def fresh_notes(self, fresh_after: float) -> tuple[list[str], list[str]]:
        """The last answer's (warnings, sources asked), when it is fresh."""
        if float(self.warnings.get("at", 0)) < fresh_after:
            return [], []
        return [str(w) for w in self.warnings.get("items", [])], [
            str(a) for a in self.warnings.get("asked", [])
        ]

    def merge(self, refs: list[JobRef], answer: PollResult, at: float) -> None:
        for ref in refs:
            old = self.jobs.get(key(ref))
            if isinstance(old, dict) and float(old.get("at", 0)) > at:
                continue  # a newer answer is already here: never replaced by an older one
            status = answer.get(ref.job_id)
            self.jobs[key(ref)] = {"at": at, "status": status.as_record() if status is not None else None}
        self.warnings = {"at": at, "items": list(answer.warnings), "asked": list(answer.asked)}
        if len(self.jobs) > MAX_ENTRIES:  # keep the file small: the oldest answers go
            newest = sorted(self.jobs.items(), key=lambda kv: float(kv[1].get("at", 0)))[-MAX_ENTRIES:]
            self.jobs = dict(newest)

    def data(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "jobs": self.jobs,
            "failure": self.failure,
            "warnings": self.warnings,
            "polls": self.polls,
            "wanted": self.wanted,
        }


def _ref(item: Any) -> JobRef | None:
    """The JobRef a wanted item holds, or None when it is not one."""
    data = item.get("ref") if isinstance(item, dict) else None
    if not isinstance(data, dict):
        return None
    try:
        return JobRef(**{k: v for k, v in data.items() if k in _REF_FIELDS})
    except TypeError:
        return None


def _save(path: Path, cache: _Cache) -> None:
    """The cache, compact: a file of thousands of entries that only clusterrun reads, rewritten at every
    poll (indented, Python's JSON encoder takes its slow path: 0.14 s for 5,000 entries, 0.04 s so)."""
    write_text_atomic(path, json.dumps(cache.data(), separators=(",", ":"), default=str))


def _load(path: Path) -> _Cache:
    try:
        return _Cache(read_json(path))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _Cache({})


@contextlib.contextmanager
def _poll_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """The right to poll: held by one process at a time; after LOCK_TIMEOUT, or at once when its holder
    is stopped, a process polls without it. Yields whether it is held; without `wait`, it is only tried."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        look = time.monotonic() + HOLDER_CHECK
        held = portable.lock(handle, blocking=False)
        while wait and not held and time.monotonic() < deadline:
            if time.monotonic() >= look:
                if _holder_stopped(handle):
                    break
                look = time.monotonic() + HOLDER_CHECK
            time.sleep(0.05)
            held = portable.lock(handle, blocking=False)
        try:
            if held:
                _name_holder(handle)
            yield held
        finally:
            if held:
                portable.unlock(handle)


def _name_holder(handle: Any) -> None:
    """The lock file says who holds it (`host pid`), for the others to see whether it is stopped."""
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(f"{socket.gethostname()} {os.getpid()}\n".encode())
        handle.flush()


def _holder_stopped(handle: Any) -> bool:
    """Whether the lock's holder, as the lock file names it, is a stopped process on this host."""
    try:
        handle.seek(0)
        host, pid = handle.read(512).decode(errors="replace").split()[:2]
        return host == socket.gethostname() and portable.stopped(int(pid))
    except (OSError, ValueError):
        return False


def _answer(cache: _Cache, refs: list[JobRef], fresh_after: float) -> PollResult | None:
    """Everything from the cache, or None when some job needs asking."""
    result = PollResult()
    for ref in refs:
        fresh, status = cache.entry(ref, fresh_after)
        if not fresh:
            return None
        if status is not None:
            result[ref.job_id] = status
    result.warnings, result.asked = cache.fresh_notes(fresh_after)
    return result


def cached_poll(
    scheduler: Scheduler, refs: list[JobRef], cache_file: Path, max_age: float, watch: float = 0.0
) -> PollResult:
    """Answer from the cache for the jobs asked about within max_age; ONE scheduler query for the rest.
    `watch`: the caller is a watch looking every `watch` seconds: its jobs are wanted (module docstring)."""
    if not refs:
        return PollResult()
    arrived = time.time()
    fresh_after = arrived - max_age
    cache = _load(cache_file)
    if max_age > 0:
        failed = cache.failure_after(fresh_after)
        if failed is not None:
            raise failed
        cached = _answer(cache, refs, fresh_after)
        if cached is not None:
            if _wish_due(cache, refs, arrived, watch):  # never waited for: said at a later look if busy
                lock = cache_file.with_name(cache_file.name + ".lock")
                with contextlib.suppress(OSError), _poll_lock(lock, wait=False) as held:
                    if held:
                        _say_wanted(cache_file, _load(cache_file), refs, arrived + WANTED_FOR * watch)
            return cached
    with _poll_lock(cache_file.with_name(cache_file.name + ".lock")):
        cache = _load(cache_file)  # another process may have polled while this one waited
        if max_age > 0:  # a poll going on when this process arrived answered for it (module docstring)
            fresh_after = min(fresh_after, cache.in_flight_since(arrived))
            failed = cache.failure_after(fresh_after)
            if failed is not None:
                raise failed
            cached = _answer(cache, refs, fresh_after)
            if cached is not None:
                if _wish_due(cache, refs, arrived, watch):
                    _say_wanted(cache_file, cache, refs, arrived + WANTED_FOR * watch)
                return cached
        missing = [r for r in refs if not cache.entry(r, fresh_after)[0]] if max_age > 0 else refs
        started = time.time()
        if watch > 0:
            cache.want(refs, started + WANTED_FOR * watch)
        others = cache.others_wanted(refs, started)  # one query for every live watch's jobs
        try:
            polled = scheduler.poll(missing + others)
        except SchedulerUnavailable as exc:
            cache.failure = {"at": started, "message": exc.message, "hint": exc.hint}
            cache.polled(started)
            _save(cache_file, cache)
            raise
        answer = polled if isinstance(polled, PollResult) else PollResult(polled)
        cache.failure = {}
        cache.merge(missing + others, answer, started)
        cache.polled(started)
        _save(cache_file, cache)
    result = PollResult(warnings=answer.warnings, asked=answer.asked)
    asked = {key(r) for r in missing}
    for ref in refs:
        if key(ref) in asked:
            if ref.job_id in answer:
                result[ref.job_id] = answer[ref.job_id]
            continue
        status = cache.entry(ref, fresh_after)[1]
        if status is not None:
            result[ref.job_id] = status
    return result


def _wish_due(cache: _Cache, refs: list[JobRef], arrived: float, watch: float) -> bool:
    """Whether a watch answered from the cache should say again that it wants its jobs (its wish lapses
    in fewer than WANTED_AGAIN of its intervals): others' polls answer it only while it is wanted."""
    return watch > 0 and cache.wants_again(refs, arrived + WANTED_AGAIN * watch)


def _say_wanted(cache_file: Path, cache: _Cache, refs: list[JobRef], until: float) -> None:
    """The watch's wish written, the lock held (nothing another process wrote meanwhile is lost). Best
    effort: a full disk leaves it unsaid (its own poll, when its answers are old, says it again)."""
    cache.want(refs, until)
    with contextlib.suppress(DiskFull, OSError):
        _save(cache_file, cache)
