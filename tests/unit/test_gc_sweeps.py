"""gc and a sweep: the working copies of a sweep's ended members are offered only once every member has
ended (a member still going may still be compared with them), and a sweep of thousands is judged in one
pass, holding a few fields of each run, not its manifest."""

from __future__ import annotations

from pathlib import Path

from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry
from clusterrun.services import gc


def _member(registry: Registry, sweep: str, state: str) -> str:
    run = registry.create("m")
    run.write_manifest(
        Manifest.model_validate(
            {
                "run_id": run.id,
                "name": "m",
                "created": "2026-01-01T00:00:00+00:00",
                "sweep": sweep,
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
