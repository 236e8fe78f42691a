"""A listing that filters or sorts (`status --where/--sort/--state/--tag`) over many runs: its settled
runs come from `.cache/status-records.json` (their whole records), not from 30,000 files for 10,000
runs. The promise: what it shows is what reading every run's records shows, before and after a run's
manifest, summary or notes change; and the plain table's cache stays as small as it was."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from clusterrun.records import prettyjson, rowcache
from clusterrun.records.registry import Registry, Run
from clusterrun.services import listing
from clusterrun.services.notes import tag_runs
from tests.helpers import count_manifest_reads

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"
COUNT = 120  # more than listing.ROW_CACHE_FROM: a wide listing


def _completed(registry: Registry, index: int) -> Run:
    run_id = f"swept_20261206-{index:06d}"
    shutil.copytree(GOLDEN, registry.root / run_id)
    for name in ("manifest.json", "summary.json"):
        path = registry.root / run_id / name
        data = json.loads(path.read_text())
        data["run_id"] = run_id
        if name == "manifest.json":
            data["config"]["params"]["lr"] = round(0.001 * (index % 37), 3)
        else:
            data["metrics"] = {"loss": 10.0 - index / 100} if index % 5 else {}
        path.write_text(json.dumps(data))
    return registry.get(run_id)


def _rewrite(run: Run, name: str, change: dict[str, object]) -> None:
    """A record replaced as clusterrun replaces it: a new file renamed over the old one."""
    path = run.path / name
    data = json.loads(path.read_text())
    for key, value in change.items():
        target = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    path.with_suffix(".tmp").write_text(json.dumps(data))
    os.replace(path.with_suffix(".tmp"), path)


QUERIES = [
    listing.StatusQuery(where=["params.lr<0.01"], limit=1000, summaries=False),
    listing.StatusQuery(where=["loss<9.5"], sort="params.lr", limit=15, summaries=False),
    listing.StatusQuery(sort="-loss", limit=10, summaries=False),
    listing.StatusQuery(state="completed", limit=25, summaries=False),
    listing.StatusQuery(tags=["best"], limit=20, summaries=False),
    listing.StatusQuery(where=["params.lr<0.01", "note~keep"], limit=50, summaries=False),
]


def _shown(registry: Registry, query: listing.StatusQuery) -> list[tuple[str, str, dict[str, float]]]:
    view = listing.status(registry, query)
    return [(r.run_id, r.state, r.metrics) for r in view.report.runs]


def _every_run_read(
    registry: Registry, query: listing.StatusQuery, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str, dict[str, float]]]:
    """What the query shows from every run's own records (no cache of any kind)."""
    with monkeypatch.context() as patched:
        patched.setattr(listing, "ROW_CACHE_FROM", 10**9)
        return _shown(registry, query)


def test_filtered_listings_read_their_rows_and_show_what_the_records_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    runs = [_completed(registry, i) for i in range(COUNT)]
    tag_runs(runs[4], ["best"], "keep this one")
    tag_runs(runs[80], ["best"])
    expected = [_every_run_read(registry, q, monkeypatch) for q in QUERIES]
    assert all(expected) and len(expected[0]) == 39, expected  # lr 0.000..0.009: i % 37 < 10

    assert [_shown(registry, q) for q in QUERIES] == expected  # the first: rows made and kept
    assert (registry.root / ".cache" / rowcache.RECORDS_FILE).is_file()
    read = count_manifest_reads(monkeypatch)
    assert [_shown(registry, q) for q in QUERIES] == expected
    # none read, but the tagged runs' of the tag filter alone (it reads each run's notes first, not rows)
    assert set(read) == {runs[4].id, runs[80].id}, f"{len(read)} manifests read where the rows were kept"

    # a change to any of the three files a row is made of is seen at once
    _rewrite(runs[9], "manifest.json", {"config.params.lr": 0.5})  # out of params.lr<0.01
    _rewrite(runs[119], "summary.json", {"metrics": {"loss": 99.0}})  # the highest loss now
    tag_runs(runs[40], ["best"], "keep it too")
    changed = [_shown(registry, q) for q in QUERIES]
    assert changed == [_every_run_read(registry, q, monkeypatch) for q in QUERIES]
    assert runs[9].id not in [r for r, _s, _m in changed[0]] and len(changed[0]) == len(expected[0]) - 1
    assert changed[2][0] == (runs[119].id, "completed", {"loss": 99.0})  # -loss: highest first
    assert runs[40].id in [r for r, _s, _m in changed[4]]
    assert runs[40].id in [r for r, _s, _m in changed[5]]


def test_the_plain_tables_rows_stay_as_small_as_they_were(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    for i in range(COUNT):
        _completed(registry, i)
    plain = _shown(registry, listing.StatusQuery(limit=1000, summaries=False))
    _shown(registry, listing.StatusQuery(where=["params.lr>0"], limit=1000, summaries=False))
    assert _shown(registry, listing.StatusQuery(limit=1000, summaries=False)) == plain
    rows = json.loads(rowcache.cache_path(registry.root).read_text())["rows"]
    assert len(rows) == COUNT and not any("params.lr" in row for _stamps, row in rows.values())
    records = json.loads(rowcache.cache_path(registry.root, rowcache.RECORDS_FILE).read_text())["rows"]
    assert len(records) == COUNT and all("params.lr" in row for _stamps, row in records.values())


def _as_json(registry: Registry, query: listing.StatusQuery) -> list[dict[str, object]]:
    """The runs `status --json` shows: its text (a wide listing's summaries read a chunk at a time as it
    is written) is that of the view's whole record, every summary read at once."""
    view = listing.status(registry, query)
    text = "".join(view.json_text())
    if view.summaries_from is not None:  # streamed: no summary was kept in the view
        assert all(r.summary is None for r in view.report.runs)
    record = view.as_record()
    assert text == prettyjson.dumps(record)
    runs: list[dict[str, object]] = record["runs"]
    return runs


def test_json_listings_read_the_shown_runs_summaries_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status --json` (each run's whole summary) of many runs: the rows pick and order the runs, then
    the summaries of the runs shown are read (it read every run's records in one process: 10,000 runs,
    8 s; `--where ... --json --limit 20`, 5 s). What it shows is what reading every record shows."""
    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    runs = [_completed(registry, i) for i in range(COUNT)]
    queries = [
        listing.StatusQuery(limit=1000),
        listing.StatusQuery(where=["params.lr<0.01"], sort="-loss", limit=7),
    ]
    with monkeypatch.context() as patched:
        patched.setattr(listing, "ROW_CACHE_FROM", 10**9)
        expected = [_as_json(registry, q) for q in queries]
    assert all(r["summary"] and r["summary"]["state"] == "completed" for q in expected for r in q)
    assert [_as_json(registry, q) for q in queries] == expected  # the rows made
    read = count_manifest_reads(monkeypatch)
    assert [_as_json(registry, q) for q in queries] == expected  # then used: no manifest read
    assert read == [], f"{len(read)} manifests read where the rows were kept"
    for name in (rowcache.CACHE_FILE, rowcache.RECORDS_FILE):  # and they hold no whole summary
        rows = json.loads(rowcache.cache_path(registry.root, name).read_text())["rows"]
        assert rows and all(row["status"]["summary"] is None for _stamps, row in rows.values())
    _rewrite(runs[3], "summary.json", {"metrics": {"loss": 50.0}, "duration_seconds": 12.5})
    again = _as_json(registry, queries[1])
    assert again[0]["run_id"] == runs[3].id and again[0]["summary"]["duration_seconds"] == 12.5


@pytest.mark.parametrize("count", [5, COUNT])  # read one by one, and over the cores with the row caches
def test_a_summary_from_a_newer_clusterrun_is_one_row_not_the_whole_listing(
    tmp_path: Path, count: int
) -> None:
    """A colleague's newer clusterrun wrote one run's summary in a shared registry: every listing still
    shows every run, that one DAMAGED with a warning saying why, and its summary is left as it is."""
    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    runs = [_completed(registry, i) for i in range(count)]
    newer, other = runs[3], runs[1]
    _rewrite(newer, "summary.json", {"schema_version": 99})
    future = (newer.path / "summary.json").read_bytes()
    queries = [
        listing.StatusQuery(limit=1000),
        listing.StatusQuery(limit=1000, summaries=False, table=True),
        listing.StatusQuery(where=["params.lr<0.5"], limit=1000, summaries=False),
        listing.StatusQuery(sort="-loss", limit=1000),
    ]
    for query in queries:
        view = listing.status(registry, query)
        states = {r.run_id: r.state for r in view.report.runs}
        assert states[newer.id] == "damaged" and states[other.id] == "completed", query
        assert len(states) == count, query
        assert any("summary.json was written by a newer clusterrun" in w for w in view.report.warnings)
        assert (newer.path / "summary.json").read_bytes() == future  # never collected again over it


def test_the_python_api_hands_back_each_shown_runs_summary(tmp_path: Path) -> None:
    """api.status of a wide listing: each run's whole summary is in the view it returns, as in a short
    one (the CLI's JSON reads them a chunk at a time as it writes; the API's caller holds the view)."""
    from clusterrun import api

    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    for i in range(COUNT):
        _completed(registry, i)
    for _ in range(2):  # the rows made, then used
        view = api.status(limit=1000, runs_dir=registry.root)
        assert len(view.report.runs) == COUNT
        assert all(r.summary and r.summary["state"] == "completed" for r in view.report.runs)
