"""Why a pending run waits, in words, and what to do when it waits on someone: the scheduler's reason
codes (squeue's REASON) as status, the sweep table and the watch show them. Before, a held job showed a
bare `JobHeldUser` in the watch only, nothing in a plain `status`, and an ELAPSED of 0.0s."""

from __future__ import annotations

from typing import Any

import pytest

from clusterrun.cli.tables import status_table, waiting_lines
from clusterrun.scheduler import reasons


def _row(run_id: str, state: str, reason: str = "", job_id: str = "") -> dict[str, Any]:
    return {"run_id": run_id, "state": state, "reason": reason, "job_id": job_id, "metrics": {}}


@pytest.mark.parametrize(
    ("code", "words", "stuck"),
    [
        ("Priority", "behind higher-priority jobs", False),
        ("JobArrayTaskLimit", "sweep.parallelism limit", False),
        ("JobHeldUser", "held", True),
        ("PartitionTimeLimit", "time above partition limit", True),
        ("QOSMaxJobsPerUserLimit", "a limit of your QOS", False),
        ("AssocGrpCpuLimit", "a limit of your account", False),
        ("SomethingNew", "SomethingNew", False),  # a code we do not know: shown as the scheduler says it
    ],
)
def test_a_code_in_words(code: str, words: str, stuck: bool) -> None:
    waiting = reasons.explain(code)
    assert (waiting.words, waiting.stuck) == (words, stuck)
    assert waiting.said() == (code if words == code else f"{words} ({code})")
    assert len(waiting.words) <= 30 or waiting.words == code  # it fits a table's cell


def test_the_lines_put_what_needs_someone_first_and_name_each_array_once() -> None:
    rows = [
        _row("a", "pending", "JobArrayTaskLimit", "700_3"),
        _row("b", "pending", "JobHeldUser", "700_1"),
        _row("c", "pending", "JobHeldUser", "700_2"),
        _row("d", "pending", "JobHeldUser", "69"),
        _row("e", "running", "", "700_0"),
        _row("f", "pending", "", "71"),  # no reason known (yet): no line
    ]
    assert waiting_lines(rows) == [
        "Waiting: 3 runs: held (JobHeldUser) -> to let it start: scontrol release 69,700",
        "Waiting: a: sweep.parallelism limit (JobArrayTaskLimit)",
    ]


def test_a_requeued_run_says_why_it_waits_too() -> None:
    """A requeued job waits in the queue as a pending one does (SLURM holds it about 2 minutes: BeginTime);
    its run showed REQUEUED (2/3) and no reason, as if it were stuck."""
    rows = [_row("long_1", "requeued", "BeginTime", "16196"), _row("other", "pending", "Priority", "5")]
    assert waiting_lines(rows) == [
        "Waiting: long_1: its start time has not come (BeginTime): SLURM lets a requeued job start again "
        "about 2 minutes after its requeue",
        "Waiting: other: behind higher-priority jobs (Priority)",
    ]


def test_status_says_why_under_its_table_and_a_pending_run_has_no_elapsed_time() -> None:
    rows = [_row("held_1", "pending", "JobHeldUser", "12") | {"elapsed_seconds": None}]
    text = status_table(rows)
    row = next(line for line in text.splitlines() if line.startswith("held_1"))
    assert row.split()[:3] == ["held_1", "PENDING", "-"]
    said = "Waiting: held_1: held (JobHeldUser) -> to let it start: scontrol release 12"
    assert text.splitlines()[-1] == said
