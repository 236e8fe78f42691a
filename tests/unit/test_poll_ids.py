"""What one sacct asks for (scheduler/slurm_poll.py, query_ids): a task of an array by its own id once it
has run, its array's id while it has not (a pending task has no accounting record of its own); plain
jobs by their id; every job asked for in one way only."""

from __future__ import annotations

from clusterrun.scheduler.base import JobRef
from clusterrun.scheduler.slurm_poll import query_ids, sacct_argv


def _ref(job_id: str, started: bool) -> JobRef:
    return JobRef(job_id, "/folder", started=started)


def test_tasks_that_ran_are_asked_for_by_their_own_ids() -> None:
    refs = [_ref("500_3", True), _ref("500_7", True), _ref("42", True)]
    assert query_ids(refs) == "42,500_3,500_7"
    argv = sacct_argv(refs, "local")
    assert argv[argv.index("-j") + 1] == "42,500_3,500_7"


def test_a_task_not_run_yet_asks_for_its_whole_array_once() -> None:
    refs = [_ref("500_3", True), _ref("500_9", False), _ref("600_1", True)]
    # 500's pending task is found only through its array, which answers 500_3 as well
    assert query_ids(refs) == "500,600_1"


def test_plain_jobs_and_unknown_starts_keep_the_arrays_id() -> None:
    assert query_ids([_ref("42", False), _ref("43", True)]) == "42,43"
    assert query_ids([_ref("700_0", False), _ref("700_1", False)]) == "700"
    assert query_ids([_ref("800_[0-9%2]", True)]) == "800"  # a range of tasks is never one task
