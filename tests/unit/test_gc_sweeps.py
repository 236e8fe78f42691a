"""gc and a sweep: the working copies of a sweep's ended members are offered only once every member has
ended (a member still going may still be compared with them), and a sweep of thousands is judged in one
pass, holding a few fields of each run, not its manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrun.errors import UsageError
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry
from clusterrun.services import gc
from tests.helpers import count_manifest_reads


def _member(registry: Registry, sweep: str | None, state: str, reproduces: str | None = None) -> str:
    run = registry.create("m")
    run.write_manifest(
        Manifest.model_validate(
            {
                "run_id": run.id,
                "name": "m",
                "created": "2026-01-01T00:00:00+00:00",
                "sweep": sweep,
                "reproduces": reproduces,
                "state": state,
                "state_history": [{"state": state, "at": "2026-01-01T00:00:00+00:00"}],
                "snapshot": {"id": "0123456789abcdef0123"},
            }
        )
    )
    (run.path / "work").mkdir()
    return run.id


def _offered(registry: Registry) -> set[str]:
    return {item.run for item in gc.plan(registry).items if item.what == "work"}


def test_a_sweeps_working_copies_wait_for_its_last_member(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    ended = [_member(registry, "s_1", "completed") for _ in range(3)]
    going = _member(registry, "s_1", "running")
    other = _member(registry, "s_2", "failed")  # another sweep, all ended
    assert _offered(registry) == {other}
    run = registry.get(going)
    run.update(state="completed")
    assert _offered(registry) == {*ended, going, other}


def test_gc_keeps_a_few_fields_of_each_run_not_its_manifest(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run_id = _member(registry, "s_1", "completed")
    facts = gc._facts(registry)
    kept = facts.runs[run_id]
    assert (
        not isinstance(kept, Manifest) and kept.sweep == "s_1" and kept.snapshot_id == "0123456789abcdef0123"
    )
    assert facts.going_sweeps == set()


def test_rm_reads_the_runs_that_concern_it_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rm RUN` refuses a run another run reproduces and a member of a sweep still going, and reads only
    the runs that concern it (found in the registry index, each then read): it read every manifest of the
    registry (10,000 runs: 3.4 s to show one run)."""
    registry = Registry(tmp_path / "runs")
    others = [_member(registry, None, "completed") for _ in range(30)]
    original = _member(registry, None, "completed")
    copy = _member(registry, None, "completed", reproduces=original)
    members = [_member(registry, "s_1", "completed") for _ in range(3)]
    going = _member(registry, "s_1", "running")
    gc.rm(registry, others[0])  # the index made (every manifest read once, as any first use does)

    read = count_manifest_reads(monkeypatch)
    with pytest.raises(UsageError, match=f"reproduced by {copy}"):
        gc.rm(registry, original)
    assert sorted(read) == sorted([original, copy]), read
    read.clear()
    with pytest.raises(UsageError, match="sweep s_1, which is still going"):
        gc.rm(registry, members[0])
    # its member not ended, read to be sure, and again as the scheduler is asked about it and after
    assert set(read) == {members[0], going} and read.count(members[0]) == 1, read
    read.clear()
    assert gc.rm(registry, others[5]).items[0].run == others[5] and read == [others[5]]

    registry.get(going).update(state="completed")  # the sweep has ended: its members may go
    assert gc.rm(registry, members[0], yes=True).removed
    assert gc.rm(registry, original, force=True, yes=True).removed
    assert not (registry.root / original).exists() and (registry.root / copy).is_dir()
