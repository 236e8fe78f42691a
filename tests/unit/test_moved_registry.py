"""A registry moved or copied whole (`mv ~/project ~/work/`, `cp -a`, rsync to another filesystem) reads
as it did where it was written: the paths its records hold inside the registry (run directory, working
copy, scheduler folder, snapshot, logs) name where they are now, so its runs are not DAMAGED and `show`
names files that exist. The promise kept beside it (records/paths.py): a record still leads nowhere out
of the registry; only paths inside the registry it was written in are moved, and only into this one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clusterrun.records import store
from clusterrun.records.paths import OutsideRegistry, rebased
from clusterrun.records.registry import Registry
from clusterrun.records.summary import scheduler_folder
from clusterrun.services.status import refresh

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b"
WRITTEN_IN = "/tmp/golden/proj-head/runs"  # where the golden records were written


def _moved(tmp_path: Path, *names: str) -> Registry:
    """The golden records as a registry moved from WRITTEN_IN to tmp_path/moved/runs."""
    root = tmp_path / "moved" / "runs"
    root.mkdir(parents=True)
    for name in names:
        recorded = GOLDEN / name
        target = json.loads(next(recorded.glob("*.json")).read_text())
        run_id = target.get("run_id") or target.get("sweep_id")
        shutil.copytree(recorded, root / run_id)
    return Registry(root)


def test_paths_inside_the_registry_it_was_written_in_move_with_it() -> None:
    assert rebased(f"{WRITTEN_IN}/x_1/work", WRITTEN_IN, "/new/runs") == "/new/runs/x_1/work"
    assert rebased(WRITTEN_IN, WRITTEN_IN, "/new/runs") == "/new/runs"
    assert rebased(f"{WRITTEN_IN}-other/x_1", WRITTEN_IN, "/new/runs") == f"{WRITTEN_IN}-other/x_1"
    assert rebased("/etc/passwd", WRITTEN_IN, "/new/runs") == "/etc/passwd"  # not the registry's: as it is
    assert rebased("", WRITTEN_IN, "/new/runs") == ""


def test_a_moved_registrys_records_name_where_things_are_now(tmp_path: Path) -> None:
    registry = _moved(tmp_path, "completed", "sweep", "sweep-member")
    root = str(registry.root)
    run = registry.get("quickstart_20261202-101919")
    manifest = store.read_manifest(run.path)
    assert manifest.run_dir == str(run.path) and manifest.workdir == f"{run.path}/work"
    assert manifest.scheduler_folder == f"{run.path}/scheduler"
    assert manifest.snapshot.path == f"{root}/.snapshots/b7662d53b26e932ec9ba"
    assert scheduler_folder(run, manifest) == run.path / "scheduler"  # inside: used, not refused
    summary = store.read_summary(run.path)
    assert summary is not None and summary.run_dir == str(run.path)
    assert summary.logs.stdout == f"{run.path}/stdout.log" and summary.logs.stderr == f"{run.path}/stderr.log"
    assert all(path.startswith(f"{run.path}/scheduler/") for path in summary.logs.scheduler)
    sweep = store.read_sweep(registry.root / "quickstart-sweep_20261202-101936")
    assert sweep.snapshot.path == f"{root}/.snapshots/b7662d53b26e932ec9ba"
    member = registry.get("quickstart_20261202-101936")
    assert scheduler_folder(member, store.read_manifest(member.path)) == (
        registry.root / "quickstart-sweep_20261202-101936" / "scheduler"
    )
    before = (run.path / "manifest.json").read_bytes()
    report = refresh(registry, [run.id, member.id], max_age=0)
    assert {r.run_id: r.state for r in report.runs} == {run.id: "completed", member.id: "completed"}
    assert report.warnings == []
    assert (run.path / "manifest.json").read_bytes() == before  # read, not written


def test_a_record_still_leads_nowhere_out_of_the_registry(tmp_path: Path) -> None:
    registry = _moved(tmp_path, "completed")
    run = registry.get("quickstart_20261202-101919")
    path = run.path / "manifest.json"
    data = json.loads(path.read_text())
    for planted in ("/etc", f"{WRITTEN_IN}/../../../../etc", f"{WRITTEN_IN}-x/etc"):
        path.write_text(json.dumps(data | {"scheduler_folder": planted}))
        manifest = store.read_manifest(run.path)
        with pytest.raises(OutsideRegistry):
            scheduler_folder(run, manifest)
    # a manifest naming another run's directory keeps its paths as they are (it is not this run's)
    path.write_text(json.dumps(data | {"run_dir": f"{WRITTEN_IN}/someone_20261202-000000"}))
    assert store.read_manifest(run.path).scheduler_folder == data["scheduler_folder"]
