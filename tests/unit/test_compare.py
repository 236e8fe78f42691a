"""The reproduce verdict: tolerances, missing metrics, ignored metrics, config/env/code differences."""

from __future__ import annotations

import math
from typing import Any

import pytest

from clusterrun.compare import DIVERGED, INCOMPLETE, REPRODUCED, compare, metric_diff


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
    from clusterrun.status import RunStatus

    assert RunStatus("r", "n", state, job_id, "slurm").done is done
