"""What the members of a sweep have alike is held once (clusterrun/config/alike.py), and no member's change
ever reaches another's record: a shared value is replaced, never changed in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clusterrun.config.alike import share_alike, share_model
from clusterrun.config.experiment import load_experiment
from clusterrun.records.models import GitRecord, Manifest
from clusterrun.records.registry import Registry
from clusterrun.records.writer import SHARED_FIELDS, SharedFiles, SubmissionManifests
from tests.helpers import REPO


def test_equal_values_become_one_object_and_others_stay_their_own() -> None:
    first: dict[str, Any] = {"a": {"x": [1, 2]}, "b": [3], "c": "same", "d": None}
    second: dict[str, Any] = {"a": {"x": [1, 2]}, "b": [4], "c": "same", "d": None, "e": 5}
    share_alike(second, first)
    assert second["a"] is first["a"] and second["b"] is not first["b"] and second["b"] == [4]
    assert second == {"a": {"x": [1, 2]}, "b": [4], "c": "same", "d": None, "e": 5}
    third: dict[str, Any] = {"a": {"x": [1, 2]}, "b": [3]}
    share_alike(third, first, ["b"])  # only the names given
    assert third["b"] is first["b"] and third["a"] is not first["a"]


def test_a_sweeps_member_configs_share_their_equal_sections(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(
        (REPO / "configs" / "examples" / "quickstart.yaml").read_text()
        + "sweep:\n  grid: {seed: [1, 2, 3], params.lr: [0.1, 0.001]}\n"
    )
    members = load_experiment(tmp_path / "sweep.yaml", [], [], None, tmp_path).members
    specs = [member.spec for member in members]
    assert len(specs) == 6 and len({spec.seed for spec in specs}) == 3
    assert all(spec.resources is specs[0].resources for spec in specs)  # alike: one object
    assert specs[0].params is not specs[1].params and specs[0].params != specs[1].params
    alone = load_experiment(tmp_path / "sweep.yaml", [], [], None, tmp_path).members
    assert [m.spec.resolved() for m in alone] == [s.resolved() for s in specs]  # the same values


def _manifest(run_id: str, seed: int) -> Manifest:
    return Manifest.model_validate(
        {
            "run_id": run_id,
            "name": "m",
            "seed": seed,
            "config": {"name": "m", "seed": seed, "resources": {"time": "00:10:00", "mem": "1G"}},
            "resources": {"time": "00:10:00", "mem": "1G"},
            "git": {"commit": "abc", "branch": "main", "dirty": False},
            "argv": ["clusterrun", "submit", "sweep.yaml"],
            "state": "created",
            "state_history": [{"state": "created", "at": "t"}],
        }
    )


def test_a_change_to_one_members_manifest_never_reaches_anothers(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    shared, manifests, runs = SharedFiles(), SubmissionManifests(), []
    for seed in range(3):
        run = registry.create("m")
        manifest = _manifest(run.id, seed)
        shared.share(manifest, None)
        manifests.write(run, manifest)
        runs.append((run, manifest))
    (_, first), (_, second), (_, third) = runs
    for name in ("git", "resources", "argv"):
        assert getattr(second, name) is getattr(first, name) is getattr(third, name), name
    assert second.config.resources is first.config.resources and second.config.seed == 1
    assert set(SHARED_FIELDS) >= {"git", "resources", "argv"}
    # one member's values replaced, as every update does: the others keep theirs, in memory and on disk
    run, _ = runs[1]
    manifests.update(run, state="submitted", job_id="7_1", resources={"time": "01:00:00", "mem": "2G"})
    second.git = GitRecord(commit="def", branch="other", dirty=True)
    run.update(argv=["clusterrun", "reproduce", "x"])
    assert first.resources == third.resources == {"time": "00:10:00", "mem": "1G"}
    assert first.git.commit == third.git.commit == "abc" and first.argv == [
        "clusterrun",
        "submit",
        "sweep.yaml",
    ]
    for other, _kept in (runs[0], runs[2]):
        on_disk = json.loads(other.file("manifest.json").read_text())
        assert on_disk["resources"] == {"time": "00:10:00", "mem": "1G"} and on_disk["git"]["commit"] == "abc"
        assert on_disk["argv"] == ["clusterrun", "submit", "sweep.yaml"] and on_disk["state"] == "created"
    changed = json.loads(run.file("manifest.json").read_text())
    assert changed["resources"] == {"time": "01:00:00", "mem": "2G"} and changed["job_id"] == "7_1"


def test_share_model_leaves_unequal_fields_and_extras_alone() -> None:
    a, b = _manifest("a", 1), _manifest("b", 2)
    share_model(b.config, a.config)
    assert b.config.resources is a.config.resources and b.config.seed == 2
    share_model(a, a)  # itself: nothing to do
    share_model(a, None)
