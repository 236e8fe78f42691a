"""The registry index (records/index.py): answers like a full scan, opens only what changed, and is
rebuilt when missing, corrupt, or when another process added, changed or removed runs."""

from __future__ import annotations

import json
import shutil
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clusterrun.records import index
from clusterrun.records.jsonio import write_json_atomic
from clusterrun.records.registry import Registry, Run
from clusterrun.services.listing import select
from clusterrun.services.plan import finished_index

START = datetime(2026, 3, 1, 12, 0, 0)
STATES = ["completed", "failed", "running", "completed", "timeout"]


def make_runs(registry: Registry, count: int) -> list[Run]:
    runs = []
    for i in range(count):
        run = registry.create("exp" if i % 2 else "other", when=START + timedelta(seconds=i))
        run.write_manifest(
            {
                "run_id": run.id,
                "name": "exp" if i % 2 else "other",
                "created": (START + timedelta(seconds=i)).astimezone().isoformat(),
                "state": STATES[i % len(STATES)],
                "backend": "slurm" if i % 3 else "local",
                "snapshot": {"id": f"snap{i % 2}", "path": "/nowhere"},
                "config_hash": f"hash{i % 4}",
            }
        )
        runs.append(run)
    return runs


def scanned_finished(registry: Registry, backend: str | None) -> dict[tuple[str, str], str]:
    """The duplicate lookup as it was before the index: every manifest opened, newest first."""
    found: dict[tuple[str, str], str] = {}
    for run in registry.runs():
        manifest = run.load_manifest()
        if manifest.state == "completed" and backend in (None, manifest.backend):
            found.setdefault((manifest.snapshot.id, manifest.config_hash), run.id)
    return found


def scanned_select(registry: Registry, states: set[str]) -> list[str]:
    return [run.id for run in registry.runs() if run.load_manifest().state in states]


def test_answers_equal_a_full_scan(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_runs(registry, 23)
    for backend in (None, "slurm", "local"):
        assert finished_index(registry, backend) == scanned_finished(registry, backend)
        for snapshot in ("snap0", "snap1", "snap9"):  # a submit's lookup: its own code's runs only
            assert finished_index(registry, backend, snapshot) == {
                key: run_id
                for key, run_id in scanned_finished(registry, backend).items()
                if key[0] == snapshot
            }
    assert finished_index(registry, None, "snap1")  # the filter leaves something to compare
    assert select(registry, state="completed,timeout", limit=None) == scanned_select(
        registry, {"completed", "timeout"}
    )
    assert select(registry, state="failed", limit=2) == scanned_select(registry, {"failed"})[:2]


def test_one_submission_brings_the_index_up_to_date_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(tmp_path / "runs")
    make_runs(registry, 11)
    scans: list[Path] = []
    real = index._scan
    monkeypatch.setattr(
        index, "_scan", lambda root, known, turn: scans.append(root) or real(root, known, turn)
    )
    expected = scanned_finished(registry, "slurm")
    with index.read_once():  # as a submit: the duplicate check, then the estimate's look back
        assert finished_index(registry, "slurm") == expected
        assert index.newest_completed(registry.root, "slurm", {"hash0", "hash2"}) == {
            digest: run_id for (_snap, digest), run_id in expected.items() if digest in {"hash0", "hash2"}
        }
    assert len(scans) == 1
    finished_index(registry, "slurm")
    finished_index(registry, "slurm")
    assert len(scans) == 3  # outside a submission, every use is up to date


def test_opens_only_what_changed(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 12)
    first = index.Stats()
    index.entries(registry.root, first)
    assert (first.rebuilt, first.read, first.written) == (True, 12, True)
    again = index.Stats()
    index.entries(registry.root, again)
    assert (again.rebuilt, again.read, again.written) == (False, 0, False)
    runs[2].update(state="completed")  # a running run's new state: its manifest is read again
    changed = index.Stats()
    found = index.entries(registry.root, changed)
    assert (changed.read, changed.written, changed.appended) == (1, False, 1)  # one journal line
    assert found[runs[2].id].state == "completed"
    runs[3].update(state="cancelled")  # a settled run's change: Run.update told the index's journal
    told = index.Stats()
    found = index.entries(registry.root, told)
    assert (told.read, told.written, told.appended) == (0, False, 0)
    assert found[runs[3].id].state == "cancelled"
    after = index.Stats()
    assert index.entries(registry.root, after)[runs[3].id].state == "cancelled"
    assert (after.read, after.appended) == (0, 0)  # the journal replayed: nothing read again


def test_the_journal_is_compacted_and_a_torn_line_is_harmless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "COMPACT_AFTER", 3)
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 4)
    index.entries(registry.root)
    journal = index.index_path(registry.root).with_name(index.JOURNAL_FILE)
    runs[0].update(state="cancelled")
    runs[1].update(state="cancelled")
    index.entries(registry.root)
    assert len(journal.read_text().splitlines()) == 2
    with open(journal, "a") as handle:  # a line torn by two writers on NFS
        handle.write('["exp_2026')
    runs[2].update(state="cancelled")
    stats = index.Stats()
    found = index.entries(registry.root, stats)
    assert stats.written and not journal.exists()  # 2 + 1 torn + 1 new > 3: written whole again
    assert [found[r.id].state for r in runs[:3]] == ["cancelled"] * 3
    assert index.entries(registry.root) == found


def test_sees_runs_another_process_added_or_removed(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 5)
    index.entries(registry.root)
    # another process (or an older clusterrun) writes a run directory without touching the index
    other = registry.root / "exp_20260301-130000"
    other.mkdir()
    write_json_atomic(
        other / "manifest.json",
        {"schema_version": 1, "run_id": other.name, "name": "exp", "state": "completed"},
    )
    shutil.rmtree(runs[0].path)
    stats = index.Stats()
    found = index.entries(registry.root, stats)
    assert (stats.read, stats.dropped) == (1, 1)
    assert set(found) == {r.id for r in runs[1:]} | {other.name}
    assert found[other.name].state == "completed"
    assert select(registry, state="completed", limit=1) == [other.name]


def test_rebuilt_when_deleted_corrupt_or_of_another_version(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_runs(registry, 6)
    expected = index.entries(registry.root)
    path = index.index_path(registry.root)
    for damage in ("delete", "garbage", "version", "truncated"):
        if damage == "delete":
            path.unlink()
        elif damage == "garbage":
            path.write_text("{not json")
        elif damage == "version":
            path.write_text(json.dumps({"version": 999, "runs": {}}))
        else:
            path.write_text(path.read_text()[: len(path.read_text()) // 2])
        stats = index.Stats()
        assert index.entries(registry.root, stats) == expected, damage
        assert (stats.rebuilt, stats.read) == (True, 6), damage
        assert json.loads(path.read_text())["version"] == index.VERSION


def test_rows_of_another_shape_or_type_are_read_again_from_their_manifests(tmp_path: Path) -> None:
    """A row edited by hand (or by a future version) is never taken at its word."""
    registry = Registry(tmp_path / "runs")
    make_runs(registry, 6)
    expected = index.entries(registry.root)
    finished = index.finished(registry.root)
    path = index.index_path(registry.root)
    data = json.loads(path.read_text())
    first, second, third = sorted(data["runs"])[:3]
    data["runs"][first] = data["runs"][first][:5]  # too short
    data["runs"][second][4] = 42  # a name that is not text, stamps unchanged
    data["runs"][third][6] = "completed" if data["runs"][third][6] != "completed" else "failed"
    data["runs"][third][0] += 1  # a state changed by hand, and the stamp no longer the manifest's
    path.write_text(json.dumps(data))
    assert index.entries(registry.root) == expected
    assert index.finished(registry.root) == finished == scanned_finished(registry, None)


def test_a_damaged_manifest_is_marked_and_left_out(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 4)
    runs[0].manifest_path.write_text("{damaged")
    found = index.entries(registry.root)
    assert found[runs[0].id].damaged
    assert runs[0].id not in select(registry, state=",".join(STATES), limit=None)
    assert runs[0].manifest_path.read_text() == "{damaged"  # never repaired or rewritten


def test_a_read_only_registry_still_answers(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_runs(registry, 3)
    (registry.root / ".cache").mkdir()
    (registry.root / ".cache").chmod(0o500)
    try:
        assert len(index.entries(registry.root)) == 3
    finally:
        (registry.root / ".cache").chmod(0o700)


def edit_state(run: Run, state: str) -> None:
    """The run's manifest given another state as a hand (or a tool) would: not through Run.update."""
    data = json.loads(run.manifest_path.read_text())
    data["state"] = state
    write_json_atomic(run.manifest_path, data)


def test_settled_runs_are_not_statted_each_time_but_a_hand_edit_is_seen_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 64)
    index.entries(registry.root)
    running = [r for r in runs if r.load_manifest().state not in index.SETTLED_STATES]
    statted: list[str] = []
    real_stat = index.os.stat

    def counting(path: object, *args: object, **kwargs: object) -> object:
        statted.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index.os, "stat", counting)
    index.entries(registry.root)
    assert len(running) <= len(statted) < len(running) + len(runs) // 4  # the running, and a sixteenth

    edited = next(r for r in runs if r.load_manifest().state == "completed")
    edit_state(edited, "failed")  # by hand (or an older clusterrun): Run.update did not tell the journal
    seen_at = None
    for turn in range(index.TURNS):
        monkeypatch.setattr(index.time, "time", lambda turn=turn: turn * index.TURN_SECONDS + 0.5)
        if index.entries(registry.root)[edited.id].state == "failed":
            seen_at = turn
            break
    assert seen_at is not None  # within one round of turns


def test_a_running_run_edited_by_hand_is_seen_at_once(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 10)
    index.entries(registry.root)
    edited = next(r for r in runs if r.load_manifest().state == "running")
    edit_state(edited, "completed")
    assert index.entries(registry.root)[edited.id].state == "completed"


def test_a_duplicate_verdict_is_checked_against_the_runs_own_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusterrun.services.plan import _still_finished

    registry = Registry(tmp_path / "runs")
    runs = make_runs(registry, 10)
    index.entries(registry.root)
    key, newest = next(iter(index.finished(registry.root).items()))
    done = next(r for r in runs if r.id == newest)
    turn = zlib.crc32(done.id.encode()) % index.TURNS
    monkeypatch.setattr(index.time, "time", lambda: ((turn + 1) % index.TURNS) * index.TURN_SECONDS + 0.5)
    assert _still_finished(registry, done.id, *key, None)
    edit_state(done, "failed")  # edited by hand: the index, not looking at settled runs this turn, lags
    assert index.finished(registry.root).get(key) == done.id
    assert not _still_finished(registry, done.id, *key, None)  # so no run is refused on its word
