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
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from clusterrun.cli.app import main
from clusterrun.records.rowcache import CACHE_FILE, VERSION, stamps
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
    assert json.loads(cache.read_text())["version"] == VERSION

    # a run removed: gone from the table and, at the next write, from the cache
    shutil.rmtree(runs / first)
    _rewrite(runs / second / "summary.json", {"metrics": {"loss": 0.5}})
    table = _table(project)
    shown = [line.split()[0] for line in table.splitlines()[2:] if line.strip()]
    assert first not in shown and "loss=0.5" in _line(table, second)  # (ids may share a prefix: -1)
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


def _running(pid: int) -> bool:
    """The local job's controller, or a task of it, is alive (not a zombie)."""
    try:
        controller = psutil.Process(pid)
        return any(p.status() != psutil.STATUS_ZOMBIE for p in [controller, *controller.children()])
    except psutil.NoSuchProcess:
        return False


def _ended_unseen(project: Path, seeds: tuple[int, ...]) -> list[str]:
    """Local runs submitted without --wait, whose jobs have ended and left their exit records: the next
    status records their ends and collects their summaries."""
    ids = []
    for seed in seeds:
        result = cli([s for s in LOCAL if s != "--wait"] + [f"seed={seed}"], project)
        assert result.returncode == 0, result.stderr
        ids.append(json.loads(result.stdout)["run_id"])
    runs = project / "runs"
    jobs = [int(json.loads((runs / i / "manifest.json").read_text())["job_id"]) for i in ids]
    for _ in range(600):
        # ended as status sees it: the result written and the job's processes gone (CI: a task still
        # exiting after its pickle left its run 'running', and no row was kept)
        if all(any((runs / i / "scheduler").glob("*_result.pkl")) for i in ids) and not any(
            _running(pid) for pid in jobs
        ):
            break
        time.sleep(0.1)
    assert all(json.loads((runs / i / "manifest.json").read_text())["state"] != "completed" for i in ids)
    assert not any((runs / i / "summary.json").exists() for i in ids)
    return ids


def test_the_status_that_records_runs_ends_keeps_their_rows(project: Path) -> None:
    """The refresh that settles a run keeps its row at once, stamped with the files as it wrote them:
    the next status opens none of its records, and its table is the records' table."""
    ids = _ended_unseen(project, (1, 2))
    runs = project / "runs"
    first = _table(project)
    assert all("COMPLETED" in _line(first, i) for i in ids)
    rows = json.loads((runs / ".cache" / CACHE_FILE).read_text())["rows"]
    assert sorted(rows) == sorted(ids)
    for run_id in ids:
        assert rows[run_id][0] == stamps(runs / run_id)  # the files as they are: as this status wrote them
    assert _table(project) == first == _fresh(project)


def test_a_row_made_by_the_refresh_is_not_kept_when_another_writer_came_after_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process replaces a summary just after the refresh wrote it (before the row is kept): the
    row made from this refresh's summary must not be kept with the other file's stamps."""
    first, second = _ended_unseen(project, (1, 2))
    runs = project / "runs"
    real_refresh = listing.refresh

    def refresh_then_another_writer(*args: object, **kwargs: object) -> listing.StatusReport:
        report = real_refresh(*args, **kwargs)  # type: ignore[arg-type]
        _rewrite(runs / first / "summary.json", {"metrics": {"loss": 0.125}})
        return report

    monkeypatch.setattr(listing, "refresh", refresh_then_another_writer)
    _table(project)
    monkeypatch.setattr(listing, "refresh", real_refresh)
    rows = json.loads((runs / ".cache" / CACHE_FILE).read_text())["rows"]
    assert first not in rows and second in rows
    table = _table(project)
    assert "loss=0.125" in _line(table, first)
    assert table == _fresh(project)


def _json(project: Path) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--runs-dir", str(project / "runs"), "status", "--limit", "50", "--json"])
    assert code == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def _fresh_json(project: Path) -> dict[str, Any]:
    """The JSON made from the records alone (no cache)."""
    (project / "runs" / ".cache" / CACHE_FILE).unlink(missing_ok=True)
    data = _json(project)
    (project / "runs" / ".cache" / CACHE_FILE).unlink(missing_ok=True)
    return data


def test_json_takes_a_summary_found_as_written_and_never_a_stale_or_moved_one(
    project: Path, two_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status --json` of a wide listing takes each summary's file text as it is when the run's row found
    it as written (no parse, no validation: 10,000 runs 1.5x -> about the floor), and is the records'
    JSON all the same: in a registry moved whole (whose summaries name the old place), after the summary
    is rewritten, and when the file is replaced between the listing and the read."""
    first, second = two_runs
    runs = project / "runs"
    expected = _fresh_json(project)
    _table(project)  # the rows, made by a table: each says its summary was found as written
    rows = json.loads((runs / ".cache" / CACHE_FILE).read_text())["rows"]
    assert all(rows[run_id][1].get(listing.AS_WRITTEN) for run_id in two_runs)
    taken: list[str] = []
    real = listing.store.summary_text_verified

    def counted(run_dir: Path, stamp: str) -> str | None:
        text = real(run_dir, stamp)
        if text is not None:
            taken.append(run_dir.name)
        return text

    monkeypatch.setattr(listing.store, "summary_text_verified", counted)
    assert _json(project) == expected and sorted(taken) == sorted(two_runs)  # both taken as written
    # the registry moved whole (a rename keeps every stamp): the rows hold, the paths are the new ones
    moved = project / "moved-runs"
    runs.rename(moved)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--runs-dir", str(moved), "status", "--limit", "50", "--json"]) == 0
    for item in json.loads(out.getvalue())["runs"]:
        assert item["summary"]["run_dir"] == str(moved / item["run_id"])
        assert item["summary"]["logs"]["stdout"].startswith(str(moved / item["run_id"]))
    moved.rename(runs)
    # a summary rewritten as another tool would: its row is made again, and its JSON is the new one
    _rewrite(runs / first / "summary.json", {"metrics": {"loss": 0.25}})
    taken.clear()
    data = _json(project)
    assert data == _fresh_json(project) and taken == [second]
    assert next(r for r in data["runs"] if r["run_id"] == first)["summary"]["metrics"] == {"loss": 0.25}
    # replaced after the listing took its row, before its JSON was read, by a file laid out as
    # write_summary lays one out but with a value the record's validation makes another (the exit code
    # as text): the records' JSON has the number
    _table(project)
    real_view = listing.StatusView.json_text
    path = runs / second / "summary.json"

    def replaced_then_read(view: listing.StatusView) -> Any:
        data = json.loads(path.read_text())
        data["exit_code"] = "0"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
        os.replace(tmp, path)
        return real_view(view)

    monkeypatch.setattr(listing.StatusView, "json_text", replaced_then_read)
    data = _json(project)
    assert next(r for r in data["runs"] if r["run_id"] == second)["summary"]["exit_code"] == 0
