"""Metric history: JSON lines as written, stdout matches with steps and timestamps, best values."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from clusterrun.analysis import history
from clusterrun.execution.stdout_times import StdoutClock, interval


def _write_lines(path: Path, rows: list[str]) -> None:
    path.write_text("".join(row + "\n" for row in rows))


def test_jsonl_rows_steps_times_and_a_truncated_last_line(tmp_path: Path) -> None:
    _write_lines(
        tmp_path / "metrics.jsonl",
        [
            '{"step": 1, "loss": 1.0, "timestamp": 100.5}',
            '{"step": 2, "loss": 0.5, "acc": 0.7, "note": "text", "flag": true}',
            '{"epoch_loss": NaN}',
            '{"val": 3}',
            '{"val": 4}',
            '{"step": 3, "loss": 0.2',  # killed mid-write
        ],
    )
    loaded = history.load(tmp_path, history.Sources())
    assert loaded.names() == ["acc", "loss", "val"]
    loss = loaded.series["loss"]
    assert (loss.steps, loss.values, loss.times) == ([1.0, 2.0], [1.0, 0.5], [100.5, None])
    assert loaded.series["val"].steps == [0.0, 1.0]  # no step key: the index among the metric's lines
    assert loaded.points == 5


def test_step_key_comes_from_the_config(tmp_path: Path) -> None:
    _write_lines(tmp_path / "m.jsonl", ['{"iteration": 10, "loss": 1}', '{"iteration": 20, "loss": 2}'])
    config = {"metrics": {"file": "m.jsonl"}, "estimate": {"step_metric": "iteration"}}
    loaded = history.load(tmp_path, history.Sources.from_config(config))
    assert loaded.series["loss"].steps == [10.0, 20.0]
    assert "iteration" not in loaded.series


def test_stdout_patterns_steps_from_a_group_a_step_pattern_or_the_index(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    lines = [f"it {i} loss={1 / i:.4f} acc={i / 10} épreuve" for i in range(1, 6)]
    log.write_text("starting\n" + "\n".join(lines) + "\nval_acc=0.93 at step=5\ndone\n")
    rows = history.stdout_rows(
        log,
        {
            "loss": r"it (?P<step>\d+) loss=([0-9.]+)",  # a step group
            "acc": r"acc=([0-9.]+)",  # the step pattern's last match on or before its line
            "step": r"(?:it |step=)(\d+)",
            "note": r"no such thing (\d)",
        },
    )
    loaded = history.from_rows(rows)
    assert loaded["loss"].steps == [1, 2, 3, 4, 5]
    assert loaded["loss"].values == [1.0, 0.5, 0.3333, 0.25, 0.2]
    # 'acc=' matches the five lines and 'val_acc=0.93'; the step after it on the same line counts
    assert loaded["acc"].steps == [1, 2, 3, 4, 5, 5]
    assert loaded["acc"].values[-1] == 0.93
    assert "step" not in loaded and "note" not in loaded
    plain = history.from_rows(history.stdout_rows(log, {"loss": r"loss=([0-9.]+)"}))
    assert plain["loss"].steps == [0, 1, 2, 3, 4]  # no step anywhere: the match's index


def test_stdout_timestamps_come_from_stdout_times(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    first, second = "loss=1.0\n", "é loss=0.5\n"  # a two-byte character: offsets are bytes, not characters
    log.write_bytes((first + second).encode())
    size1 = len(first.encode())
    (tmp_path / "stdout.times").write_text(
        f"1000.0 0\n1001.5 {size1}\n1003.25 {size1 + len(second.encode())}\n"
    )
    rows = history.stdout_rows(log, {"loss": r"loss=([0-9.]+)"}, tmp_path / "stdout.times")
    assert [(r["loss"], r["timestamp"]) for r in rows] == [(1.0, 1001.5), (0.5, 1003.25)]
    no_times = history.stdout_rows(log, {"loss": r"loss=([0-9.]+)"}, tmp_path / "missing")
    assert [r["timestamp"] for r in no_times] == [None, None]


def test_written_stdout_history_is_read_back_as_written(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").write_text("loss=3\n")
    (tmp_path / history.STDOUT_HISTORY).write_text(
        history.jsonl_text([{"step": 7, "timestamp": 5.0, "loss": 2.0}])
    )
    loaded = history.load(tmp_path, history.Sources(patterns={"loss": r"loss=(\d)"}))
    assert loaded.series["loss"].values == [2.0] and loaded.series["loss"].steps == [7]


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("acc", "max"),
        ("val_acc", "max"),
        ("top1", "max"),
        ("f1_macro", "max"),
        ("perplexity", "min"),
        ("reward", "max"),
        ("accumulated_loss", "min"),
        ("heatmap_loss", "min"),
        ("val/acc", "max"),
    ],
)
def test_metric_mode_from_the_name(name: str, mode: str) -> None:
    assert history.metric_mode(name) == mode


def test_best_values_with_mode_and_the_sweep_override(tmp_path: Path) -> None:
    _write_lines(
        tmp_path / "metrics.jsonl",
        [
            json.dumps({"step": s, "loss": v, "acc": a, "time": s})
            for s, v, a in [(1, 3, 0.1), (2, 1, 0.9), (3, 2, 0.5)]
        ],
    )
    loaded = history.load(tmp_path, history.Sources())
    best = history.best_values(loaded, ignore=["time"])
    assert best["loss"] == {"mode": "min", "value": 1, "step": 2, "final": 2, "points": 3}
    assert best["acc"]["mode"] == "max" and best["acc"]["value"] == 0.9 and best["acc"]["step"] == 2
    assert "time" not in best
    flipped = history.best_values(loaded, sweep_metric="loss", sweep_mode="max")
    assert flipped["loss"]["value"] == 3 and flipped["loss"]["mode"] == "max"


def test_stdout_clock_samples_growth(tmp_path: Path) -> None:
    log, out = tmp_path / "stdout.log", tmp_path / "stdout.times"
    log.write_text("")
    clock = StdoutClock(log, out).start()
    with open(log, "a") as handle:
        handle.write("loss=1\n")
        handle.flush()
        time.sleep(0.6)
        handle.write("loss=2\n")
    clock.stop()
    sizes, times = history.read_times(out)
    assert sizes[0] == 0 and sizes[-1] == 14 and 7 in sizes
    assert times == sorted(times)
    assert interval(0) == 0.25 and interval(3600) == 3.6 and interval(10**6) == 10.0


def test_cached_history_is_the_same_and_follows_changes(tmp_path: Path) -> None:
    run = tmp_path / "run_20260101-000000"
    run.mkdir()
    _write_lines(
        run / "metrics.jsonl", ['{"step": 1, "loss": 2.5, "timestamp": 9.0}', '{"step": 2, "loss": 1}']
    )
    (run / "stdout.log").write_text("acc=0.5\n")
    sources = history.Sources(patterns={"acc": r"acc=([0-9.]+)"})
    cache = tmp_path / ".cache"
    first = history.load_cached(run, sources, cache)
    assert (cache / f"{run.name}.hist").is_file()
    again = history.load_cached(run, sources, cache)
    assert again == history.load(run, sources) == first
    assert again.series["loss"].times == [9.0, None]
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 3, "loss": 0.5}\n')
    assert history.load_cached(run, sources, cache).series["loss"].values == [2.5, 1, 0.5]
    (cache / f"{run.name}.hist").write_bytes(b"garbage")
    assert history.load_cached(run, sources, cache).series["acc"].values == [0.5]


def test_a_sweep_is_ranked_by_a_held_out_metric_and_its_mode_follows_the_name() -> None:
    """A sweep whose config said `metric: val_acc` and no mode was ranked with the default 'min': the
    member with the lowest accuracy was marked best. Without a metric, the training loss ranked it."""
    assert history.ranking("val_acc", None, ["loss", "val_acc"]) == ("val_acc", "max")
    assert history.ranking("val_acc", "min", ["val_acc"]) == ("val_acc", "min")  # said so: kept
    assert history.ranking(None, None, ["loss", "val_loss", "val_acc"]) == ("val_loss", "min")
    assert history.ranking(None, None, ["step", "loss", "final_val_loss"]) == ("final_val_loss", "min")
    assert history.ranking(None, None, ["loss", "acc"]) == ("loss", "min")
    assert history.ranking(None, None, ["train_acc", "val_acc"]) == ("val_acc", "max")
    # a held-out score before the training loss (a torch script printing loss= per step and test_acc=)
    assert history.ranking(None, None, ["acc", "loss", "test_acc"]) == ("test_acc", "max")
    assert history.ranking(None, None, ["reward"]) == ("reward", "max")
    assert history.ranking(None, None, []) == (None, "min")
    # asked for another metric now: the sweep's mode, which is val_loss's, is not applied to it
    assert history.ranking("val_loss", "min", ["val_loss", "val_acc"], sort="val_acc") == ("val_acc", "max")
    assert history.ranking("val_loss", "min", ["val_acc"], sort="val_acc", sort_mode="min")[1] == "min"
    # a held-out error before the training loss (a script logging train_loss= and val_error=), but a
    # held-out timing is not a measure of the model (Hugging Face's eval_runtime)
    assert history.ranking(None, None, ["train_loss", "val_error"]) == ("val_error", "min")
    assert history.default_metric(["eval_runtime", "loss"]) == "loss"
    assert history.default_metric(["validation_loss", "loss"]) == "validation_loss"
    assert history.default_metric(["interval_loss", "loss"]) == "loss"  # 'val' inside a word is not held out
