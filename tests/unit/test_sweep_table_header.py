"""A sweep's table says what it is ranked by, or that nothing ranks it yet (it said 'ranked by - (min)')."""

from __future__ import annotations

from typing import Any

from clusterrun.cli.tables import sweep_table
from clusterrun.records.models import SweepRecord
from clusterrun.services.sweeps import SweepView


def _view(metric: str | None, metrics: dict[str, float]) -> SweepView:
    record = SweepRecord.model_validate({"sweep_id": "s_1", "axes": ["seed"]})
    row: dict[str, Any] = {
        "run_id": "m_1",
        "state": "completed",
        "values": {"seed": 1},
        "metrics": metrics,
        "best": bool(metric),
    }
    totals = {"cpu_hours_used": 0.001, "cpu_hours_requested": 0.5}
    return SweepView(
        "s_1", record, [row], metric, "min", "m_1" if metric else None, {"completed": 1}, totals, []
    )


def test_a_sweep_with_a_metric_says_what_ranks_it() -> None:
    assert "1 member(s), ranked by loss (min)" in sweep_table(_view("loss", {"loss": 0.5}))


def test_a_sweep_whose_members_have_no_metric_says_it_is_not_ranked() -> None:
    text = sweep_table(_view(None, {}))
    assert "not ranked (no member has a metric yet)" in text and "ranked by -" not in text
