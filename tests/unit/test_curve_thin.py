"""Curves thinned a point at a time (analysis/curve_thin.py) keep exactly what thinning the whole curve
kept (the dashboard's _thin before: each bucket's first, lowest and highest point, and the last), and a
run's thinned curves, read a block at a time, are its whole history's (history.load) thinned."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clusterrun.analysis import curve_thin, history, metric_fold


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metric_fold.forget()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


def _whole(steps: list[float], values: list[float], limit: int) -> tuple[list[float], list[float]]:
    """dashboard/pages._thin as it was, over the whole curve."""
    n = len(values)
    if n <= limit:
        return steps, values
    size = max(1, (3 * n) // limit)
    keep: set[int] = set()
    for start in range(0, n, size):
        bucket = range(start, min(n, start + size))
        keep.update((start, min(bucket, key=values.__getitem__), max(bucket, key=values.__getitem__)))
    keep.add(n - 1)
    order = sorted(keep)
    return [steps[i] for i in order], [values[i] for i in order]


@pytest.mark.parametrize("seed", range(200))
def test_a_thinner_keeps_what_thinning_the_whole_curve_kept(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 5, 30, 301, 1000, rng.randrange(1, 3000)])
    limit = rng.choice([1, 2, 3, 10, 50, 4000])
    values = [float(rng.choice([1, 2, 3, rng.random()])) for _ in range(n)]  # ties: the first is kept
    steps = [float(i * 2) for i in range(n)]
    assert curve_thin.thin(steps, values, limit) == _whole(steps, values, limit)


def _run(tmp_path: Path, rng: random.Random) -> tuple[Path, dict[str, object]]:
    run_dir = tmp_path / "runs" / "long_20260101-000000"
    run_dir.mkdir(parents=True)
    with (run_dir / "metrics.jsonl").open("w") as handle:
        for step in range(rng.randrange(0, 2000)):
            row: dict[str, object] = {"step": step} if rng.random() < 0.9 else {}
            for name in ("loss", "acc", "lr"):
                if rng.random() < 0.7:
                    row[name] = rng.choice([rng.random(), 1, float("nan"), True, "x"])
            if rng.random() < 0.1:
                row["timestamp"] = 1.5e9 + step
            handle.write(json.dumps(row) + "\n")
        if rng.random() < 0.3:
            handle.write('{"loss": 0.')  # a line being written
    lines = [
        f"step {s} | val_loss={rng.random():.4f} acc {rng.random():.3f}" for s in range(rng.randrange(0, 800))
    ]
    (run_dir / "stdout.log").write_text("\n".join(lines) + "\n")
    patterns = {"val_loss": r"\bval_loss=([0-9.]+)", "acc": r"\bacc ([0-9.]+)"}  # acc on both: stdout's wins
    if rng.random() < 0.5:
        patterns["step"] = r"\bstep (\d+)"
    config: dict[str, object] = {"metrics": {"file": "metrics.jsonl", "patterns": patterns}}
    if rng.random() < 0.2:
        config = {"metrics": {"file": "metrics.jsonl"}}  # no patterns
    if rng.random() < 0.5:  # the job wrote the patterns' rows as it ended
        history.write_stdout_history(run_dir, config)
    return run_dir, config


@pytest.mark.parametrize("seed", range(40))
def test_a_runs_thinned_curves_are_its_whole_historys_thinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(metric_fold, "BLOCK", rng.choice([64, 4096, 1 << 20]))
    run_dir, config = _run(tmp_path, rng)
    sources = history.Sources.from_config(config)
    limit = rng.choice([3, 40, 4000])
    loaded = history.load(run_dir, sources)
    expected = {name: _whole(s.steps, s.values, limit) for name, s in loaded.series.items()}
    assert curve_thin.thinned(run_dir, sources, limit) == dict(sorted(expected.items()))
