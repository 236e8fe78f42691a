"""A run directory never exists without a record (found by the kill -9 loop, tests/test_kill9_loop.py):
Registry.create with a `record` makes the directory under a hidden name, writes the record into it and
renames it into place; a submit killed before its records are written leaves a `preparing` run, which
status marks interrupted once its submitter is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.records.registry import Registry
from clusterrun.records.writer import SharedFiles
from clusterrun.services.status import refresh


def _visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_the_directory_appears_with_its_record_and_a_taken_id_is_skipped(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    seen_during: list[list[str]] = []

    def record(path: Path, run_id: str) -> None:
        seen_during.append(_visible(registry.root))  # the run is not visible while its record is written
        (path / "manifest.json").write_text(f'{{"run_id": "{run_id}", "state": "preparing"}}')

    first = registry.create("exp", record=record)
    assert seen_during == [[]] and (first.path / "manifest.json").is_file()
    taken = registry.root / f"{first.id}-1"
    taken.mkdir()
    (taken / "manifest.json").write_text("{}")  # another process's run, made meanwhile
    registry._next_suffix.clear()
    second = registry.create("exp", when=None, record=record)
    assert second.id not in (first.id, taken.name) and (taken / "manifest.json").read_text() == "{}"
    assert not [p for p in registry.root.iterdir() if p.name.endswith(".new")]


def test_a_record_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")

    def broken(path: Path, run_id: str) -> None:
        (path / "manifest.json").write_text("{")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        registry.create("exp", record=broken)
    assert sorted(p.name for p in registry.root.iterdir()) == [".gitignore"]  # no run, no hidden one


def test_a_preparing_run_whose_submitter_is_gone_is_interrupted(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    shared = SharedFiles()
    shared.identity = {**shared.submitter(), "pid": child.pid}  # a process that has ended
    gone = registry.create("exp", record=shared.preparing)
    alive = registry.create("exp", record=SharedFiles().preparing)  # this process: still preparing
    assert gone.load_manifest().state == "preparing"
    states = {r.run_id: r.state for r in refresh(registry, [gone.id, alive.id]).runs}
    assert states == {gone.id: "interrupted", alive.id: "preparing"}
