"""The reproduce verdict: tolerances, missing metrics, ignored metrics, config/env/code differences."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from clusterrun.analysis.compare import (
    DIFFERENT,
    DIVERGED,
    INCOMPLETE,
    NONDETERMINISTIC,
    REPRODUCED,
    compare,
    metric_diff,
)
from clusterrun.cli.tables import comparison_text


def _manifest(run_id: str, **config: Any) -> dict[str, Any]:
    base = {"params": {"lr": 0.1}, "seed": 42, "metrics": {"ignore": ["time"]}}
    base.update(config)
    return {"run_id": run_id, "config": base, "git": {"commit": "a" * 40, "dirty": False}}


def _summary(**metrics: float) -> dict[str, Any]:
    return {"success": True, "state": "completed", "metrics": metrics, "node": "n1"}


ENV = {"python": {"version": "3.11.7"}, "packages": {"numpy": "2.0.0"}, "host": "login1", "gpus": []}


def test_exact_match_reproduces_and_ignored_metrics_do_not_count() -> None:
    result = compare(
        _manifest("a"), _summary(loss=0.5, time=1.0), ENV, _manifest("b"), _summary(loss=0.5, time=9.0), ENV
    )
    assert result.verdict == REPRODUCED and [m.name for m in result.metrics] == ["loss"]
    assert result.ignored_metrics == ["time"] and result.config == [] and result.environment == []


def test_default_tolerance_is_exact_and_rtol_atol_loosen_it() -> None:
    a, b = _summary(loss=1.0), _summary(loss=1.0 + 1e-9)
    assert compare(_manifest("a"), a, ENV, _manifest("b"), b, ENV).verdict == DIVERGED
    assert compare(_manifest("a"), a, ENV, _manifest("b"), b, ENV, rtol=1e-6).verdict == REPRODUCED
    assert compare(_manifest("a"), a, ENV, _manifest("b"), b, ENV, atol=1e-6).verdict == REPRODUCED
    assert compare(_manifest("a"), a, ENV, _manifest("b"), b, ENV, atol=1e-12).verdict == DIVERGED


def test_metric_diff_numbers() -> None:
    d = metric_diff("acc", 0.8, 0.9, rtol=0.0, atol=0.0)
    assert d.abs_diff == pytest.approx(0.1) and d.rel_diff == pytest.approx(0.125) and not d.within
    zero = metric_diff("x", 0, 0.5, 0.0, 0.0)
    assert zero.rel_diff == math.inf and not zero.within
    assert metric_diff("x", math.nan, math.nan, 0, 0).within
    assert not metric_diff("x", 1.0, None, 0, 0).within


def test_runs_that_diverged_alike_reproduce_and_a_divergence_against_a_number_does_not() -> None:
    def diverged(**words: str) -> dict[str, Any]:
        return {**_summary(acc=0.5), "metrics_non_finite": words}

    same = compare(_manifest("a"), diverged(loss="nan"), ENV, _manifest("b"), diverged(loss="nan"), ENV)
    assert same.verdict == REPRODUCED and [m.name for m in same.metrics] == ["acc", "loss"]
    assert same.reason.endswith("(loss=nan in both: the divergence reproduced)")
    assert same.as_record()["metrics"][1] == {
        "name": "loss", "a": "nan", "b": "nan", "abs_diff": None, "rel_diff": None, "within": True
    }  # fmt: skip  # JSON has no NaN: the word
    assert "loss" in comparison_text(same.as_record()) and " nan " in comparison_text(same.as_record())
    other = compare(
        _manifest("a"), _summary(acc=0.5, loss=0.1), ENV, _manifest("b"), diverged(loss="inf"), ENV
    )
    assert other.verdict == DIVERGED and "loss" in other.reason
    inf = compare(_manifest("a"), diverged(loss="inf"), ENV, _manifest("b"), diverged(loss="inf"), ENV)
    assert inf.verdict == REPRODUCED
    assert not metric_diff("x", math.inf, -math.inf, 0, 0).within


def test_missing_metric_diverges_and_names_it() -> None:
    result = compare(
        _manifest("a"), _summary(loss=0.5, acc=0.9), ENV, _manifest("b"), _summary(loss=0.5), ENV
    )
    assert result.verdict == DIVERGED and "acc" in result.reason


def test_failed_or_unfinished_run_is_incomplete_not_reproduced() -> None:
    failed = {"success": False, "state": "failed", "metrics": {"loss": 0.5}}
    assert compare(_manifest("a"), _summary(loss=0.5), ENV, _manifest("b"), failed, ENV).verdict == INCOMPLETE
    assert compare(_manifest("a"), _summary(loss=0.5), ENV, _manifest("b"), None, ENV).verdict == INCOMPLETE
    assert compare(_manifest("a"), _summary(), ENV, _manifest("b"), _summary(), ENV).verdict == INCOMPLETE


def test_differences_in_config_environment_and_code_are_listed() -> None:
    env_b = {
        "python": {"version": "3.12.1"},
        "packages": {"numpy": "2.1.0", "torch": "2.3"},
        "host": "login2",
        "gpus": ["NVIDIA A100"],
    }
    b = _manifest("b", params={"lr": 0.2}, seed=1)
    b["git"] = {"commit": "b" * 40, "dirty": True}
    summary_b = _summary(loss=0.5) | {"node": "n7"}
    result = compare(_manifest("a"), _summary(loss=0.5), ENV, b, summary_b, env_b, patch_b="diff --git ...")
    assert ("params.lr", 0.1, 0.2) in result.config and ("seed", 42, 1) in result.config
    keys = [k for k, _a, _b in result.environment]
    assert keys == ["python", "package numpy", "package torch", "host", "gpus", "slurm node"]
    assert [k for k, _a, _b in result.code] == ["commit", "dirty", "patch"]
    assert result.verdict == REPRODUCED  # the metrics match; the differences explain nothing here


def _fp(value: str, sha: str, size: int = 10) -> dict[str, Any]:
    entry = {"size": size, "mtime": 1.5, "sha256": sha}
    return {"value": value, "kind": "file", "files": 1, "bytes": size, "hashed": True, "entries": {"": entry}}


def test_changed_data_is_named_by_path_in_the_record_and_the_divergence() -> None:
    a = _manifest("a", data={"train": "data/train.bin", "split": "train"})
    b = _manifest("b", data={"train": "data/train.bin", "split": "train"})
    a["data_fingerprints"] = {"train": _fp("data/train.bin", "1" * 64)}
    b["data_fingerprints"] = {"train": _fp("data/train.bin", "2" * 64)}
    result = compare(a, _summary(loss=0.5), ENV, b, _summary(loss=0.7), ENV)
    assert result.verdict == DIVERGED and result.config == [] and result.code == []
    assert result.data == [("data/train.bin", "content changed since the original run")]
    assert result.as_record()["data"] == [
        {"path": "data/train.bin", "change": "content changed since the original run"}
    ]
    assert result.reason.endswith("; data differs: data/train.bin: content changed since the original run")
    text = comparison_text(result.as_record())
    assert "Data differences:\n  data/train.bin: content changed since the original run" in text
    # the same data: no difference, and nothing added to the reason
    b["data_fingerprints"] = a["data_fingerprints"]
    same = compare(a, _summary(loss=0.5), ENV, b, _summary(loss=0.7), ENV)
    assert same.data == [] and "data" not in same.reason
    assert "Data differences: none" in comparison_text(same.as_record())


def test_data_path_change_and_older_records_without_fingerprints() -> None:
    a = _manifest("a", data={"train": "data/v1.bin"})
    b = _manifest("b", data={"train": "data/v2.bin"})
    a["data_fingerprints"] = {"train": _fp("data/v1.bin", "1" * 64)}
    b["data_fingerprints"] = {"train": _fp("data/v2.bin", "1" * 64)}
    result = compare(a, _summary(loss=0.5), ENV, b, _summary(loss=0.5), ENV)
    assert result.data == [("data.train", "path differs: data/v1.bin -> data/v2.bin")]
    assert result.verdict == REPRODUCED  # reported, but the metrics decide
    del a["data_fingerprints"]
    older = compare(a, _summary(loss=0.5), ENV, b, _summary(loss=0.5), ENV)
    assert older.data == [] and older.notes == [
        "data not compared: no data fingerprints in a (an older record)"
    ]
    plain = compare(_manifest("a"), _summary(loss=0.5), ENV, _manifest("b"), _summary(loss=0.5), ENV)
    assert plain.data == [] and plain.notes == []


@pytest.mark.parametrize(
    ("state", "job_id", "done"),
    [
        ("completed", "1", True),
        ("running", "1", False),
        ("not_submitted", "", True),
        ("smoke_failed", "", True),
        ("submitting", "", False),
        ("dry_run", "", True),
        ("unknown", "5", False),
        ("timeout", "5", True),
    ],
)
def test_which_runs_have_ended(state: str, job_id: str, done: bool) -> None:
    from clusterrun.services.status import RunStatus

    assert RunStatus("r", "n", state, job_id, "slurm").done is done


def test_divergence_with_nothing_recorded_different_points_at_the_seed() -> None:
    manifest = {"run_id": "a", "config": {"params": {"lr": 0.1}}, "git": {"commit": "c"}}
    summary_a = {"success": True, "metrics": {"loss": 1.0}}
    summary_b = {"success": True, "metrics": {"loss": 2.0}}
    result = compare(manifest, summary_a, {}, {**manifest, "run_id": "b"}, summary_b, {})
    assert result.verdict == DIVERGED and NONDETERMINISTIC in result.notes and result.unexplained
    other = {**manifest, "run_id": "b", "config": {"params": {"lr": 0.2}}}
    explained = compare(manifest, summary_a, {}, other, summary_b, {})
    assert NONDETERMINISTIC not in explained.notes and not explained.unexplained


def test_the_interpreter_the_job_ran_is_compared() -> None:
    from clusterrun.analysis.compare import environment_diff

    venv = {"python": {"version": "3.11.7", "executable": "/proj/.venv/bin/python"}}
    system = {"python": {"version": "3.11.7", "executable": "/usr/bin/python3"}}
    assert environment_diff(venv, system, "n1", "n1") == [
        ("python executable", "/proj/.venv/bin/python", "/usr/bin/python3")
    ]


def test_environment_is_the_jobs_own_when_it_recorded_one(tmp_path: Any) -> None:
    import json

    from clusterrun.records.registry import Run
    from clusterrun.services.compare import run_environment

    (tmp_path / "env.json").write_text(
        json.dumps({"python": {"executable": "/submit/python"}, "packages": {"a": "1"}})
    )
    (tmp_path / "job_env.json").write_text(json.dumps({"host": "node1"}))
    assert run_environment(Run(tmp_path))["packages"] == {"a": "1"}  # an older run: the submitting side
    probe = {
        "python": {"executable": "/proj/.venv/bin/python", "version": "3.12.1"},
        "packages": {"torch": "2.5"},
    }
    (tmp_path / "python_env.json").write_text(json.dumps(probe))
    env = run_environment(Run(tmp_path))
    assert env["python"]["executable"] == "/proj/.venv/bin/python" and env["packages"] == {"torch": "2.5"}
    assert env["host"] == "node1"


def test_runs_of_another_config_are_different_not_diverged() -> None:
    """`clusterrun compare` of two members of a sweep (seed 1 and 2) said DIVERGED, a reproduction's
    failure, under ORIGINAL and REPRODUCED headers: two configs giving two results is expected."""
    a, b = _summary(loss=0.1), _summary(loss=0.2)
    seed_1, seed_2 = _manifest("a", seed=1), _manifest("b", seed=2)
    result = compare(seed_1, a, ENV, seed_2, b, ENV)
    assert result.verdict == DIFFERENT and result.reason.startswith("the runs' config differs (seed)")
    assert not result.reproduces
    seed_2["reproduces"] = "a"  # a reproduction whose config changed (by hand): still DIVERGED
    again = compare(seed_1, a, ENV, seed_2, b, ENV)
    assert again.verdict == DIVERGED and again.reproduces


def test_runs_of_another_config_with_the_same_metrics_say_the_change_moved_none() -> None:
    """Two runs whose config differs and whose metrics match were REPRODUCED with nothing more said, as
    if one run had been run twice (a user trial: a weight decay changed in config_file.set that the
    script's loss does not use)."""
    a, b = _manifest("a"), _manifest("b", params={"lr": 0.2})
    result = compare(a, _summary(loss=0.1), ENV, b, _summary(loss=0.1), ENV)
    assert result.verdict == REPRODUCED
    said = "1 metric(s) match exactly, though the runs' config differs (params.lr): that change moved none"
    assert result.reason == said + " of them"
    same = compare(a, _summary(loss=0.1), ENV, _manifest("b"), _summary(loss=0.1), ENV)
    assert same.reason == "1 metric(s) match exactly"


def test_a_differing_param_that_names_files_shows_what_the_files_differ_by(tmp_path: Path) -> None:
    """Two sweep members over `params.config_path` (conf/base.yaml vs conf/big.yaml) differed by
    `hidden: 64` vs `128`, which the config table did not show: only the two file names."""
    from clusterrun.services.referenced import referenced_files

    store = tmp_path / ".snapshots"  # the registry's snapshot store: runs/.snapshots
    snap_a, snap_b = store / "a", store / "b"
    for snap, hidden in ((snap_a, 64), (snap_b, 64)):
        (snap / "conf").mkdir(parents=True)
        (snap / "conf" / "base.yaml").write_text(f"lr: 0.1\nhidden: {hidden}\n")
        (snap / "conf" / "big.yaml").write_text("lr: 0.1\nhidden: 128\n")
    (snap_a / "outside.yaml").write_text("x: 1\n")
    (tmp_path / "secret.yaml").write_text("token: x\n")
    (snap_a / "conf" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    config = [
        ("params.config_path", "conf/base.yaml", "conf/big.yaml"),
        ("params.lr", 0.1, 0.2),  # not a path
        ("params.other", "../outside.yaml", "conf/big.yaml"),  # never outside the snapshot
        ("params.missing", "conf/none.yaml", "conf/big.yaml"),
        ("params.linked", "conf/link.yaml", "conf/big.yaml"),  # a symlink out of the store: not read
        ("resources.partition", "conf/base.yaml", "conf/big.yaml"),  # not a param
    ]
    found = referenced_files(config, str(snap_a), str(snap_b), tmp_path)
    assert found == [
        {
            "key": "params.config_path",
            "a": "conf/base.yaml",
            "b": "conf/big.yaml",
            "diff": ["-hidden: 64", "+hidden: 128"],
            "more": 0,
        }
    ]
    same = referenced_files(
        [("params.config_path", "conf/big.yaml", "conf/big.yaml")], str(snap_a), str(snap_b), tmp_path
    )
    assert same == []  # the same content: nothing to show
    assert referenced_files(config, None, str(snap_b), tmp_path) == []  # a snapshot gone (gc): nothing read
    (snap_a / "conf" / "sql.txt").write_text("-- a comment\nselect 1\n")
    (snap_b / "conf" / "sql.txt").write_text("++ other\nselect 1\n")
    lines = referenced_files(
        [("params.q", "conf/sql.txt", "conf/sql.txt")], str(snap_a), str(snap_b), tmp_path
    )
    assert lines[0]["diff"] == ["--- a comment", "+++ other"]  # content lines, not mistaken for headers
    elsewhere = tmp_path / "elsewhere"  # a record naming a snapshot outside the store: not read
    (elsewhere / "conf").mkdir(parents=True)
    (elsewhere / "conf" / "base.yaml").write_text("hidden: 1\n")
    assert referenced_files(config[:1], str(elsewhere), str(snap_b), tmp_path) == []
    a = _manifest("a", params={"config_path": "conf/base.yaml"})
    b = _manifest("b", params={"config_path": "conf/big.yaml"})
    result = compare(a, _summary(loss=0.5), ENV, b, _summary(loss=0.7), ENV)
    result.referenced = found
    text = comparison_text(result.as_record())
    assert "params.config_path names files that differ (conf/base.yaml vs conf/big.yaml):" in text
    assert "\n    -hidden: 64\n    +hidden: 128\n" in text
