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
