"""What one sacct asks for (scheduler/slurm_poll.py, query_ids): a task of an array by its own id once it
has run, its array's id while it has not (a pending task has no accounting record of its own); plain
jobs by their id; every job asked for in one way only. And what is not asked of it (queued_tasks): the
tasks that have not run and that the controller's queue lists as waiting."""

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


def _fake_run(monkeypatch: object, answers: dict[str, str], calls: list[list[str]]) -> None:
    """scheduler commands answered from `answers` (tool -> stdout; a tool missing fails), each logged."""
    import subprocess

    from clusterrun.scheduler import _proc, info

    def run(argv: list[str], timeout: float = 0) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        out = answers.get(argv[0])
        failed = out is None
        return subprocess.CompletedProcess(argv, int(failed), out or "", "down" if failed else "")

    monkeypatch.setattr(_proc, "run", run)  # type: ignore[attr-defined]
    monkeypatch.setattr(info, "cluster_name", lambda: "local")  # type: ignore[attr-defined]


SUBMIT = "2026-12-07T10:00:00"


def _queued(job_id: str, state: str = "PENDING", reason: str = "JobHeldUser", name: str = "sw") -> str:
    return f"{job_id}|{state}|0:00||{reason}|{SUBMIT}|{name}"


def test_waiting_tasks_are_taken_from_the_queue_and_not_asked_of_accounting(monkeypatch: object) -> None:
    """Unstarted tasks the controller lists as pending take its record (reason included); a started task
    is asked of sacct by its own id, and the array's id is not asked: no task needs it."""
    from clusterrun.scheduler.slurm_poll import QUEUED_TASKS, poll

    calls: list[list[str]] = []
    ended = "900_0|COMPLETED|0:0|3|vm|2026-12-07T10:00:01|2026-12-07T10:00:04||0.1|None"
    sacct = f"{ended}|{SUBMIT}|local|sw"
    _fake_run(monkeypatch, {"squeue": "\n".join([_queued("900_1"), _queued("900_2")]), "sacct": sacct}, calls)
    refs = [
        JobRef("900_0", "/f", cluster="local", submit_time=SUBMIT, name="sw", started=True),
        JobRef("900_1", "/f", cluster="local", submit_time=SUBMIT, name="sw"),
        JobRef("900_2", "/f", cluster="local", submit_time=SUBMIT, name="sw"),
    ]
    answer = poll(refs)
    assert {job: (s.state, s.reason, s.source) for job, s in answer.items()} == {
        "900_0": ("completed", "", "sacct"),
        "900_1": ("pending", "JobHeldUser", "squeue"),
        "900_2": ("pending", "JobHeldUser", "squeue"),
    }
    assert [c[0] for c in calls] == ["squeue", "sacct"]
    assert calls[0][calls[0].index("-t") + 1] == "PENDING" and calls[0][-1] == "900"
    assert calls[1][calls[1].index("-j") + 1] == "900_0"  # not 900: every task would come back
    assert answer.asked == ["sacct", QUEUED_TASKS]


def test_all_waiting_asks_no_accounting_and_anything_else_keeps_the_arrays_id(monkeypatch: object) -> None:
    from clusterrun.scheduler.slurm_poll import poll

    calls: list[list[str]] = []
    _fake_run(monkeypatch, {"squeue": _queued("900_1")}, calls)
    only = poll([JobRef("900_1", "/f", cluster="local", submit_time=SUBMIT, name="sw")])
    assert [c[0] for c in calls] == ["squeue"] and only["900_1"].state == "pending"
    # not listed as waiting (started a moment ago; cancelled before it started), another job under the
    # id (another submit time), or another cluster's: accounting is asked, through the array's id
    cases = [
        JobRef("900_5", "/f", cluster="local", submit_time=SUBMIT, name="sw"),
        JobRef("901_1", "/f", cluster="local", submit_time="2026-12-07T11:00:00", name="sw"),  # older one
        JobRef("902_1", "/f", cluster="other", submit_time=SUBMIT, name="sw"),
    ]
    for ref in cases:
        calls.clear()
        queue = "\n".join([_queued("900_1"), _queued("901_1"), _queued("902_1"), _queued("900_5", "RUNNING")])
        _fake_run(monkeypatch, {"squeue": "\n".join(queue), "sacct": ""}, calls)
        poll([ref])
        asked = calls[-1]
        assert asked[0] == "sacct" and asked[asked.index("-j") + 1] == ref.job_id.split("_")[0], (ref, calls)
    calls.clear()
    _fake_run(monkeypatch, {"sacct": ""}, calls)  # the controller does not answer: as before
    poll([JobRef("900_1", "/f", cluster="local", submit_time=SUBMIT, name="sw")])
    assert [c[0] for c in calls] == ["squeue", "sacct"] and calls[1][calls[1].index("-j") + 1] == "900"
