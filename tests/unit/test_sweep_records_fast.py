"""The fast paths of a sweep's submission write the same records as the plain ones (issue 13, "sweep"):
prettyjson's text is json.dumps's, the config's YAML made one key at a time is yaml.dump's, and a
manifest updated from memory never loses a field another process wrote in between."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusterrun.config.experiment import load_experiment
from clusterrun.config.redact import redact_data
from clusterrun.records import prettyjson
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry
from clusterrun.records.writer import SharedFiles, SubmissionManifests
from tests.helpers import REPO

GOLDEN = REPO / "tests" / "golden" / "records"
SCALARS: list[Any] = [0, -5, 2**70, 1.5, 1e-05, -0.0, 1e300, float("nan"), float("inf"), True, False, None]
SCALARS += ["", "a\nb", "é ☃", "x" * 80, '"quoted"\\', Path("/a/b"), (1, 2), [], {}]


def _random(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.4:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return [_random(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    keys = ["a", "b", "long_key_" * 5, "é", "", "Z"]
    size = rng.randint(0, 6)
    return {rng.choice(keys) + str(rng.randint(0, 3)): _random(rng, depth + 1) for _ in range(size)}


def _reference(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, default=str)


def test_prettyjson_is_json_dumps_character_for_character() -> None:
    rng = random.Random(13)
    for _ in range(5000):
        data = _random(rng)
        assert prettyjson.dumps(data) == _reference(data)
        assert prettyjson.dumps(data) == _reference(data)  # the second time from its cache
    golden = sorted(GOLDEN.rglob("*.json"))
    assert golden, GOLDEN
    for path in golden:
        data = json.loads(path.read_text())
        assert prettyjson.record_text(data) == _reference(data) + "\n", path


def test_a_record_joined_from_its_members_is_its_text() -> None:
    rng = random.Random(131)
    for _ in range(2000):
        data = _random(rng)
        if not isinstance(data, dict):
            continue
        members = prettyjson.member_texts(data)
        if members is None:  # empty, or a key json sorts itself
            assert not data or not all(type(key) is str for key in data)
            continue
        assert prettyjson.join_members(members) == _reference(data) + "\n"
        key = rng.choice(sorted(data))  # one member replaced: only it is encoded again
        data[key] = _random(rng)
        fresh = prettyjson.member_texts({key: data[key]})
        if fresh is not None:
            assert prettyjson.join_members(members | fresh) == _reference(data) + "\n"


def test_a_listing_streamed_a_run_at_a_time_is_its_whole_text() -> None:
    """prettyjson.stream (`status --json` of a wide listing, never held whole): the text of dumps of the
    whole record, with each item's values encoded beforehand (Encoded) or not, odd keys included."""
    rng = random.Random(1313)
    for _ in range(1500):
        key = rng.choice(["runs", "members", "a", "zz"])
        head = {k: _random(rng) for k in rng.sample(["warnings", "columns", "b", "runs"], rng.randint(0, 3))}
        head.pop(key, None)
        items = [_random(rng) for _ in range(rng.randint(0, 4))]
        items = [item if isinstance(item, dict) else {"value": item} for item in items]
        if rng.random() < 0.1:
            items.append({2: "keys json sorts itself", 1: [1]})
        expected = _reference(head | {key: items})
        ahead = prettyjson.Encoded  # a value encoded before the item is
        encoded = [
            {k: ahead(prettyjson.nested(v)) if rng.random() < 0.5 else v for k, v in item.items()}
            for item in items
        ]
        assert "".join(prettyjson.stream(head, key, iter(encoded))) == expected


def test_prettyjson_refuses_what_json_refuses_and_passes_odd_keys_to_it() -> None:
    looped: list[Any] = []
    looped.append(looped)
    for bad in ({"x": looped}, looped):
        with pytest.raises(ValueError, match="Circular reference"):
            prettyjson.dumps(bad)
    with pytest.raises(TypeError):
        prettyjson.dumps({"x": {1: 2, "a": 3}})  # keys json cannot sort
    for odd in ({1: 2, 3: [4]}, [{3: 1, 2: {"k": 0.5}}]):
        assert prettyjson.dumps(odd) == _reference(odd)


def test_config_yaml_one_key_at_a_time_is_one_dump_of_the_whole(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(
        (REPO / "configs" / "examples" / "quickstart.yaml").read_text()
        + "sweep:\n  grid: {seed: [1, 2, 3], params.lr: [0.1, 0.001]}\n"
    )
    members = load_experiment(tmp_path / "sweep.yaml", [], [], None, tmp_path).members
    shared = SharedFiles()
    for member in members * 2:
        data = member.spec.resolved()
        assert shared.config_yaml(data) == yaml.safe_dump(redact_data(data), sort_keys=True)
    assert len(shared.yaml_blocks) < len(members) * len(data)  # blocks members share were made once
    odd_ones: list[dict[str, Any]] = [{}, {"a": {1: "x"}}, {"b": [1, {"c": None}], "a": "long " * 30}]
    odd_ones.append({"env": {"API_TOKEN": "abc", "URL": "postgres://u:pw@host/db"}, "seed": 1})
    for odd in odd_ones:
        expected = yaml.safe_dump(redact_data(odd), sort_keys=True)
        assert shared.config_yaml(odd) == expected
    assert "abc" not in shared.config_yaml(odd_ones[-1]) and "pw@" not in expected


def _manifest(registry: Registry, name: str) -> tuple[Any, Manifest]:
    run = registry.create(name)
    history = [{"state": "created", "at": "t"}]
    manifest = Manifest.model_validate(
        {"run_id": run.id, "name": name, "state": "created", "state_history": history}
    )
    return run, manifest


def test_an_update_from_memory_keeps_what_another_process_wrote(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run, manifest = _manifest(registry, "m")
    manifests = SubmissionManifests()
    manifests.write(run, manifest)
    first = manifests.update(run, state="submitting")
    assert first is manifest and run.load_manifest().state == "submitting"  # nothing re-read
    # another process (cancel, status adopting a job) replaces the manifest under the run's lock
    run.update(state="cancelled", note="by someone else", unseen_since="2026-12-01T00:00:00+00:00")
    after = manifests.update(run, state="submitted", job_id="77")
    on_disk = run.load_manifest()
    assert on_disk.job_id == "77" and on_disk.unseen_since == "2026-12-01T00:00:00+00:00"
    assert [c.state for c in on_disk.state_history] == ["created", "submitting", "cancelled", "submitted"]
    assert after.to_data() == on_disk.to_data()
    events = [json.loads(line)["state"] for line in run.file("events.jsonl").read_text().splitlines()]
    assert events == ["submitting", "cancelled", "submitted"]


def test_an_update_encoding_only_what_changed_writes_the_whole_records_text(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run, manifest = _manifest(registry, "m")
    manifests = SubmissionManifests()
    manifests.write(run, manifest)
    assert manifests.known[run.path][2] is not None  # its text kept by member
    changes: list[dict[str, Any]] = [
        {"state": "submitting", "note": "n1"},
        {"state": "submitted", "job_id": "7_1", "scheduler_folder": "/x/scheduler"},
        {"unseen_since": "2026-12-01T00:00:00+00:00"},  # no state change: the field alone
        {"state": "cancelled", "note": "token ghp_" + "a" * 36},  # to redact: written whole
    ]
    for change in changes:
        manifests.update(run, **change)
        on_disk = run.manifest_path.read_text()
        assert on_disk == prettyjson.record_text(redact_data(run.load_manifest().to_data()))
        assert json.loads(on_disk) == redact_data(manifests.known[run.path][1].to_data())
    assert "ghp_" not in run.manifest_path.read_text()


def test_an_update_of_an_unknown_field_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run, manifest = _manifest(registry, "m")
    manifests = SubmissionManifests()
    manifests.write(run, manifest)
    before = run.manifest_path.read_text()
    with pytest.raises(TypeError, match="not_a_field"):
        manifests.update(run, state="submitting", not_a_field=1)
    assert run.manifest_path.read_text() == before
