"""A listing's JSON takes each summary as prettyjson.nested encodes it (store.read_summary_nested): the
file's own text, indented one level, when it holds exactly the data read where it was written; else
the data encoded again. Either way the text is what encoding the summary read would give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusterrun.records import prettyjson, store
from clusterrun.records.models import Summary

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"
WRITTEN = "/tmp/golden/proj-head/runs/quickstart_20261202-101919"


def _run(tmp_path: Path, registry: str = "runs") -> Path:
    """A run directory whose summary.json write_summary wrote, where it is."""
    text = (GOLDEN / "summary.json").read_text()
    run = tmp_path / registry / "quickstart_20261202-101919"
    run.mkdir(parents=True)
    data = json.loads(text.replace(WRITTEN, str(run)))
    store.write_summary(run, Summary.model_validate(data))
    return run


def _encoded_again(run: Path) -> str:
    summary = store.read_summary(run)
    assert summary is not None
    return prettyjson.nested(summary.to_data())


def test_a_summary_as_written_is_its_own_text_indented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(tmp_path)
    expected = _encoded_again(run)

    def not_again(_value: Any) -> str:
        raise AssertionError("encoded again")

    monkeypatch.setattr(store, "nested", not_again)
    text = store.read_summary_nested(run)
    assert text == expected
    assert json.loads(text) == json.loads((run / "summary.json").read_text())


def test_a_value_read_as_another_is_encoded_as_read(tmp_path: Path) -> None:
    """`"success": 1` by hand reads as true: == would take them for the same, JSON does not."""
    run = _run(tmp_path)
    data = json.loads((run / "summary.json").read_text())
    data["success"] = 1
    (run / "summary.json").write_text(prettyjson.record_text(data))
    text = store.read_summary_nested(run)
    assert text == _encoded_again(run) and json.loads(text)["success"] is True


def test_a_summary_laid_out_by_hand_gives_the_same_json(tmp_path: Path) -> None:
    run = _run(tmp_path)
    data = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps(data, indent=4) + "\n")
    text = store.read_summary_nested(run)
    assert text is not None and json.loads(text) == json.loads(_encoded_again(run))


def test_a_moved_registry_names_its_logs_where_they_are(tmp_path: Path) -> None:
    run = _run(tmp_path)
    moved = tmp_path / "elsewhere" / run.name
    moved.parent.mkdir()
    run.rename(moved)
    text = store.read_summary_nested(moved)
    assert text == _encoded_again(moved)
    assert json.loads(text)["logs"]["stdout"] == str(moved / "stdout.log") and str(run) not in text


def test_none_without_a_summary_or_with_a_damaged_one(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "summary.json").write_text('{"run_id": ')
    assert store.read_summary_nested(run) is None and store.read_summary(run) is None
    (run / "summary.json").unlink()
    assert store.read_summary_nested(run) is None
