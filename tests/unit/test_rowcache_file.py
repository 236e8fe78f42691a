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


@pytest.mark.parametrize("held", [1, rowcache.SAVE_BATCH + 3])
def test_rows_held_are_made_when_saved_beside_the_others(tmp_path: Path, held: int) -> None:
    """put_held keeps a row's maker, not its text: the row is made when the rows are saved (and by get
    meanwhile), saved beside rows read and rows put as text, and dropped with its run; a row whose
    files changed is not held."""
    cache = rowcache.RowCache(tmp_path)
    (tmp_path / "read").mkdir()
    cache.rows["read"] = [[[1, 1, 1], None, None], {"status": {"state": "failed"}}]
    made: list[str] = []
    expected = {"read": cache.rows["read"]}
    for i in range(held + 1):
        run_dir = tmp_path / f"held-{i}"
        run_dir.mkdir()
        for name in rowcache.SOURCES[:2]:
            (run_dir / name).write_text("{}")
        before = rowcache.stamps(run_dir)
        record = {"status": {"state": "completed"}, "params.lr": i / 10}

        def row(run_id: str = run_dir.name, record: dict[str, object] = record) -> dict[str, object]:
            made.append(run_id)
            return dict(record)

        cache.put_held(run_dir.name, run_dir, before, row)
        expected[run_dir.name] = [before, record]
    assert made == [] and cache.get("held-0", expected["held-0"][0]) == expected["held-0"][1]
    (tmp_path / "text").mkdir()
    for name in rowcache.SOURCES[:2]:
        (tmp_path / "text" / name).write_text("{}")
    before = rowcache.stamps(tmp_path / "text")
    cache.put("text", tmp_path / "text", before, {"status": {"state": "cancelled"}})
    expected["text"] = [before, {"status": {"state": "cancelled"}}]
    (tmp_path / "changed").mkdir()
    cache.put_held("changed", tmp_path / "changed", "1:1:1,2:2:2,-", lambda: {"never": True})
    (tmp_path / f"held-{held}").rename(tmp_path / "elsewhere")  # gone before the save: dropped
    del expected[f"held-{held}"]
    cache.save()
    data = json.loads(rowcache.cache_path(tmp_path).read_text())
    assert data == {"version": rowcache.VERSION, "rows": expected}
    assert sorted(set(made)) == sorted(f"held-{i}" for i in range(held))
