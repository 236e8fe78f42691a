"""`rm RUN` refuses a run another run reproduces and a member of a sweep still going, and reads only the
runs that concern it (found in the registry index, each then read): it read every manifest of the
registry (10,000 runs: 3.4 s to show one run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrun.errors import UsageError
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry
from clusterrun.services import gc
from tests.helpers import count_manifest_reads


def _run(registry: Registry, state: str, sweep: str | None = None, reproduces: str | None = None) -> str:
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
    return run.id


def test_rm_reads_the_runs_that_concern_it_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(tmp_path / "runs")
    others = [_run(registry, "completed") for _ in range(30)]
    original = _run(registry, "completed")
    copy = _run(registry, "completed", reproduces=original)
    members = [_run(registry, "completed", sweep="s_1") for _ in range(3)]
    going = _run(registry, "running", sweep="s_1")
    gc.rm(registry, others[0])  # the index made (every manifest read once, as any first use does)

    read = count_manifest_reads(monkeypatch)
    with pytest.raises(UsageError, match=f"reproduced by {copy}"):
        gc.rm(registry, original)
    assert sorted(read) == sorted([original, copy]), read
    read.clear()
    with pytest.raises(UsageError, match="sweep s_1, which is still going"):
        gc.rm(registry, members[0])
    assert sorted(read) == sorted([members[0], going]), read  # its member not ended, read to be sure
    read.clear()
    assert gc.rm(registry, others[5]).items[0].run == others[5] and read == [others[5]]

    registry.get(going).update(state="completed")  # the sweep has ended: its members may go
    assert gc.rm(registry, members[0], yes=True).removed
    assert gc.rm(registry, original, force=True, yes=True).removed
    assert not (registry.root / original).exists() and (registry.root / copy).is_dir()
