"""The status row cache (issue 13): a wide `status` shows settled runs from `.cache/status-rows.json`
without opening their records, and its promise is that a table is never wrong for it: any change to a
run's manifest, summary or notes (by clusterrun, another tool or by hand), a damaged cache, a run gone,
all give the table the records give."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from clusterrun.cli.app import main
from clusterrun.records.rowcache import CACHE_FILE, stamps
from clusterrun.services import listing
from tests.helpers import cli

LOCAL = ["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "--json", "params.steps=5"]


@pytest.fixture(autouse=True)
def _cache_from_the_first_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short listings read their records (they are fast); here two runs stand for a wide listing."""
    monkeypatch.setattr(listing, "ROW_CACHE_FROM", 1)


def _table(project: Path) -> str:
    """`clusterrun status --limit 50`, in this process (so that the threshold above applies)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--runs-dir", str(project / "runs"), "status", "--limit", "50"])
    assert code == 0
    return out.getvalue()


def _fresh(project: Path) -> str:
    """The table made from the records alone (no cache)."""
    (project / "runs" / ".cache" / CACHE_FILE).unlink(missing_ok=True)
    table = _table(project)
    (project / "runs" / ".cache" / CACHE_FILE).unlink(missing_ok=True)
    return table


def _line(table: str, run_id: str) -> str:
    return next(line for line in table.splitlines() if line.split()[:1] == [run_id])


def _rewrite(path: Path, change: dict[str, object]) -> None:
    """A record rewritten as another tool would: a new file, renamed over the old one."""
    data = json.loads(path.read_text())
    data.update(change)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


@pytest.fixture
def two_runs(project: Path) -> list[str]:
    ids = []
    for seed in (1, 2):
        result = cli([*LOCAL, f"seed={seed}"], project)
        assert result.returncode == 0, result.stderr
        ids.append(json.loads(result.stdout)["run_id"])
    return ids


def test_the_cache_is_used_and_never_outlives_a_change_to_a_runs_files(
    project: Path, two_runs: list[str]
) -> None:
    first, second = two_runs
    runs = project / "runs"
    cache = runs / ".cache" / CACHE_FILE
    table = _table(project)
    assert cache.is_file()  # made by the first wide status
    assert _table(project) == table == _fresh(project)
    _table(project)

    # used: a row whose stamps match is shown as cached (a forged metric proves no record was read)
    data = json.loads(cache.read_text())
    data["rows"][first][1]["status"]["metrics"] = {"loss": 777}
    cache.write_text(json.dumps(data))
    assert "loss=777" in _line(_table(project), first)

    # a summary rewritten (by hand, another tool): its row is made again
    _rewrite(runs / first / "summary.json", {"metrics": {"loss": 0.25}})
    assert "loss=0.25" in _line(_table(project), first)
    assert _table(project) == _fresh(project)

    # a note appended (a tag): the TAGS column appears at once
    assert cli(["note", second, "--tag", "baseline"], project).returncode == 0
    table = _table(project)
    assert "TAGS" in table.splitlines()[0] and "baseline" in _line(table, second)
    assert table == _fresh(project)

    # the manifest rewritten: its node is shown
    _rewrite(runs / second / "manifest.json", {"node": "elsewhere-node"})
    assert "elsewhere-node" in _line(_table(project), second)

    # a damaged cache: the records' table, and the cache written again
    cache.write_text("{not json")
    assert _table(project) == _fresh(project)
    _table(project)
    assert json.loads(cache.read_text())["version"] == 1

    # a run removed: gone from the table and, at the next write, from the cache
    shutil.rmtree(runs / first)
    _rewrite(runs / second / "summary.json", {"metrics": {"loss": 0.5}})
    table = _table(project)
    assert first not in table and "loss=0.5" in _line(table, second)
    assert first not in json.loads(cache.read_text())["rows"]


def test_a_row_is_kept_only_from_files_that_did_not_change_while_it_was_made(
    project: Path, two_runs: list[str]
) -> None:
    """The cache stamps a row with the files as they were before they were read; a run whose summary
    the same refresh collected is kept at the next refresh (its files changed meanwhile)."""
    first = two_runs[0]
    runs = project / "runs"
    (runs / first / "summary.json").unlink()  # collected again by the next status
    _table(project)
    cache = json.loads((runs / ".cache" / CACHE_FILE).read_text())
    assert first not in cache["rows"] and two_runs[1] in cache["rows"]
    _table(project)
    cache = json.loads((runs / ".cache" / CACHE_FILE).read_text())
    assert cache["rows"][first][0] == stamps(runs / first)


def test_a_short_listing_reads_its_records_and_leaves_the_cache_alone(
    project: Path, two_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "ROW_CACHE_FROM", 3)
    table = _table(project)
    assert all(run_id in table for run_id in two_runs)
    assert not (project / "runs" / ".cache" / CACHE_FILE).exists()
