"""Metrics a script logs with Python's `logging` (stderr, unless told otherwise) are read: a pattern that
matches nothing on stdout is read over stderr, for the final values and for the curves; stdout wins a
metric printed on both (analysis/metrics.printed_last, analysis/history.printed_rows)."""

from __future__ import annotations

from pathlib import Path

from clusterrun.analysis import history
from clusterrun.analysis.metrics import PLAIN_NUMBER, collect_last

PATTERNS = {
    "train_loss": rf"\btrain_loss={PLAIN_NUMBER}",
    "val_error": rf"\bval_error={PLAIN_NUMBER}",
    "acc": rf"\bacc={PLAIN_NUMBER}",
}
LOGGED = "".join(
    f"2026-12-04 19:19:2{e},085 INFO epoch {e} train_loss={1 / (e + 1):.4f} val_error={0.5 - e / 10:.4f}\n"
    for e in range(3)
)


def _run(tmp_path: Path, stdout: str, stderr: str) -> Path:
    (tmp_path / "stdout.log").write_text(stdout)
    (tmp_path / "stderr.log").write_text(stderr)
    return tmp_path


def test_values_logged_to_stderr_are_the_runs_metrics(tmp_path: Path) -> None:
    run = _run(tmp_path, "starting\nacc=0.91\n", "epoch 0:  50%|#####     | loss=0.7\n" + LOGGED)
    values, non_finite = collect_last(run, "metrics.jsonl", PATTERNS)
    assert values == {"acc": 0.91, "train_loss": 0.3333, "val_error": 0.3} and non_finite == {}


def test_stdout_wins_a_metric_printed_on_both(tmp_path: Path) -> None:
    run = _run(tmp_path, "train_loss=0.25\n", LOGGED + "Traceback: acc=0.1 (a warning's text)\n")
    values, _ = collect_last(run, "metrics.jsonl", PATTERNS)
    assert values["train_loss"] == 0.25  # stdout's, not stderr's last 0.3333
    assert values["val_error"] == 0.3 and values["acc"] == 0.1  # nothing on stdout: stderr's


def test_a_nan_on_stdout_is_not_replaced_by_a_number_on_stderr(tmp_path: Path) -> None:
    run = _run(tmp_path, "train_loss=nan\n", LOGGED)
    values, non_finite = collect_last(run, "metrics.jsonl", PATTERNS)
    assert non_finite == {"train_loss": "nan"} and "train_loss" not in values


def test_the_curves_of_metrics_logged_to_stderr(tmp_path: Path) -> None:
    run = _run(tmp_path, "acc=0.5\nacc=0.75\n", LOGGED)
    rows = history.printed_rows(run, PATTERNS)
    assert [r["acc"] for r in rows if "acc" in r] == [0.5, 0.75]
    assert [r["train_loss"] for r in rows if "train_loss" in r] == [1.0, 0.5, 0.3333]
    assert [r["val_error"] for r in rows if "val_error" in r] == [0.5, 0.4, 0.3]
    assert all(r[history.TIME_KEY] is None for r in rows if "val_error" in r)  # stderr is not timed
    loaded = history.load(run, history.Sources(patterns=PATTERNS))
    assert sorted(loaded.series) == ["acc", "train_loss", "val_error"]


def test_the_step_printed_on_stderr_steps_its_metrics(tmp_path: Path) -> None:
    patterns = {"step": rf"\bepoch {PLAIN_NUMBER}", "val_error": rf"\bval_error={PLAIN_NUMBER}"}
    run = _run(tmp_path, "", LOGGED)
    rows = history.printed_rows(run, patterns)
    assert [(r["step"], r["val_error"]) for r in rows] == [(0, 0.5), (1, 0.4), (2, 0.3)]
