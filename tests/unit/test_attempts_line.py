"""The attempts line of `show` and the results block: who requeued each attempt, in words a user reads."""

from __future__ import annotations

from clusterrun.cli.output import attempts_line
from clusterrun.records.models import AttemptRecord


def test_an_attempt_requeued_by_scontrol_says_who_may_have_asked() -> None:
    """SLURM's REQUEUED (sacct) is an `scontrol requeue`: PyTorch Lightning's own auto-requeue, or a user
    by hand; `requeued by scheduler` read as if SLURM had decided it (a user trial)."""
    line = attempts_line(
        [
            AttemptRecord(attempt=1, node="vm", seconds=72.0, reason="requeued", requeued_by="scheduler"),
            AttemptRecord(attempt=2, node="vm", seconds=50.2, reason="time_limit", requeued_by="clusterrun"),
            AttemptRecord(attempt=3, node="vm", seconds=71.0, reason="completed"),
        ]
    )
    assert line == (
        "3: #1 vm 00:01:12 requeued (scontrol requeue: by the command, as Lightning does, or by hand), "
        "#2 vm 50.2s time_limit (requeued by clusterrun), #3 vm 00:01:11 completed"
    )
