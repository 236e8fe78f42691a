"""Which record of a reused job id is a run's own job (scheduler/identity.py), sacct --duplicates parsed
into every record (scheduler/sacct.py), and the shared poll cache's per-job times (scheduler/cache.py).
The sacct text below is what SLURM 22.05 printed on an isolated cluster whose ids wrapped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clusterrun.errors import SchedulerUnavailable
from clusterrun.scheduler.base import JobRef, JobStatus, PollResult
from clusterrun.scheduler.cache import cached_poll
from clusterrun.scheduler.identity import epoch, pick
from clusterrun.scheduler.sacct import parse_sacct, parse_sacct_records

RUN = "five_20261202-124457"
# JobID|State|ExitCode|ElapsedRaw|NodeList|Start|End|MaxRSS|TotalCPU|Reason|Submit|Cluster|JobName
WRAPPED = "\n".join(
    [
        f"1|FAILED|1:0|1|n1|2026-12-02T12:44:58|2026-12-02T12:44:59||00:00.1|None|2026-12-02T12:44:57|t1|{RUN}",
        "1.batch|FAILED|1:0|1|n1|2026-12-02T12:44:58|2026-12-02T12:44:59|2048K|00:00.1||2026-12-02T12:44:58|t1|batch",
        "2|COMPLETED|0:0|0|n1|2026-12-02T12:45:06|2026-12-02T12:45:06||00:00:00|None|2026-12-02T12:45:06|t1|wrap",
        "1|COMPLETED|0:0|0|n1|2026-12-02T12:45:24|2026-12-02T12:45:24||00:00:00|None|2026-12-02T12:45:24|t1|wrap",
        "1.batch|COMPLETED|0:0|0|n1|2026-12-02T12:45:24|2026-12-02T12:45:24|1024K|00:00:00||2026-12-02T12:45:24|t1|batch",
    ]
)
REQUEUED = "\n".join(
    [
        f"7|REQUEUED|0:0|3|n1|2026-12-02T12:46:46|2026-12-02T12:46:49||00:00:00|None|2026-12-02T12:46:45|t1|{RUN}",
        f"7|RUNNING|0:0|2|n1|2026-12-02T12:46:51|Unknown||00:00:00|None|2026-12-02T12:46:49|t1|{RUN}",
    ]
)


def _ref(**fields: object) -> JobRef:
    return JobRef("1", "/f", **fields)  # type: ignore[arg-type]


def test_every_record_of_a_reused_id_is_kept_with_its_own_steps() -> None:
    records = parse_sacct_records(WRAPPED)
    assert [(r.job_id, r.state, r.name) for r in records] == [
        ("1", "failed", RUN),
        ("2", "completed", "wrap"),
        ("1", "completed", "wrap"),
    ]
    assert records[0].max_rss_mb == 2.0 and records[2].max_rss_mb == 1.0  # each its own step's
    assert records[0].submit_time == "2026-12-02T12:44:57" and records[0].cluster == "t1"
    assert parse_sacct(WRAPPED)["1"].state == "completed"  # as plain sacct answers: the newest


def test_the_run_gets_its_own_record_not_the_newer_job_that_reused_the_id() -> None:
    records = parse_sacct_records(WRAPPED)
    pinned = _ref(cluster="t1", submit_time="2026-12-02T12:44:57", name=RUN)
    assert pick(pinned, records) is records[0]
    # known only by when it was submitted (the identity could not be read at submission)
    window = _ref(submitted_after=epoch("2026-12-02T12:44:56"), submitted_before=epoch("2026-12-02T12:44:58"))
    assert pick(window, records) is records[0]
    # the stale run whose id went to another job, seen only through that job: not its own
    assert pick(pinned, records[2:]) is None
    # a job of another cluster with the same id is never the run's
    assert pick(_ref(cluster="t2", submit_time="2026-12-02T12:44:57", name=RUN), records) is None
    # a record that knows nothing but the id: the newest, as before
    assert pick(_ref(), records) is records[2]


def test_a_requeued_job_stays_the_runs_through_its_new_submit_time() -> None:
    records = [
        JobStatus(
            r.job_id,
            r.state,
            raw_state=r.raw_state,
            submit_time=r.submit_time,
            cluster=r.cluster,
            name=r.name,
        )
        for r in parse_sacct_records(REQUEUED)
    ]
    ref = JobRef("7", "/f", cluster="t1", submit_time="2026-12-02T12:46:45", name=RUN)
    assert pick(ref, records) is records[1]
    nameless = JobRef("7", "/f", submit_time="2026-12-02T12:46:45")
    unnamed = [
        JobStatus(r.job_id, r.state, raw_state=r.raw_state, submit_time=r.submit_time) for r in records
    ]
    assert pick(nameless, unnamed) is unnamed[1]  # after a REQUEUED record, the next is the same job
    # squeue shows only the current attempt: the same job by its name, submitted after the first
    assert pick(ref, records[1:]) is records[1]


class Counting:
    """A backend whose poll counts its calls and answers what it is told."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.states: dict[str, str] = {}
        self.down = False

    def poll(self, refs: list[JobRef]) -> PollResult:
        self.calls.append([r.job_id for r in refs])
        if self.down:
            raise SchedulerUnavailable("SLURM did not answer: test", hint="later")
        return PollResult(
            {r.job_id: JobStatus(r.job_id, self.states[r.job_id]) for r in refs if r.job_id in self.states}
        )


def test_each_job_has_its_own_time_in_the_shared_cache(tmp_path: Path) -> None:
    backend = Counting()
    cache = tmp_path / "poll.json"
    a, b = JobRef("10", "/f"), JobRef("11", "/f")
    backend.states = {"10": "running", "11": "running"}
    cached_poll(backend, [a], cache, 1.0)  # type: ignore[arg-type]
    time.sleep(1.1)
    cached_poll(backend, [b], cache, 1.0)  # type: ignore[arg-type]
    # b's fresh answer does not make a's old one look fresh: a is asked again (alone)
    backend.states["10"] = "completed"
    assert cached_poll(backend, [a, b], cache, 1.0)["10"].state == "completed"  # type: ignore[arg-type]
    assert backend.calls == [["10"], ["11"], ["10"]]
    # a job the scheduler did not know is remembered as unknown for max_age too (no query)
    c = JobRef("12", "/f")
    assert "12" not in cached_poll(backend, [c], cache, 5.0)  # type: ignore[arg-type]
    assert "12" not in cached_poll(backend, [c], cache, 5.0)  # type: ignore[arg-type]
    assert backend.calls[-1] == ["12"] and len(backend.calls) == 4


def test_a_scheduler_that_did_not_answer_is_remembered_for_max_age(tmp_path: Path) -> None:
    backend = Counting()
    backend.down = True
    cache = tmp_path / "poll.json"
    for _ in range(3):
        with pytest.raises(SchedulerUnavailable, match="did not answer"):
            cached_poll(backend, [JobRef("10", "/f")], cache, 5.0)  # type: ignore[arg-type]
    assert len(backend.calls) == 1
