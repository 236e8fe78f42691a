"""metrics.ranks: rank 0's metrics (the default), or every rank's too (metrics_by_rank and
metrics_across_ranks in the summary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from clusterrun.analysis import rank_metrics
from clusterrun.config.sections import Metrics
from clusterrun.records import summary as summaries
from clusterrun.records.registry import Registry, Run

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"


def _lines(path: Path, *rows: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _run(tmp_path: Path, ranks: str | None, patterns: dict[str, str] | None = None) -> tuple[Run, Any]:
    """A run made from a golden manifest, its config's metrics section set as given."""
    run = Registry(tmp_path / "runs").create("exp")
    data = json.loads((GOLDEN / "manifest.json").read_text())
    metrics = {"file": "metrics.jsonl", "patterns": patterns or {}, "ignore": []}
    if ranks is not None:
        metrics["ranks"] = ranks
    data["config"]["metrics"] = metrics
    data["scheduler_folder"] = ""  # the run's own (the golden one's lies outside this registry)
    run.write_manifest(data | {"run_id": run.id})
    return run, run.load_manifest()


def _three_ranks(run: Run) -> None:
    _lines(run.file("metrics.jsonl"), {"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5})
    _lines(run.file("metrics.rank1.jsonl"), {"step": 2, "loss": 0.7, "grad_norm": 3})
    _lines(run.file("metrics.rank2.jsonl"), {"step": 2, "loss": 0.3})
    with run.file("metrics.rank2.jsonl").open("a") as out:
        out.write('{"loss": 0.1')  # killed mid-write: skipped


@pytest.mark.parametrize(("given", "stored"), [(0, "0"), ("0", "0"), ("all", "all"), ("ALL", "all")])
def test_metrics_ranks_accepts_0_and_all(given: object, stored: str) -> None:
    assert Metrics.model_validate({"ranks": given}).ranks == stored


@pytest.mark.parametrize("bad", ["1", "every", True, None, 2])
def test_metrics_ranks_lists_the_choices_when_wrong(bad: object) -> None:
    with pytest.raises(ValidationError, match="use '0' or 'all'"):
        Metrics.model_validate({"ranks": bad})


def test_the_default_resolves_and_hashes_as_before() -> None:
    assert "ranks" not in Metrics().model_dump() and Metrics(ranks="all").model_dump()["ranks"] == "all"


def test_by_rank_reads_each_ranks_file_and_skips_a_torn_line(tmp_path: Path) -> None:
    run, _ = _run(tmp_path, "all")
    _three_ranks(run)
    per_rank = rank_metrics.by_rank(run.path, "metrics.jsonl", {}, {"loss": 0.5, "step": 2})
    assert per_rank == {
        "0": {"loss": 0.5, "step": 2},
        "1": {"grad_norm": 3, "loss": 0.7, "step": 2},
        "2": {"loss": 0.3, "step": 2},
    }
    spread = rank_metrics.across(per_rank)
    assert spread["loss"] == {
        "min": 0.3,
        "mean": pytest.approx(0.5),
        "max": 0.7,
        "ranks": 3,
        "min_rank": 2,
        "max_rank": 1,
    }
    assert spread["grad_norm"]["ranks"] == 1


def test_a_planted_symlink_is_not_read(tmp_path: Path) -> None:
    run, _ = _run(tmp_path, "all")
    secret = tmp_path / "secret.jsonl"
    _lines(secret, {"token": 42})
    run.file("metrics.rank1.jsonl").symlink_to(secret)
    assert rank_metrics.by_rank(run.path, "metrics.jsonl", {}, {"loss": 1}) == {"0": {"loss": 1}}


def test_the_summary_reports_every_rank_with_metrics_ranks_all(tmp_path: Path) -> None:
    run, manifest = _run(tmp_path, "all", {"acc": r"acc=([0-9.]+)"})
    _three_ranks(run)
    run.file("stdout.log").write_text("acc=0.8\n")
    run.file("stdout.rank3.log").write_text("acc=0.6\nacc=0.65\n")  # rank 3 logged to stdout only
    summary = summaries.collect(run, manifest, {"state": "completed"}).to_data()
    assert summary["metrics"] == {"acc": 0.8, "loss": 0.5, "step": 2}  # the run's: rank 0's
    assert sorted(summary["metrics_by_rank"]) == ["0", "1", "2", "3"]
    assert summary["metrics_by_rank"]["3"] == {"acc": 0.65}
    assert summary["metrics_by_rank"]["1"]["loss"] == 0.7
    assert summary["metrics_across_ranks"]["acc"]["min_rank"] == 3
    assert summary["metrics_across_ranks"]["loss"]["max"] == 0.7
    summaries.write(run, summary)
    assert summaries.read(run) == summary  # written and read back unchanged


def test_a_ranks_metrics_logged_to_stderr_are_read(tmp_path: Path) -> None:
    """A rank that logs with Python's logging (stderr.rank<R>.log): read there, as rank 0's are."""
    run, manifest = _run(tmp_path, "all", {"acc": r"\bacc=([0-9.]+)"})
    run.file("stdout.log").write_text("acc=0.8\n")
    run.file("stdout.rank1.log").write_text("")
    run.file("stderr.rank1.log").write_text("INFO:train:acc=0.55\nINFO:train:acc=0.6\n")
    summary = summaries.collect(run, manifest, {"state": "completed"}).to_data()
    assert summary["metrics_by_rank"]["1"] == {"acc": 0.6}


@pytest.mark.parametrize("ranks", [None, "0"])
def test_by_default_only_rank_0s_metrics_are_reported(tmp_path: Path, ranks: str | None) -> None:
    run, manifest = _run(tmp_path, ranks)
    _three_ranks(run)
    summary = summaries.collect(run, manifest, {"state": "completed"}).to_data()
    assert summary["metrics"] == {"loss": 0.5, "step": 2}
    assert "metrics_by_rank" not in summary and "metrics_across_ranks" not in summary


def test_a_single_process_run_gets_no_per_rank_fields(tmp_path: Path) -> None:
    run, manifest = _run(tmp_path, "all")
    _lines(run.file("metrics.jsonl"), {"loss": 0.2})
    summary = summaries.collect(run, manifest, {"state": "completed"}).to_data()
    assert summary["metrics"] == {"loss": 0.2} and "metrics_by_rank" not in summary
