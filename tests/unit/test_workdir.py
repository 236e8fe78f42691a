"""Working directories: hard links in real directories, outputs found, in-place changes caught."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clusterrun.inputs import snapshot as snapshots
from clusterrun.inputs import workdir
from tests.helpers import git, make_project


@pytest.fixture
def snap(tmp_path: Path) -> snapshots.Snapshot:
    project = make_project(
        tmp_path / "proj", {"pkg/mod.py": "X = 1\n", "notes.txt": "original\n", "empty/.keep": ""}
    )
    os.symlink("pkg/mod.py", project / "alias.py")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "link")
    head = git(project, "rev-parse", "HEAD").strip()
    return snapshots.create(project, head, "", tmp_path / "runs")


def test_a_working_directory_is_hard_links_in_real_directories(
    snap: snapshots.Snapshot, tmp_path: Path
) -> None:
    dest = tmp_path / "run" / "work"
    assert workdir.materialise(snap.path, dest) is True
    assert (dest / "pkg").is_dir() and not (dest / "pkg").is_symlink()
    assert (dest / "pkg" / "mod.py").stat().st_ino == (snap.path / "pkg" / "mod.py").stat().st_ino
    assert os.readlink(dest / "alias.py") == "pkg/mod.py"
    assert not (dest / workdir.LISTING).exists() and not (dest / workdir.MARKER).exists()
    assert workdir.materialise(snap.path, dest) is False  # a requeued attempt keeps its directory
    (dest / "pkg" / "new.txt").write_text("mine")
    assert not (snap.path / "pkg" / "new.txt").exists()
    found = workdir.check(dest)
    assert found.artifacts == [("pkg/new.txt", 4)] and found.modified_in_place == []
    assert snapshots.verify(snap.path) == snap.digest


def test_an_in_place_write_is_found_and_the_snapshot_is_rebuilt(
    snap: snapshots.Snapshot, tmp_path: Path
) -> None:
    dest = tmp_path / "run" / "work"
    workdir.materialise(snap.path, dest)
    os.chmod(dest / "notes.txt", 0o644)  # what root can do anyway
    with open(dest / "notes.txt", "a") as handle:
        handle.write("changed\n")
    assert (snap.path / "notes.txt").read_text() == "original\nchanged\n"  # the shared inode
    found = workdir.check(dest)
    assert found.modified_in_place == ["notes.txt"]
    assert snapshots.damage(snap.path).endswith("notes.txt was modified in place")
    with pytest.raises(workdir.WorkdirError, match="modified in place"):
        workdir.materialise(snap.path, tmp_path / "other" / "work")
    assert not (tmp_path / "other" / "work").exists()
    workdir.mark_tainted(snap.path, found.modified_in_place, "run x")
    project = tmp_path / "proj"
    again = snapshots.create(project, git(project, "rev-parse", "HEAD").strip(), "", tmp_path / "runs")
    assert again.rebuilt.startswith("tainted") and not again.reused
    assert (again.path / "notes.txt").read_text() == "original\n" and again.digest == snap.digest
    # the run's own copy still holds what it wrote: only the shared snapshot was replaced
    assert (dest / "notes.txt").read_text() == "original\nchanged\n"


def test_a_rewrite_by_rename_is_an_output_not_a_taint(snap: snapshots.Snapshot, tmp_path: Path) -> None:
    dest = tmp_path / "run" / "work"
    workdir.materialise(snap.path, dest)
    (dest / "tmp").write_text("new\n")
    os.replace(dest / "tmp", dest / "notes.txt")
    found = workdir.check(dest)
    assert found.modified_in_place == [] and found.artifacts == [("notes.txt", 4)]
    assert not snapshots.damage(snap.path)


def test_without_its_listing_every_file_of_its_own_is_an_output(
    snap: snapshots.Snapshot, tmp_path: Path
) -> None:
    """A working copy whose listing is gone (a run made before listings, a damaged one): its own files
    are its outputs, what is linked to the snapshot is not (gc keeps such a copy instead of removing
    its checkpoints; the summary lists them)."""
    dest = tmp_path / "run" / "work"
    workdir.materialise(snap.path, dest)
    (dest / "ckpt").mkdir()
    (dest / "ckpt" / "epoch_1.pt").write_text("weights")
    (dest.parent / workdir.LISTING_LINK).unlink()
    assert workdir.check(dest).artifacts == [("ckpt/epoch_1.pt", 7)]


def test_untracked_data_is_linked_and_not_an_artifact(snap: snapshots.Snapshot, tmp_path: Path) -> None:
    data = tmp_path / "proj" / "data" / "train.csv"
    data.parent.mkdir()
    data.write_text("a,b\n")
    dest = tmp_path / "run" / "work"
    links = {"data/train.csv": str(data), "notes.txt": "/etc/passwd", "../escape": "/etc/passwd"}
    workdir.materialise(snap.path, dest, links)
    assert os.readlink(dest / "data" / "train.csv") == str(data)
    assert (dest / "notes.txt").read_text() == "original\n"  # tracked wins over a link
    assert not (tmp_path / "run" / "escape").exists()
    assert workdir.check(dest, links).artifacts == []


def test_many_artifacts_keep_a_count_and_the_largest() -> None:
    items = [(f"f{i}", i) for i in range(200)]
    record = workdir.artifacts_record(items, "work/")
    assert record["count"] == 200 and record["truncated"] is True
    assert len(record["files"]) == workdir.MANY_ARTIFACTS and record["files"][0] == {
        "path": "work/f199",
        "size": 199,
    }
    assert record["total_bytes"] == sum(range(200))


def test_many_checkpoints_alike_in_size_keep_the_latest() -> None:
    """3,000 checkpoints of one size: the summary keeps the last ones and last.npz, not epoch_0..epoch_1040
    (the first in the alphabet), so the results block names the checkpoints a user wants."""
    items = sorted(
        [(f"checkpoints/epoch_{i}.npz", 2248) for i in range(3000)] + [("checkpoints/last.npz", 2248)]
    )
    kept = [
        f["path"] for f in workdir.artifacts_record([("logs/metrics.csv", 9999), *items], "work/")["files"]
    ]
    assert kept[:4] == [
        "work/logs/metrics.csv",
        "work/checkpoints/last.npz",
        "work/checkpoints/epoch_2999.npz",
        "work/checkpoints/epoch_2998.npz",
    ]
    assert "work/checkpoints/epoch_0.npz" not in kept and len(kept) == workdir.MANY_ARTIFACTS


def test_cli_entry_reports_a_missing_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert workdir.main([str(tmp_path / "nope"), str(tmp_path / "work")]) == 1
    assert "cannot make the run's working directory" in capsys.readouterr().err


def test_a_tools_records_in_hidden_directories_come_after_the_outputs() -> None:
    """Hydra's .hydra/hydra.yaml is the largest file of a small run: the results block names the
    checkpoints and results first, the tool's records of itself last."""
    items = [
        ("outputs/2026-12-04/21-51-13/.hydra/hydra.yaml", 3400),
        ("outputs/2026-12-04/21-51-13/.hydra/config.yaml", 120),
        ("outputs/2026-12-04/21-51-13/ckpt/epoch4.npy", 384),
        ("outputs/2026-12-04/21-51-13/results.json", 30),
    ]
    ordered = workdir.by_importance(items, lambda i: i[0], lambda i: i[1])
    assert [path.rsplit("/", 1)[1] for path, _size in ordered] == [
        "epoch4.npy",
        "results.json",
        "hydra.yaml",
        "config.yaml",
    ]


def test_the_jobs_record_of_its_outputs_is_what_a_walk_finds_and_nothing_hostile_passes(
    snap: snapshots.Snapshot, tmp_path: Path
) -> None:
    """exit.json's `outputs` (the job's walk as it ended) reads back as the summary's walk would make it;
    a record with anything unexpected (a path out of the run, too many files, wrong types) is refused,
    and the summary walks the working copy itself."""
    run_dir = tmp_path / "run"
    workdir.materialise(snap.path, run_dir / workdir.NAME)
    (run_dir / workdir.NAME / "pkg" / "out.txt").write_text("made")
    (run_dir / "artifacts" / "ckpt").mkdir(parents=True)
    (run_dir / "artifacts" / "ckpt" / "model.pt").write_bytes(b"12345")
    items, modified = workdir.run_outputs(run_dir, run_dir / "artifacts", run_dir / workdir.NAME)
    assert items == [("artifacts/ckpt/model.pt", 5), ("work/pkg/out.txt", 4)] and modified == []
    made = workdir.outputs_record(items, modified)
    assert workdir.recorded_outputs(made) == (workdir.artifacts_record(items, ""), [])
    assert workdir.recorded_outputs(json_round_trip(made)) == (workdir.artifacts_record(items, ""), [])
    for path in ("../../etc/passwd", "/etc/passwd", "work/../../x", "work//x", "elsewhere/x", ""):
        bad = json_round_trip(made)
        bad["artifacts"]["files"][0]["path"] = path
        assert workdir.recorded_outputs(bad) is None, path
    for change in (
        {"count": True},
        {"total_bytes": -1},
        {"truncated": "no"},
        {"files": [{"path": "work/x", "size": 1}] * (workdir.MANY_ARTIFACTS + 1)},
        {"files": [{"path": "work/x", "size": 1, "extra": 1}]},
    ):
        bad = json_round_trip(made)
        bad["artifacts"].update(change)
        assert workdir.recorded_outputs(bad) is None, change
    assert workdir.recorded_outputs({**made, "modified_tracked_files": ["../x"]}) is None
    assert workdir.recorded_outputs(None) is None and workdir.recorded_outputs([]) is None
    too_many = [f"f{i}" for i in range(workdir.MAX_RECORDED_MODIFIED + 1)]
    assert workdir.outputs_record(items, too_many) is None  # then none is recorded: the summary walks


def json_round_trip(data: object) -> dict[str, object]:
    import json

    loaded = json.loads(json.dumps(data))
    assert isinstance(loaded, dict)
    return loaded
