"""The row cache's file: written in pieces of SAVE_BATCH rows, read back whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.records import rowcache


@pytest.mark.parametrize(
    "count", [0, 1, rowcache.SAVE_BATCH, rowcache.SAVE_BATCH + 1, 3 * rowcache.SAVE_BATCH - 7]
)
def test_rows_saved_in_pieces_read_back_as_they_were(tmp_path: Path, count: int) -> None:
    cache = rowcache.RowCache(tmp_path)
    for i in range(count):
        (tmp_path / f"run-{i}").mkdir()  # save drops the rows of runs that are gone
        cache.rows[f"run-{i}"] = [
            [[i, 10, 20], None, None],
            {"status": {"state": "completed", "note": 'a "b", c'}},
        ]
    cache.changed = True
    cache.save()
    data = json.loads(rowcache.cache_path(tmp_path).read_text())
    assert data == {"version": rowcache.VERSION, "rows": cache.rows}
    assert rowcache.RowCache(tmp_path).rows == cache.rows


@pytest.mark.parametrize(
    "read, put", [(0, 3), (2, 0), (3, rowcache.SAVE_BATCH + 2), (rowcache.SAVE_BATCH + 1, 1)]
)
def test_rows_put_as_text_are_saved_with_the_rows_read_and_found_again(
    tmp_path: Path, read: int, put: int
) -> None:
    """Rows put by this process are kept as their JSON text: saved beside the rows read from the file
    (a row put again replaces the one read), and found by get, here and in the next process."""
    cache = rowcache.RowCache(tmp_path)
    for i in range(read):
        (tmp_path / f"old-{i}").mkdir()
        cache.rows[f"old-{i}"] = [[[i, 1, 2], None, None], {"status": {"state": "failed"}}]
    cache.changed = True
    cache.save()
    cache = rowcache.RowCache(tmp_path)
    expected = dict(cache.rows)
    for i in range(put):
        run_dir = tmp_path / (f"old-{i}" if i < read else f"new-{i}")  # some replace a row read
        run_dir.mkdir(exist_ok=True)
        for name in rowcache.SOURCES[:2]:
            (run_dir / name).write_text("{}")
        before = rowcache.stamps(run_dir)
        row = {"status": {"state": "completed", "note": f'row "{i}", é'}, "tag": ["a"]}
        cache.put(run_dir.name, run_dir, before, row)
        assert cache.get(run_dir.name, before) == row
        expected[run_dir.name] = [before, row]
    (tmp_path / "gone").mkdir()
    cache.put("gone", tmp_path / "gone", "1:1:1,2:2:2,-", {})  # its files changed: not put
    cache.changed = True
    cache.save()
    data = json.loads(rowcache.cache_path(tmp_path).read_text())
    assert data == {"version": rowcache.VERSION, "rows": expected}
    again = rowcache.RowCache(tmp_path)
    for run_id, (before, row) in expected.items():
        assert again.get(run_id, before) == row
