"""The dashboard's builder on hand-made records: incremental, robust to damage, escapes what it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.dashboard import build as dashboard_build
from clusterrun.dashboard.build import build
from clusterrun.records.registry import Registry


def _run(root: Path, run_id: str, params: dict[str, object], loss: list[float]) -> Path:
    run = root / run_id
    run.mkdir(parents=True)
    config = {
        "name": "t",
        "command": ["python", "t.py"],
        "params": params,
        "metrics": {"file": "metrics.jsonl"},
    }
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "name": "t",
        "config": config,
        "state": "completed",
        "created": "2026-11-01T10:00:00+00:00",
        "git": {"commit": "a" * 40},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    summary = {
        "schema_version": 1,
        "run_id": run_id,
        "state": "completed",
        "success": True,
        "metrics": {"loss": loss[-1]},
        "duration_seconds": 3,
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "loss": v}) + "\n" for i, v in enumerate(loss))
    )
    return run


def test_builds_incrementally_and_escapes(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    hostile = "<script>alert(1)</script>"
    _run(root, "t_20261101-100000", {"lr": 0.1, "note": hostile}, [3.0, 2.0, 1.0])
    _run(root, "t_20261101-100001", {"lr": 0.2, "note": "ok"}, [3.0, 1.5])
    first = build(Registry(root))
    assert "index.html" in first.written and "runs/t_20261101-100000.html" in first.written
    index = (root / "site" / "index.html").read_text()
    page = (root / "site" / "runs" / "t_20261101-100000.html").read_text()
    data = (root / "site" / "data" / "t_20261101-100000.js").read_text()
    for text in (index, page, data):
        assert hostile not in text
    assert "&lt;script&gt;" in index and "\\u003cscript\\u003e" in data
    assert build(Registry(root)).written == []
    (root / "t_20261101-100001" / "manifest.json").write_text("{ broken")
    damaged = build(Registry(root))
    changed = ["data/t_20261101-100001.js", "runs/t_20261101-100001.html", "index.html", "data/index.js"]
    assert sorted(damaged.written) == sorted(changed)
    assert any("manifest.json is not valid JSON" in w for w in damaged.warnings)
    assert "damaged" in (root / "site" / "index.html").read_text()


def test_pages_are_the_same_whether_a_runs_record_was_kept_or_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build keeps at most FRESH_KEPT records from the index's reading (10,000 held 532 MB);
    the other runs' records are read again for their pages, which must come out the same."""
    root = tmp_path / "runs"
    for i in range(4):
        _run(root, f"t_20261101-10000{i}", {"lr": 0.1 * (i + 1)}, [3.0, 2.0 - i * 0.1])
    kept = build(Registry(root), out=tmp_path / "kept")
    monkeypatch.setattr(dashboard_build, "FRESH_KEPT", 1)
    again = build(Registry(root), out=tmp_path / "again")
    assert sorted(kept.written) == sorted(again.written) and len(kept.written) > 8
    for rel in kept.written:
        assert (tmp_path / "kept" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel


def test_a_first_build_over_the_cores_polls_only_the_runs_that_may_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build of many runs reads them and makes their pages over the machine's cores (the same
    pages, the same report as in one process), and asks the scheduler only about the runs the registry
    index says may still change: it polled every run, reading each manifest in one process."""
    root = tmp_path / "runs"
    count = 80  # enough for forked workers (services/fanout.py MIN_ITEMS)
    for i in range(count):
        _run(root, f"t_20261101-1{i:05d}", {"lr": 0.001 * i}, [3.0, 2.0 - i * 0.01])
    going = root / "t_20261101-100007" / "manifest.json"
    going.write_text(going.read_text().replace('"completed"', '"running"'))
    polled: list[list[str]] = []

    def poll(ids: list[str]) -> list[str]:
        polled.append(ids)
        return []

    wide = build(Registry(root), out=tmp_path / "wide", poll=poll)
    assert polled == [["t_20261101-100007"]]
    monkeypatch.setenv("CLUSTERRUN_WORKERS", "1")
    alone = build(Registry(root), out=tmp_path / "alone")
    assert wide.written == alone.written and len(wide.written) == 2 * count + 3  # index, its data, compare
    for rel in wide.written:
        assert (tmp_path / "wide" / rel).read_bytes() == (tmp_path / "alone" / rel).read_bytes(), rel
