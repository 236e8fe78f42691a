"""`status --tag T` reads each run's notes first and opens the manifests of the tagged runs only: on a
registry of 10,000 runs it read every manifest (2 s) to keep a handful. The runs shown are the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clusterrun.records.registry import Registry, Run
from clusterrun.services import listing
from clusterrun.services.notes import tag_runs
from tests.helpers import count_manifest_reads

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1" / "44c931b" / "completed"


def _completed(registry: Registry, index: int) -> Run:
    run_id = f"tagged_20261206-{index:06d}"
    shutil.copytree(GOLDEN, registry.root / run_id)
    for name in ("manifest.json", "summary.json"):
        path = registry.root / run_id / name
        if path.is_file():
            data = json.loads(path.read_text())
            data["run_id"] = run_id
            path.write_text(json.dumps(data))
    return registry.get(run_id)


def test_a_tag_filter_reads_only_the_tagged_runs_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runs").mkdir()
    registry = Registry(tmp_path / "runs")
    runs = [_completed(registry, i) for i in range(12)]
    tag_runs(runs[3], ["best"])
    tag_runs(runs[7], ["best", "other"])
    tag_runs(runs[9], ["other"])
    read = count_manifest_reads(monkeypatch)
    view = listing.status(registry, listing.StatusQuery(tags=["best"], limit=20))
    assert [r.run_id for r in view.report.runs] == [runs[7].id, runs[3].id]
    assert set(read) <= {runs[3].id, runs[7].id}, read  # the ten others: their notes only
    read.clear()
    both = listing.status(registry, listing.StatusQuery(tags=["best", "other"], limit=20))
    assert [r.run_id for r in both.report.runs] == [runs[7].id]
    assert set(read) <= {runs[7].id}, read
    # with a --where condition on the record, every run is read as before (its keys are checked)
    read.clear()
    where = listing.status(registry, listing.StatusQuery(tags=["best"], where=["seed>=0"], limit=20))
    assert [r.run_id for r in where.report.runs] == [runs[7].id, runs[3].id]
