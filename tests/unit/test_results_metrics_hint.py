"""A run whose command wrote its metrics file in its working directory (a relative path) ends with no
metrics read; its results say where the file went and the setting that reads it from there."""

from __future__ import annotations

import json
from pathlib import Path

from clusterrun.cli.output import results_block
from clusterrun.records.models import Summary, load

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"


def _summary(metrics: dict[str, float], artifacts: list[str]) -> Summary:
    data = json.loads((GOLDEN / "summary.json").read_text())
    data.update(metrics=metrics, artifacts=artifacts)
    data.pop("artifacts_info", None)
    return load(Summary, data, "summary")


def test_no_metrics_and_a_metrics_file_in_the_working_copy_gives_the_setting() -> None:
    text = results_block(_summary({}, ["work/checkpoints/w.npy", "work/metrics.jsonl"]), "r")
    assert "Key Metrics: (none)" in text
    assert "the command wrote work/metrics.jsonl" in text and "set metrics.file: work/metrics.jsonl" in text


def test_no_hint_when_metrics_were_read_or_no_such_file_was_written() -> None:
    for summary in (
        _summary({"loss": 0.5}, ["work/metrics.jsonl"]),  # read from elsewhere: nothing to say
        _summary({}, ["work/checkpoints/w.npy"]),
        _summary({}, ["artifacts/metrics.jsonl"]),  # not the command's working directory
    ):
        assert "metrics.file:" not in results_block(summary, "r")
