"""A job its wrapper requeued exits 75; until its next attempt may start, SLURM's accounting can still
show that exit as the job's end (FAILED, 75), for as long as the requeued job waits for its begin time.
The poll asks the controller about such jobs, and only about them (scheduler/slurm_poll.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from clusterrun.records import attempts as requeues
from clusterrun.records.models import Manifest
from clusterrun.scheduler import _proc, slurm_poll
from clusterrun.scheduler.base import JobRef, JobStatus, PollResult

SUBMIT = "2026-12-03T06:30:52"
REF = JobRef("3", "/nowhere", cluster="c", submit_time=SUBMIT, name="rqexhausted_20261203-063052")


def failed_75() -> PollResult:
    record = JobStatus(
        "3", "failed", "FAILED", exit_code=75, source="sacct", submit_time=SUBMIT, cluster="c", name=REF.name
    )
    return PollResult({"3": record})


def controller(monkeypatch: pytest.MonkeyPatch, stdout: str, code: int = 0) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        return subprocess.CompletedProcess(list(argv), code, stdout, "")

    monkeypatch.setattr(_proc, "run", run)
    return calls


def test_a_requeued_job_the_controller_still_queues_is_not_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    # the requeued attempt waits for its begin time; its submit time is the requeue's
    calls = controller(monkeypatch, f"3|PENDING|0:00|(BeginTime)|BeginTime|2026-12-03T06:32:20|{REF.name}\n")
    answer = failed_75()
    slurm_poll._requeued_exits([REF], answer, "c")
    assert [c[0] for c in calls] == ["squeue"] and "-j" in calls[0] and "3" in calls[0]
    assert answer["3"].state == "pending" and answer["3"].source == "squeue"
    manifest = Manifest.model_validate(
        {
            "state": "running",
            "attempts": [{"attempt": 1, "ended": "2026-12-03T06:32:19+00:00", "requeued_by": "clusterrun"}],
            "config": {"requeue": {"on": ["timeout"], "max_attempts": 2}},
        }
    )
    assert requeues.adjust(manifest, answer["3"], now=10**10).state == "requeued"  # long after any window


def test_a_job_the_controller_no_longer_lists_keeps_accountings_word(monkeypatch: pytest.MonkeyPatch) -> None:
    controller(monkeypatch, "")
    answer = failed_75()
    slurm_poll._requeued_exits([REF], answer, "c")
    assert answer["3"].state == "failed"


def test_another_jobs_record_under_the_id_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    controller(monkeypatch, "3|PENDING|0:00|(Priority)|Priority|2026-12-03T07:00:00|someone-elses-job\n")
    answer = failed_75()
    slurm_poll._requeued_exits([REF], answer, "c")
    assert answer["3"].state == "failed"


def test_a_requeued_job_killed_before_its_wrapper_exited_is_not_ended_either(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The requeue's own kill can end the attempt before the wrapper exits 75: accounting shows FAILED
    with another exit, and the controller still queues the job (CI: 'failed' != 'timeout' again)."""
    calls = controller(monkeypatch, f"3|PENDING|0:00|(BeginTime)|BeginTime|2026-12-03T06:32:20|{REF.name}\n")
    answer = failed_75()
    answer["3"].exit_code, answer["3"].signal = 0, 15
    slurm_poll._requeued_exits([REF], answer, "c")
    assert len(calls) == 1 and answer["3"].state == "pending"


def test_an_ordinary_failure_costs_one_lookup_and_stays_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = controller(monkeypatch, "")
    answer = failed_75()
    answer["3"].exit_code = 1  # an ordinary failure: the controller has forgotten it, or shows it ended
    slurm_poll._requeued_exits([REF], answer, "c")
    assert len(calls) == 1 and answer["3"].state == "failed"
    calls.clear()
    answer["3"].state = "completed"
    slurm_poll._requeued_exits([REF], answer, "c")
    assert calls == []  # no FAILED record: no call


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_accounting_disabled_on_either_stream_in_any_case_asks_the_controller(
    monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    """sacct exits 0 and says so where the cluster keeps no accounting: the poll takes squeue's word (the
    message is searched for, not found in a lowered copy of the whole output)."""
    said = "SLURM Accounting Storage is disabled"
    calls: list[list[str]] = []

    def run(argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        if argv[0] == "sacct":
            out, err = (said, "") if stream == "stdout" else ("", said)
            return subprocess.CompletedProcess(list(argv), 0, out, err)
        return subprocess.CompletedProcess(list(argv), 0, f"3|RUNNING|0:05|n1||{SUBMIT}|{REF.name}\n", "")

    monkeypatch.setattr(_proc, "run", run)
    monkeypatch.setattr(slurm_poll.info, "cluster_name", lambda: "c")
    answer = slurm_poll.poll([REF])
    assert [c[0] for c in calls] == ["sacct", "squeue"]
    assert answer["3"].state == "running" and answer["3"].source == "squeue"
    assert any(w.startswith(slurm_poll.SACCT_DOWN) for w in answer.warnings)
