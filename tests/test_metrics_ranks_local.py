"""metrics.ranks: all, for real: a 2-rank job on the local backend (submitit's LocalExecutor starts
tasks_per_node tasks, each a rank), its summary reporting every rank's metrics."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.helpers import cli, make_project, no_traceback

SCRIPT = """\
import json, os
rank = int(os.environ["RANK"])
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as out:
    out.write(json.dumps({"step": 1, "loss": 1.0 + rank}) + "\\n")
print(f"acc={0.5 + rank / 10}", flush=True)
"""

CONFIG = {
    "name": "allranks",
    "command": "python ranked.py",
    "smoke": {"timeout": 60},
    "resources": {"nodes": 1, "tasks_per_node": 2, "time": "00:05:00", "mem": "200M"},
    "metrics": {"ranks": "all", "patterns": {"acc": "acc=([0-9.]+)"}},
}


def test_a_two_rank_local_job_reports_every_ranks_metrics(tmp_path: Path) -> None:
    files = {"ranked.py": SCRIPT, "configs/allranks.yaml": yaml.safe_dump(CONFIG, sort_keys=False)}
    project = make_project(tmp_path / "proj", files)
    result = cli(
        ["submit", "configs/allranks.yaml", "--backend", "local", "--wait", "--json"], project, timeout=300
    )
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    run_dir = Path(data["run_dir"])
    assert (run_dir / "metrics.rank1.jsonl").is_file()  # rank 1 wrote beside rank 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["metrics"] == {"acc": 0.5, "loss": 1.0, "step": 1}  # the run's own: rank 0's
    assert summary["metrics_by_rank"] == {
        "0": {"acc": 0.5, "loss": 1.0, "step": 1},
        "1": {"acc": 0.6, "loss": 2.0, "step": 1},
    }
    assert summary["metrics_across_ranks"]["loss"] == {
        "min": 1.0,
        "mean": 1.5,
        "max": 2.0,
        "ranks": 2,
        "min_rank": 0,
        "max_rank": 1,
    }
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["metrics"]["ranks"] == "all"
