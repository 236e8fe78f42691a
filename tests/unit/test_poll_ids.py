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


def test_tasks_that_never_started_take_their_arrays_bare_remainder() -> None:
    """Cancelled before they started, an array's waiting tasks are printed as the array's bare id (SLURM
    22.05: `800|CANCELLED by 0`, no range): that record is theirs, marked as a range's; a task with a
    record of its own keeps it, and a plain job with the array's id is not touched."""
    from clusterrun.scheduler.sacct import parse_sacct_records
    from clusterrun.scheduler.slurm_poll import _pick_all

    fields = "|0:0|00:00:00|None assigned|2026-12-06T06:58:35|2026-12-06T06:58:35||0|None"
    output = "\n".join(
        [
            "800_0|CANCELLED by 0|0:15|00:00:03|vm|2026-12-06T06:58:32|2026-12-06T06:58:35||0.1|None",
            f"800|CANCELLED by 0{fields}",
        ]
    )
    refs = [_ref("800_0", True), _ref("800_2", False), _ref("800_3", False), _ref("801_1", False)]
    answer = _pick_all(refs, parse_sacct_records(output))
    assert {job: status.state for job, status in answer.items()} == {
        "800_0": "cancelled",
        "800_2": "cancelled",
        "800_3": "cancelled",
    }
    assert answer["800_2"].extra["array_range"] and not answer["800_0"].extra.get("array_range")
    assert _pick_all([_ref("800", False)], parse_sacct_records(output))["800"].job_id == "800"
