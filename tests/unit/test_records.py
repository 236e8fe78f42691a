"""The run directory's records: every schema version ever written loads (golden files), round trips lose
and add nothing, a newer version is refused with a hint, a damaged record is reported and left alone.

The golden files under tests/golden/records/ are real records made by past clusterrun versions (see the
README there); add a directory when the writer changes what it writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from clusterrun.analysis.compare import REPRODUCED, compare
from clusterrun.cli.output import manifest_block, results_block, sweep_block
from clusterrun.errors import ClusterrunError, ExitStatus
from clusterrun.records import store
from clusterrun.records import summary as summaries
from clusterrun.records.models import (
    RECORDS,
    SCHEMA_VERSION,
    DamagedRecord,
    Manifest,
    RecordTooNew,
    Summary,
    SweepRecord,
    load,
)
from clusterrun.records.registry import Registry, Run
from clusterrun.services.status import refresh

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records"
FILES = sorted(GOLDEN.glob("v*/*/*/*.json"))
FIRST, BEFORE_WORKDIRS, WORKDIRS = (GOLDEN / "v1" / name for name in ("545a2ab", "3af1b09", "44c931b"))
GENERATIONS = [FIRST, BEFORE_WORKDIRS, WORKDIRS]


def _data(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _manifest(generation: Path, role: str) -> Manifest:
    return load(Manifest, _data(generation / role / "manifest.json"), role)


def _summary(generation: Path, role: str) -> Summary:
    return load(Summary, _data(generation / role / "summary.json"), role)


def test_there_are_golden_files_of_every_generation() -> None:
    assert len(FILES) >= 30
    for generation in GENERATIONS:
        assert (generation / "completed" / "manifest.json").is_file()
        assert (generation / "failed" / "summary.json").is_file()
    for generation in (BEFORE_WORKDIRS, WORKDIRS):
        assert (generation / "sweep" / "sweep.json").is_file()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(GOLDEN)) for p in FILES])
def test_every_golden_record_loads_and_round_trips_unchanged(path: Path) -> None:
    data = _data(path)
    assert data["schema_version"] == 1
    record = load(RECORDS[path.name], data, str(path))
    assert record.to_data() == data  # nothing lost, nothing added: an old record keeps its layout
    assert json.dumps(record.to_data(), sort_keys=True) == json.dumps(data, sort_keys=True)  # 1 stays 1
    assert not record.extra  # every field ever written is declared (and so documented)


def test_the_first_records_load_with_what_they_lack() -> None:
    manifest = _manifest(FIRST, "completed")
    assert manifest.state == "completed" and manifest.git.commit and manifest.job_id
    assert manifest.workdir == manifest.snapshot.path  # the first runs ran in the snapshot itself
    assert manifest.estimate is None and manifest.confirmation is None
    assert manifest.data_fingerprints is None and manifest.workdir_links == {}
    assert manifest.snapshot.digest == "" and manifest.git.dirty_submodules == []
    assert manifest.smoke is not None and manifest.smoke.ok and manifest.smoke.step_points == []
    assert _manifest(FIRST, "failed").smoke is not None and _manifest(FIRST, "failed").smoke.skipped  # type: ignore[union-attr]
    assert _manifest(FIRST, "dirty").git.patch_file == "git.patch"
    summary = _summary(FIRST, "completed")
    assert summary.success and summary.metrics["step"] == 200
    assert summary.efficiency is None and summary.artifacts_info is None
    failed = _summary(FIRST, "failed")
    assert failed.diagnosis is not None and failed.diagnosis.category == "unknown"
    assert failed.diagnosis.details == {} and failed.stderr_tail


def test_records_before_private_working_directories_load() -> None:
    manifest = _manifest(BEFORE_WORKDIRS, "completed")
    assert manifest.workdir == manifest.snapshot.path and manifest.snapshot.digest == ""
    assert manifest.estimate is not None and manifest.estimate.timing is not None
    assert manifest.confirmation is not None and manifest.confirmation.approved
    assert manifest.data_fingerprints is None
    assert manifest.smoke is not None and manifest.smoke.tested_in == manifest.run_id
    assert manifest.smoke.timing_run is None
    assert _manifest(BEFORE_WORKDIRS, "data").config.data == {"train": "data/train.csv"}
    failed = _summary(BEFORE_WORKDIRS, "failed")
    assert failed.diagnosis is not None and failed.diagnosis.details["log"] == "stderr.log"
    assert failed.logs.traceback and failed.artifacts_info is None
    assert failed.efficiency is not None and failed.efficiency.requested_seconds == 300
    smoke = _manifest(BEFORE_WORKDIRS, "smoke-failed").smoke
    assert smoke is not None and not smoke.ok and smoke.diagnosis is not None
    member = _manifest(BEFORE_WORKDIRS, "sweep-member")
    assert member.sweep and member.sweep_values == {"params.lr": 0.1}


def test_current_records_load() -> None:
    manifest = _manifest(WORKDIRS, "data")
    assert manifest.workdir == f"{manifest.run_dir}/work" and manifest.snapshot.digest
    assert manifest.workdir_links == {"data/train.csv": manifest.data_fingerprints["train"]["path"]}  # type: ignore[index]
    summary = _summary(WORKDIRS, "completed")
    assert summary.artifacts_info is not None and summary.artifacts_info.count == 1
    assert summary.artifacts == [f.path for f in summary.artifacts_info.files]


@pytest.mark.parametrize("generation", [BEFORE_WORKDIRS, WORKDIRS], ids=lambda p: p.name)
def test_sweep_records_load(generation: Path) -> None:
    record = load(SweepRecord, _data(generation / "sweep" / "sweep.json"), "sweep")
    assert record.state == "submitted" and len(record.members) == 2 and record.axes == ["params.lr"]
    assert {m.values["params.lr"] for m in record.members} == {0.1, 0.05}
    assert record.arrays and all(a.size >= 1 for a in record.arrays) and record.submissions
    assert record.estimate is not None and record.estimate.members == 2
    assert record.snapshot.reused is None  # a sweep's snapshot record has id and path only
    first = _manifest(generation, "sweep-member")
    block = sweep_block(record, first)
    assert record.sweep_id in block and "params.lr=0.1" in block
    assert f"Seed: {first.seed}" in block and "Resources: " in block
    # a swept seed or resource differs by member: the block does not show the first member's as everyone's
    record.axes = ["params.lr", "seed", "resources.mem"]
    block = sweep_block(record, first)
    assert "Seed: per member (an axis)" in block and "Resources (first member): " in block


@pytest.mark.parametrize("generation", GENERATIONS, ids=lambda p: p.name)
def test_the_blocks_render_every_generation(generation: Path) -> None:
    for role in ("completed", "failed", "dirty"):
        manifest = _manifest(generation, role)
        block = manifest_block(manifest)
        assert manifest.run_id in block and manifest.git.commit in block
        results = results_block(_summary(generation, role), manifest.run_dir)
        assert ("SUCCESS" in results) == (role != "failed")
    failed = results_block(_summary(generation, "failed"), "r")
    assert "Diagnosis: unknown:" in failed and "Sample larger than population" in failed


@pytest.mark.parametrize("generation", [BEFORE_WORKDIRS, WORKDIRS], ids=lambda p: p.name)
def test_a_golden_reproduction_compares_as_reproduced(generation: Path) -> None:
    original, copy = _manifest(generation, "completed"), _manifest(generation, "reproduction")
    assert copy.reproduces == original.run_id
    result = compare(
        original, _summary(generation, "completed"), {}, copy, _summary(generation, "reproduction"), {}
    )
    assert result.verdict == REPRODUCED, result.reason
    assert result.ignored_metrics == ["time"] and result.code == [] and result.config == []
    assert result.notes == []


def test_data_is_compared_from_fingerprints_and_older_records_say_they_have_none() -> None:
    old, new = _manifest(BEFORE_WORKDIRS, "data"), _manifest(WORKDIRS, "data")
    summary = _summary(WORKDIRS, "data")
    assert compare(new, summary, {}, new, summary, {}).notes == []
    notes = compare(old, summary, {}, new, summary, {}).notes
    assert notes == [f"data not compared: no data fingerprints in {old.run_id} (an older record)"]


def test_compare_still_takes_records_as_json_data() -> None:
    manifest = _data(WORKDIRS / "completed" / "manifest.json")
    summary = _data(WORKDIRS / "completed" / "summary.json")
    assert compare(manifest, summary, {}, manifest, summary, {}).verdict == REPRODUCED


# ------------------------------------------------------------------------------ a registry of golden runs


def _registry_of(tmp_path: Path, generation: Path) -> Registry:
    """The golden runs of a generation as a registry (run directories named after their ids)."""
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    for role in ("completed", "failed", "dirty"):
        manifest = _data(generation / role / "manifest.json")
        run_dir = registry.root / manifest["run_id"]
        run_dir.mkdir()
        for name in ("manifest.json", "summary.json"):
            shutil.copy(generation / role / name, run_dir / name)
    return registry


@pytest.mark.parametrize("generation", GENERATIONS, ids=lambda p: p.name)
def test_status_reads_old_registries_without_rewriting_them(tmp_path: Path, generation: Path) -> None:
    registry = _registry_of(tmp_path, generation)
    before = {p: p.read_bytes() for p in registry.root.glob("*/*.json")}
    report = refresh(registry, max_age=0)
    assert report.warnings == [] and report.queries == 0  # ended runs: nothing to ask the scheduler
    assert sorted(r.state for r in report.runs) == ["completed", "completed", "failed"]
    assert all(r.summary and r.summary["run_id"] == r.run_id for r in report.runs)
    assert {p: p.read_bytes() for p in registry.root.glob("*/*.json")} == before


# ------------------------------------------------------------------------------------ versions, damage


def _future(data: dict[str, Any]) -> dict[str, Any]:
    return data | {"schema_version": SCHEMA_VERSION + 1, "a_new_field": {"x": 1}}


@pytest.mark.parametrize("name", ["manifest.json", "summary.json", "sweep.json"])
def test_a_newer_schema_version_is_refused_with_a_hint(name: str) -> None:
    path = next(p for p in FILES if p.name == name)
    with pytest.raises(RecordTooNew) as info:
        load(RECORDS[name], _future(_data(path)), f"run x: {name}")
    assert f"run x: {name} was written by a newer clusterrun (schema_version 2" in info.value.message
    assert "upgrade clusterrun" in info.value.hint
    assert info.value.exit_status == ExitStatus.ENVIRONMENT


@pytest.mark.parametrize("version", [0, -1, "1", None, True, 1.5])
def test_an_invalid_schema_version_is_damage(version: object) -> None:
    with pytest.raises(DamagedRecord, match="invalid schema_version"):
        load(Manifest, {"schema_version": version}, "m")


def test_a_newer_manifest_is_an_error_for_one_run_and_a_warning_in_a_listing(tmp_path: Path) -> None:
    registry = _registry_of(tmp_path, WORKDIRS)
    run = next(registry.runs())
    future = json.dumps(_future(run.manifest()))
    run.manifest_path.write_text(future)
    with pytest.raises(ClusterrunError, match="newer clusterrun") as info:
        registry.get(run.id).load_manifest()
    assert "upgrade" in info.value.hint
    report = refresh(registry, max_age=0)
    assert [r.state for r in report.runs if r.run_id == run.id] == ["damaged"]
    assert any("newer clusterrun" in w and "upgrade" in w for w in report.warnings)
    assert run.manifest_path.read_text() == future  # left alone


def test_a_newer_summary_is_not_collected_again_over_it(tmp_path: Path) -> None:
    registry = _registry_of(tmp_path, WORKDIRS)
    run = next(registry.runs())
    future = json.dumps(_future(_data(run.file("summary.json"))))
    run.file("summary.json").write_text(future)
    with pytest.raises(RecordTooNew):
        summaries.load(run)
    report = refresh(registry, [run.id], max_age=0)
    assert report.runs[0].state == "damaged" and "newer clusterrun" in report.warnings[0]
    assert run.file("summary.json").read_text() == future


@pytest.mark.parametrize(
    ("change", "field"),
    [({"git": "main"}, "git"), ({"state_history": [{"state": 3}]}, "state_history.0.state")],
)
def test_a_manifest_that_does_not_match_its_model_is_damaged_and_left_alone(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    registry = _registry_of(tmp_path, WORKDIRS)
    run = next(registry.runs())
    text = json.dumps(run.manifest() | change)
    run.manifest_path.write_text(text)
    with pytest.raises(DamagedRecord) as info:
        run.load_manifest()
    assert f"manifest.json is damaged: {field}:" in info.value.message and info.value.hint
    report = refresh(registry, max_age=0)
    assert [r.state for r in report.runs if r.run_id == run.id] == ["damaged"]
    assert run.manifest_path.read_text() == text


def test_a_damaged_summary_is_collected_again_as_before(tmp_path: Path) -> None:
    run = Run(tmp_path / "r_20260101-000000")
    run.path.mkdir()
    run.file("summary.json").write_text('{"metrics": "not a mapping"}')
    assert summaries.load(run) is None and summaries.read(run) is None
    run.file("summary.json").write_text("{not json")
    assert summaries.load(run) is None


def test_unknown_fields_survive_every_writer(tmp_path: Path) -> None:
    run = Registry(tmp_path / "runs").create("exp")
    data = _data(WORKDIRS / "completed" / "manifest.json")
    data["git"]["signed_by"] = "someone"  # fields a newer clusterrun (same schema) or a tool added
    run.write_manifest(data | {"run_id": run.id, "team": "vision"})
    run.update(state="running", note="a note", node="n7")
    on_disk = _data(run.manifest_path)
    assert on_disk["team"] == "vision" and on_disk["git"]["signed_by"] == "someone"
    assert on_disk["state_history"][-1] == {
        "state": "running",
        "at": on_disk["state_history"][-1]["at"],
        "note": "a note",
    }
    assert {
        k: v for k, v in on_disk.items() if k not in ("state", "state_history", "node", "run_id", "team")
    } == {k: v for k, v in data.items() if k not in ("state", "state_history", "node", "run_id")}


def test_code_can_set_declared_fields_only() -> None:
    manifest = Manifest()
    with pytest.raises(AttributeError, match="Manifest has no field 'job'"):
        manifest.job = "42"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):  # assignments are validated
        manifest.state_history = "running"  # type: ignore[assignment]
    manifest.smoke = {"ok": True, "peak_rss_mb": 12.5}  # type: ignore[assignment]
    assert manifest.smoke is not None and manifest.smoke.peak_rss_mb == 12.5
    assert manifest.to_data() == {"smoke": {"ok": True, "peak_rss_mb": 12.5}}  # only what was set


def test_the_sweep_writer_refuses_undeclared_fields(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "exp-sweep_20260101-000000"
    sweep_dir.mkdir()
    store.write_sweep(sweep_dir, load(SweepRecord, _data(WORKDIRS / "sweep" / "sweep.json"), "sweep"))
    with pytest.raises(TypeError, match="arrayz not a SweepRecord field"):
        store.update_sweep(sweep_dir, arrayz=[])
    record = store.update_sweep(sweep_dir, state="not_submitted")
    assert record.state == "not_submitted" and store.read_sweep(sweep_dir).state == "not_submitted"
    with pytest.raises(ClusterrunError, match=r"has no sweep\.json"):
        store.read_sweep(tmp_path)


def test_the_seed_line_says_when_the_command_never_receives_the_seed() -> None:
    """`Seed: 42` alone would claim more than the record shows when the command has no {seed}: the
    program is seeded only if it reads $CLUSTERRUN_SEED itself."""

    def block(config: dict[str, object]) -> str:
        data = {"run_id": "r", "seed": 42, "config": {"name": "r", **config}}
        line = next(
            x for x in manifest_block(Manifest.model_validate(data)).splitlines() if x.startswith("Seed")
        )
        return line

    alone = "Seed: 42 (only as $CLUSTERRUN_SEED: the command has no {seed})"
    assert block({"command": ["python", "train.py"]}) == alone
    assert block({"command": ["python", "train.py", "--seed", "{seed}"]}) == "Seed: 42"
    assert block({"command": ["python", "train.py"], "env": {"SEED": "{seed}"}}) == "Seed: 42"
    # setup lines run as written, and {{seed}} is a literal brace: neither hands the seed over
    assert block({"command": ["python", "train.py"], "setup": ["export S={seed}"]}) == alone
    assert block({"command": ["python", "train.py", "--tag", "{{seed}}"]}) == alone


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        # a 1 s run that asked for an hour and 4G: both right-sized, with a margin
        (
            {"elapsed_seconds": 1.0, "requested_seconds": 3600, "max_rss_mb": 49, "requested_mem_mb": 4096},
            ["resources.time=00:01:00", "resources.mem=100M"],
        ),
        # about right: nothing to say
        (
            {
                "elapsed_seconds": 2000,
                "requested_seconds": 3600,
                "max_rss_mb": 3000,
                "requested_mem_mb": 4096,
            },
            [],
        ),
        # small requests anyway: nothing to say
        ({"elapsed_seconds": 1.0, "requested_seconds": 300, "max_rss_mb": 10, "requested_mem_mb": 500}, []),
        # requeued: its longest attempt counts, not the sum of its attempts
        (
            {"elapsed_seconds": 3000, "longest_attempt_seconds": 900, "requested_seconds": 7200},
            ["resources.time=00:25:00"],
        ),
    ],
)
def test_a_completed_run_that_used_a_fraction_of_its_request_says_what_would_do(
    used: dict[str, Any], expected: list[str]
) -> None:
    from clusterrun.cli.output import right_size_overrides
    from clusterrun.records.models import EfficiencyRecord

    assert right_size_overrides(EfficiencyRecord.model_validate(used)) == expected
    summary = _summary(WORKDIRS, "completed").model_copy(update={"efficiency": EfficiencyRecord(**used)})
    block = results_block(summary, "r")
    assert ("Right-size the next run of this config" in block) == bool(expected)
    failed = _summary(WORKDIRS, "failed").model_copy(update={"efficiency": EfficiencyRecord(**used)})
    assert "Right-size" not in results_block(failed, "r")  # a failed run's use says nothing of its need


def test_a_run_cancelled_in_the_queue_says_it_never_started(tmp_path: Path) -> None:
    """Cancelled while pending: no duration, no node, no log written: the block says so instead of
    pointing at log files that do not exist; cancelled after it started, the logs are named as always."""
    logs = {"stdout": str(tmp_path / "stdout.log"), "stderr": str(tmp_path / "stderr.log")}
    pending = Summary(run_id="r", state="cancelled", success=False, logs=logs)
    block = results_block(pending, str(tmp_path))
    assert "Status: FAILURE (cancelled before it started)" in block
    assert "Log File: (none: the job never started)" in block
    (tmp_path / "stdout.log").write_text("epoch 1\n")
    started = pending.model_copy(update={"duration_seconds": 8.0, "node": "vm"})
    block = results_block(started, str(tmp_path))
    assert "Status: FAILURE (cancelled)" in block and f"Log File: {tmp_path / 'stdout.log'}" in block


def test_right_sizing_never_goes_below_the_smoke_tests_peak() -> None:
    """A 0.7 s job's memory, sampled once a second, missed its two pool workers (38 MB); its smoke test
    had held 122 MB. The next run is sized from the larger: 200M, not 100M (OOM-killed on a cluster)."""
    from clusterrun.cli.output import right_size_overrides
    from clusterrun.records.models import EfficiencyRecord
    from clusterrun.services.sweeps import right_size

    used = EfficiencyRecord(elapsed_seconds=0.7, requested_seconds=600, max_rss_mb=38, requested_mem_mb=1024)
    assert right_size_overrides(used) == ["resources.time=00:01:00", "resources.mem=100M"]
    assert right_size_overrides(used, 122.0) == ["resources.time=00:01:00", "resources.mem=200M"]
    assert right_size_overrides(used, 30.0) == ["resources.time=00:01:00", "resources.mem=100M"]  # a floor
    assert right_size([used])["suggested_mem"] == "100M"
    assert right_size([used], None, 122.0)["suggested_mem"] == "200M"
