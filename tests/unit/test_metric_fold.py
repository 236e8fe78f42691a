"""A metrics file folded a block at a time (analysis/metric_fold.py) says what parsing it whole said: the
last values, the non-finite ones, and each metric's best value, step, final value and points; it holds
a few blocks of memory, not the file's rows; and a second read of a file that only grew reads only the
new lines, while a file rewritten in place is read again from the start."""

from __future__ import annotations

import json
import math
import os
import random
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from clusterrun.analysis import history, metric_fold
from clusterrun.analysis.metrics import parse_rows


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metric_fold.forget()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


Found = tuple[dict[str, object], dict[str, str], dict[str, dict[str, Any]]]


def _reference(text: str, step_key: str) -> Found:
    """What the file parsed whole gives: rows_last as jsonl_last had it, best_values of from_rows."""
    rows = parse_rows(text)
    last: dict[str, object] = {}
    non_finite: dict[str, str] = {}
    for row in rows:
        for key, value in row.items():
            if type(value) is int or (type(value) is float and math.isfinite(value)):
                last[key] = value
                non_finite.pop(key, None)
            elif type(value) is float:
                non_finite[key] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
                last.pop(key, None)
    loaded = history.History(history.from_rows(rows, step_key))
    return last, non_finite, history.best_values(loaded)


def _random_text(rng: random.Random) -> str:
    values = [0, 1, -3, 2.5, 7, -0.5, 1e300, math.nan, math.inf, -math.inf, True, None, "x", [1]]
    steps = [None, 0, 1, 2, 5, 2.0, math.nan, True, "s"]
    lines = []
    for _ in range(rng.randrange(0, 60)):
        kind = rng.random()
        if kind < 0.8:
            names = ["a", "loss", "acc", "reward"]  # minimised and maximised (history.metric_mode)
            row: dict[str, object] = {rng.choice(names): rng.choice(values) for _ in range(rng.randrange(4))}
            if rng.random() < 0.6:
                row["step"] = rng.choice(steps)
            if rng.random() < 0.2:
                row["timestamp"] = rng.random()
            lines.append(json.dumps(row))
        elif kind < 0.87:
            lines.append("")
        elif kind < 0.92:
            lines.append(json.dumps(rng.choice(values)))
        else:
            lines.append(rng.choice(["{not json", "garbage", '{"a": 1'[: rng.randrange(1, 7)], "é{"]))
    return rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])


def _folded(path: Path, step_key: str = "step") -> Found:
    fold = metric_fold.read(path, step_key)
    best = history.best_values(history.summary_series(path.parent, history.Sources(), fold))
    return dict(fold.last), dict(fold.non_finite), best


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("seed", range(60))
def test_a_fold_says_what_parsing_the_file_whole_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, block: int
) -> None:
    monkeypatch.setattr(metric_fold, "BLOCK", block)  # blocks that cut lines anywhere, or none
    text = _random_text(random.Random(seed))
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(text.encode())
    assert _folded(path) == _reference(text, "step")


@pytest.mark.parametrize("seed", range(40))
def test_a_file_read_again_as_it_grows_says_what_a_fresh_read_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(metric_fold, "BLOCK", rng.choice([5, 50, 1 << 20]))
    data = _random_text(rng).encode()
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"")
    written = 0
    while written < len(data):  # appended in pieces that end anywhere, mid-line too (a write in progress)
        piece = data[written : written + rng.randrange(1, 200)]
        with path.open("ab") as handle:
            handle.write(piece)
        written += len(piece)
        text = data[:written].decode(errors="replace")
        assert _folded(path) == _reference(text, "step")


def test_a_second_read_of_a_grown_file_parses_only_the_new_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(1000)))
    assert metric_fold.read(path).series["loss"].count == 1000
    parsed: list[str] = []

    def counted(text: str) -> list[dict[str, Any]]:
        parsed.append(text)
        return parse_rows(text)

    monkeypatch.setattr(metric_fold, "parse_rows", counted)
    with path.open("a") as handle:
        handle.write(json.dumps({"step": 1000, "loss": 0.0001, "acc": 0.5}) + "\n")
    fold = metric_fold.read(path)
    assert parsed == [json.dumps({"step": 1000, "loss": 0.0001, "acc": 0.5}) + "\n"]
    assert fold.series["loss"].count == 1001 and fold.last == {"step": 1000, "loss": 0.0001, "acc": 0.5}


def test_a_file_rewritten_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 5.0 - s}) + "\n" for s in range(100)))
    assert metric_fold.read(path).last["loss"] == -94.0
    # a requeued job that started its file again (same inode, truncated, longer than before)
    with path.open("w") as handle:
        handle.write("".join(json.dumps({"step": s, "loss": 9.0 + s}) + "\n" for s in range(120)))
    fold = metric_fold.read(path)
    assert fold.series["loss"].count == 120 and fold.series["loss"].low == 9.0
    # shorter than what was read: from the start too
    path.write_text(json.dumps({"step": 0, "loss": 3.0}) + "\n")
    assert metric_fold.read(path).series["loss"].count == 1
    # replaced by another file (a rename): from the start
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"step": s, "loss": 3.0}) + "\n" for s in range(10)))
    other.replace(path)
    assert metric_fold.read(path).series["loss"].count == 10


def test_a_big_file_is_folded_in_a_few_blocks_of_memory(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with path.open("w") as handle:
        for s in range(200_000):  # about 14 MB
            handle.write(json.dumps({"step": s, "loss": 1 / (s + 1), "lr": 0.001, "grad_norm": s % 7}) + "\n")
    tracemalloc.start()
    try:
        fold = metric_fold.read(path)
        _now, folded_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        rows = parse_rows(path.read_text())  # the whole file's rows, as a summary held them before
        _now, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == 200_000 and fold.series["loss"].count == 200_000
    assert folded_peak < 16 * metric_fold.BLOCK  # a block's text and rows, whatever the file's size
    assert folded_peak * 8 < whole_peak, (folded_peak, whole_peak)


def _lines(start: int, stop: int) -> str:
    rows = ({"step": s, "loss": 100.0 - s, "acc": s % 13} for s in range(start, stop))
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_another_process_continues_from_the_fold_kept_in_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_fold, "CACHE_FROM", 1000)
    path = tmp_path / "run" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text(_lines(0, 500))
    metric_fold.read(path)
    kept = list((tmp_path / "user-cache" / "clusterrun" / "metric-folds").iterdir())
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o077 == 0
    metric_fold.forget()  # the next `clusterrun status`: a new process
    with path.open("a") as handle:
        handle.write(_lines(500, 510))
    parsed: list[str] = []

    def counted(text: str) -> list[dict[str, Any]]:
        parsed.append(text)
        return parse_rows(text)

    monkeypatch.setattr(metric_fold, "parse_rows", counted)
    fold = metric_fold.read(path)
    assert parsed == [_lines(500, 510)]
    metric_fold.forget()
    monkeypatch.setattr(metric_fold, "parse_rows", parse_rows)
    assert _folded(path) == _reference(path.read_text(), "step")
    assert fold.series["loss"].count == 510


def test_a_damaged_or_foreign_cache_entry_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metric_fold, "CACHE_FROM", 1000)
    path = tmp_path / "metrics.jsonl"
    path.write_text(_lines(0, 300))
    expected = _folded(path)
    (entry,) = (tmp_path / "user-cache" / "clusterrun" / "metric-folds").iterdir()
    data = json.loads(entry.read_text())
    foreign, odd = json.dumps({**data, "path": "/elsewhere"}), json.dumps({**data, "series": 3})
    for damaged in ("{not json", foreign, odd):
        entry.write_text(damaged)
        metric_fold.forget()
        assert _folded(path) == expected
    # an entry that claims more than the file holds: the file is read whole again
    entry.write_text(json.dumps({**data, "last": {"loss": -1}, "tail": "00"}))
    metric_fold.forget()
    assert _folded(path) == expected


def test_a_cache_directory_others_can_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_fold, "CACHE_FROM", 1000)
    shared = tmp_path / "user-cache" / "clusterrun" / "metric-folds"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    path = tmp_path / "metrics.jsonl"
    path.write_text(_lines(0, 300))
    assert _folded(path) == _reference(path.read_text(), "step")
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize("seed", range(25))
def test_a_summarys_best_values_are_those_of_the_whole_history(tmp_path: Path, seed: int) -> None:
    """history_fields (the summary's metrics_best and points) from the folds equal best_values of the
    history loaded whole (history.load), the patterns' rows included: written now, or by the job."""
    from clusterrun.records.metric_history import history_fields
    from clusterrun.records.registry import Run

    rng = random.Random(seed)
    run_dir = tmp_path / "runs" / "demo_20260101-000000"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text(_random_text(rng))
    lines = []
    for step in range(rng.randrange(0, 300)):
        parts = [f"step {step}"]
        if rng.random() < 0.7:
            parts.append(f"val_loss={rng.choice(['0.5', '0.25', '1e-3', 'nan', 'x', str(step)])}")
        if rng.random() < 0.5:
            parts.append(f"acc {rng.random():.4f}")
        lines.append(" | ".join(parts))
    (run_dir / "stdout.log").write_text("\n".join(lines) + "\n")
    if rng.random() < 0.3:
        (run_dir / "stderr.log").write_text("INFO reward=3.5\nINFO reward=4.25\n")
    patterns = {
        "val_loss": r"\bval_loss=([0-9.eE+-]+)",
        "acc": r"\bacc ([0-9.]+)",
        "reward": r"reward=([0-9.]+)",
    }
    if rng.random() < 0.5:
        patterns["step"] = r"\bstep (\d+)"
    config = {"metrics": {"file": "metrics.jsonl", "patterns": patterns}}
    sources = history.Sources.from_config(config)
    if rng.random() < 0.5:  # the job wrote it as it ended: read back, not found again
        history.write_stdout_history(run_dir, config)
    fields = history_fields(Run(run_dir), {"config": config})
    rows = history.printed_rows(run_dir, patterns, sources.step_key)
    assert (run_dir / history.STDOUT_HISTORY).read_text() == history.jsonl_text(rows)
    whole = history.load(run_dir, sources)
    assert fields["metrics_best"] == history.best_values(whole)
    assert fields["metrics_history"]["points"] == whole.points
    metric_fold.forget()
    again = history_fields(Run(run_dir), {"config": config})  # the written file, read back a block at a time
    assert again == fields


def test_a_watch_rewrites_the_cache_entry_only_once_a_block_more_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_fold, "CACHE_FROM", 1000)
    path = tmp_path / "metrics.jsonl"
    path.write_text(_lines(0, 300))
    metric_fold.read(path)
    (entry,) = (tmp_path / "user-cache" / "clusterrun" / "metric-folds").iterdir()
    first = entry.stat().st_ino
    for step in range(300, 310):  # a refresh every few lines: the entry stays as it was
        with path.open("a") as handle:
            handle.write(_lines(step, step + 1))
        metric_fold.read(path)
        assert entry.stat().st_ino == first
    metric_fold.forget()  # another process: from the entry, then the lines added since
    assert _folded(path) == _reference(path.read_text(), "step")
    with path.open("a") as handle:
        handle.write(_lines(310, 340))  # more than CACHE_FROM bytes since the entry
    metric_fold.read(path)
    assert entry.stat().st_ino != first


def test_a_summarys_reads_keep_nothing_in_the_process_and_answer_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within unkept() (a summary's collection: the run has ended) a read answers what a kept read
    answers, continues from what a watch kept of the file, and leaves nothing kept in the process, while
    the fold of a big file still reaches the user's cache for the next process."""
    monkeypatch.setattr(metric_fold, "CACHE_FROM", 1000)
    path = tmp_path / "run" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text(_lines(0, 500))
    metric_fold.read(path)  # a watch of the running job kept its fold
    assert os.fspath(path) in metric_fold._KEPT
    with path.open("a") as handle:
        handle.write(_lines(500, 560) + '{"step": 560, "loss": -1}')  # its last line not ended yet
    parsed: list[str] = []

    def counted(text: str) -> list[dict[str, Any]]:
        parsed.append(text)
        return parse_rows(text)

    monkeypatch.setattr(metric_fold, "parse_rows", counted)
    with metric_fold.unkept():
        fold = metric_fold.read(path)
    assert parsed[0] == _lines(500, 560)  # continued from the watch's fold, not read again
    assert metric_fold._KEPT == {}
    monkeypatch.setattr(metric_fold, "parse_rows", parse_rows)
    assert fold.series["loss"].count == 561 and fold.last["loss"] == -1
    (entry,) = (tmp_path / "user-cache" / "clusterrun" / "metric-folds").iterdir()
    assert json.loads(entry.read_text())["offset"] == len(_lines(0, 560))
    metric_fold.forget()
    assert _folded(path) == _reference(path.read_text(), "step")  # a kept read says the same
