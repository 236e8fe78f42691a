"""A metric whose last value is nan or inf (a training that diverged) is said, not dropped for the last
finite value before it (analysis/metrics.py): `metrics` holds numbers only, `metrics_non_finite` the rest."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from clusterrun.analysis.metrics import NUMBER, PLAIN_NUMBER, collect, collect_last, jsonl_last

PATTERNS = {"loss": rf"\bloss={PLAIN_NUMBER}", "acc": rf"\bacc {PLAIN_NUMBER}"}  # init's and the docs' form


def _run(tmp_path: Path, stdout: str, jsonl: list[dict[str, object]] | None = None) -> Path:
    (tmp_path / "stdout.log").write_text(stdout)
    if jsonl is not None:
        (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in jsonl))
    return tmp_path


def test_a_printed_nan_or_inf_is_the_last_value_not_the_number_before_it(tmp_path: Path) -> None:
    run = _run(tmp_path, "step 1 loss=0.5 acc 0.7\nstep 2 loss=nan acc 0.8\nstep 3 loss=nan acc -inf\n")
    assert collect_last(run, "metrics.jsonl", PATTERNS) == ({}, {"acc": "-inf", "loss": "nan"})
    assert collect(run, "metrics.jsonl", PATTERNS) == {}  # not loss=0.5: that was not its last value


def test_a_finite_value_after_a_nan_is_the_last_again(tmp_path: Path) -> None:
    run = _run(tmp_path, "loss=inf\nloss=0.25\n")
    assert collect_last(run, "metrics.jsonl", PATTERNS) == ({"loss": 0.25}, {})


def test_words_that_start_like_nan_or_inf_are_not_values(tmp_path: Path) -> None:
    run = _run(tmp_path, "loss=0.5\nloss=information\nloss=nano\nacc 0.9s\n")
    assert collect_last(run, "metrics.jsonl", PATTERNS) == ({"acc": 0.9, "loss": 0.5}, {})


def test_the_metrics_file_keeps_its_non_finite_last_values(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"step": 1, "loss": 0.4, "grad": 1.0}, {"step": 2, "loss": math.nan}]
    run = _run(tmp_path, "", [*rows, {"step": 3, "grad": math.inf}])
    assert jsonl_last(run / "metrics.jsonl") == ({"step": 3}, {"grad": "inf", "loss": "nan"})


def test_printed_values_win_over_the_file_for_the_same_name(tmp_path: Path) -> None:
    run = _run(tmp_path, "loss=0.125\n", [{"loss": math.nan, "acc": math.nan}])
    assert collect_last(run, "metrics.jsonl", PATTERNS) == ({"loss": 0.125}, {"acc": "nan"})


def test_the_number_group_reads_what_it_read_before() -> None:
    import re

    for text, value in [("loss=0.0861", "0.0861"), ("loss=1e-3,", "1e-3"), ("loss=-0.5", "-0.5")]:
        match = re.search(rf"loss={NUMBER}", text)
        assert match is not None and match.group(1) == value


def _per_line(text: str) -> tuple[dict[str, float | int], dict[str, str]]:
    """jsonl_last as it was written first, one json.loads per line: the reference."""
    last: dict[str, float | int] = {}
    non_finite: dict[str, str] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for key, value in record.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                last[key] = value
                non_finite.pop(key, None)
            elif isinstance(value, float):
                non_finite[key] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
                last.pop(key, None)
    return last, non_finite


@pytest.mark.parametrize("seed", range(300))
def test_the_last_values_are_what_reading_line_by_line_finds(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    values = [0, 1, -3, 2.5, 1e300, float("nan"), float("inf"), float("-inf"), True, None, "x", [1], {"a": 1}]
    lines = []
    for _ in range(rng.randrange(0, 30)):
        kind = rng.random()
        if kind < 0.75:
            row = {rng.choice("abcde"): rng.choice(values) for _ in range(rng.randrange(0, 4))}
            lines.append(json.dumps(row))
        elif kind < 0.85:
            lines.append("")
        elif kind < 0.9:
            lines.append(json.dumps(rng.choice(values)))
        else:
            lines.append(rng.choice(["{not json", "garbage", '{"a": 1'[: rng.randrange(1, 7)]]))
    text = rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])
    (tmp_path / "metrics.jsonl").write_text(text)
    assert jsonl_last(tmp_path / "metrics.jsonl") == _per_line(text)
