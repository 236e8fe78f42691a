"""The job's view of its manifest (records/jobview.py): plain JSON, no models, the same record.

Promises: the job wrapper starts without pydantic (about 0.1 s of every job's start-up); what it writes is
the text the models would have written; a manifest the models refuse is one the job does not write to."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clusterrun.errors import ClusterrunError
from clusterrun.records import jobview, store
from clusterrun.records.models import AttemptRecord
from clusterrun.records.registry import Run

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "records" / "v1"
MANIFESTS = sorted(GOLDEN.glob("*/*/manifest.json"))


def test_the_job_wrapper_starts_without_the_record_models() -> None:
    code = (
        "import sys; import clusterrun.execution.jobrun, clusterrun.scheduler.local_task; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
        "or m == 'clusterrun.records.models'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _attempts() -> list[dict[str, Any]]:
    return [
        {"attempt": 1, "job_id": "7", "node": "n1", "started": "2026-12-01T10:00:00+00:00", "offsets": {}},
        {
            "attempt": 2,
            "job_id": "7",
            "node": "n2",
            "started": "2026-12-01T10:05:00+00:00",
            "ended": "2026-12-01T10:06:00+00:00",
            "seconds": 60.5,
            "returncode": 0,
            "reason": "completed",
            "cpu_seconds": 1.25,
            "peak_rss_mb": 30.0,
            "offsets": {"stdout.log": 12, "metrics.jsonl": 0},
            "last_step": None,
            "checkpoint": {"path": "checkpoints/last.pt", "size": 3, "at": "2026-12-01T10:06:00+00:00"},
            "signals": ["SIGUSR2"],
            "requeued_by": "clusterrun",
        },
    ]


@pytest.mark.parametrize("golden", MANIFESTS, ids=lambda p: f"{p.parent.parent.name}-{p.parent.name}")
def test_the_job_writes_attempts_as_the_models_would(tmp_path: Path, golden: Path) -> None:
    by_job, by_models = tmp_path / "job_20261201-100000", tmp_path / "models_20261201-100000"
    for run_dir in (by_job, by_models):
        run_dir.mkdir()
        shutil.copy(golden, run_dir / "manifest.json")
    before = json.loads(golden.read_text())
    jobview.write_attempts(by_job, _attempts())
    Run(by_models).update(attempts=[AttemptRecord.model_validate(a) for a in _attempts()])
    assert (by_job / "manifest.json").read_text() == (by_models / "manifest.json").read_text()
    after = json.loads((by_job / "manifest.json").read_text())
    assert after.pop("attempts") == _attempts()
    before.pop("attempts", None)
    assert after == before  # every other field as the submitter wrote it


def test_the_job_reads_the_fields_it_uses(tmp_path: Path) -> None:
    run_dir = tmp_path / "r_20261201-100000"
    run_dir.mkdir()
    manifest = {
        "schema_version": 1,
        "resources": {"time": "00:10:00"},
        "workdir_links": {"data": "/data"},
        "snapshot": {"path": "/reg/.snapshots/abc"},
        "config": {
            "resources": {"launcher": "torchrun"},
            "metrics": {"file": "out/metrics.jsonl"},
            "requeue": {"on": ["timeout"], "max_attempts": 2},
            "estimate": {"step_metric": "iter"},
        },
        "attempts": _attempts()[:1],
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    view = jobview.read(run_dir)
    assert view is not None
    assert view.resources == {"time": "00:10:00"}
    assert view.config_resources == {"launcher": "torchrun"}
    assert view.workdir_links == {"data": "/data"}
    assert view.snapshot_path == "/reg/.snapshots/abc"
    assert view.metrics_file == "out/metrics.jsonl"
    assert view.requeue == {"on": ["timeout"], "max_attempts": 2}
    assert view.estimate == {"step_metric": "iter"}
    assert view.attempts == _attempts()[:1]
    del manifest["config"]  # an old record: the defaults the models give
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    view = jobview.read(run_dir)
    assert view is not None and view.metrics_file == "metrics.jsonl" and view.requeue == {}


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        "[1, 2]",
        json.dumps({"schema_version": 99}),
        json.dumps({"attempts": {"1": {}}}),
        json.dumps({"attempts": [{"attempt": "one"}]}),
        json.dumps({"workdir_links": ["a"]}),
        json.dumps({"snapshot": {"path": 3}}),
        json.dumps({"config": {"metrics": {"file": ["x"]}}}),
        json.dumps({"config": {"requeue": "always"}}),
    ],
)
def test_a_manifest_the_models_refuse_is_one_the_job_neither_reads_nor_writes(
    tmp_path: Path, damage: str
) -> None:
    run_dir = tmp_path / "r_20261201-100000"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(damage)
    with pytest.raises(ClusterrunError):
        store.read_manifest(run_dir)  # refused by the models
    assert jobview.read(run_dir) is None
    with pytest.raises(Exception) as raised:
        jobview.write_attempts(run_dir, _attempts())
    assert "attempt is in events.jsonl" in str(getattr(raised.value, "hint", ""))
    assert (run_dir / "manifest.json").read_text() == damage  # left as it was
