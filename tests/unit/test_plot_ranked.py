"""`clusterrun plot` of a metric every run logged once (a final result in a results file): there is no
curve to draw (plotext drew one dot a run, on a step axis from -1 to 1, a user trial), so the runs are
ranked, best first, each with its value and a bar from the worst value to the best."""

from __future__ import annotations

from clusterrun.cli.plot import _ranked
from clusterrun.dashboard.curves import Curve


def _curves(values: list[float]) -> list[Curve]:
    return [Curve(f"r{i}", f"lr={v}", [0.0], [v], best=False) for i, v in enumerate(values)]


def test_runs_are_ranked_best_first_with_bars_from_the_worst_to_the_best() -> None:
    drawn = _curves([0.85, 0.9, 0.8])
    drawn[1].best = True
    lines = _ranked("cv_acc", "max", "sw", drawn, 60).splitlines()
    assert lines[0] == "cv_acc (max) · sw: one value per run, best first"
    ranked = [line.split()[0:2] for line in lines[1:4]]
    assert ranked == [["*", "lr=0.9"], ["lr=0.85", "0.85"], ["lr=0.8", "0.8"]]
    bars = [line.count("█") for line in lines[1:4]]
    assert bars[0] > bars[1] > bars[2] == 1 and max(len(line) for line in lines[1:4]) <= 60
    assert lines[-1] == "(bars from the worst value, 0.8, to the best, 0.9)"


def test_a_lower_is_better_metric_is_ranked_lowest_first_and_equal_values_get_full_bars() -> None:
    lines = _ranked("loss", "min", "sw", _curves([0.3, 0.1]), 60).splitlines()
    assert lines[1].split()[:2] == ["lr=0.1", "0.1"] and lines[1].count("█") > lines[2].count("█") == 1
    same = _ranked("loss", "min", "sw", _curves([0.5, 0.5]), 60).splitlines()
    assert same[1].count("█") == same[2].count("█") > 1
