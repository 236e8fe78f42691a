"""Benchmark: `clusterrun site` on a registry of N runs (default 1,000) with P metric points each (1,000).

The registry is made here: half the runs are members of sweeps of 50, every run has a manifest, a summary,
a config.yaml, an env.json, a stdout.log and a metrics.jsonl of P lines (step, loss, acc), as real runs do.
Measured (the build function itself, as `clusterrun site --no-poll` runs it, with the CLI's text blocks):
- the first build (every page),
- a build when nothing changed,
- a build after 10 runs got new metric lines (as running jobs do),
and the size of the output.

Goal (issue 12): under 5 s the first time, under 0.5 s when nothing changed.
Run:  python bench/site_build.py [--runs 1000] [--points 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clusterrun.cli.output import manifest_block, results_block  # noqa: E402
from clusterrun.dashboard.build import Blocks, build  # noqa: E402
from clusterrun.records.models import as_manifest  # noqa: E402
from clusterrun.records.registry import Registry  # noqa: E402


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def make_run(root: Path, run_id: str, index: int, points: int, sweep: str | None, lr: float) -> None:
    run = root / run_id
    run.mkdir()
    config = {
        "name": "bench",
        "command": ["python", "train.py", "--lr", "{lr}"],
        "params": {"lr": lr, "steps": points, "batch_size": 32},
        "seed": 42,
        "metrics": {"file": "metrics.jsonl", "patterns": {}, "ignore": []},
        "resources": {"time": "01:00:00", "mem": "4G", "cpus_per_task": 2, "nodes": 1, "gpus": 0},
        "estimate": {"step_metric": "step", "steps_param": "steps"},
    }
    created = f"2026-11-{1 + index % 28:02d}T10:{index % 60:02d}:00+00:00"
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "run_dir": str(run),
        "name": "bench",
        "created": created,
        "config": config,
        "seed": 42,
        "command": ["python", "train.py", "--lr", str(lr)],
        "command_line": f"python train.py --lr {lr}",
        "git": {"commit": "0" * 40, "branch": "main", "dirty": False, "root": "/src"},
        "snapshot": {"id": "snap", "path": "/src/runs/.snapshots/snap"},
        "resources": config["resources"],
        "backend": "slurm",
        "job_id": str(1000 + index),
        "state": "completed" if index % 10 else "failed",
        "state_history": [{"state": "created", "at": created}, {"state": "running", "at": created}],
        **({"sweep": sweep, "sweep_values": {"params.lr": lr}} if sweep else {}),
    }
    loss = [1.0 / (1 + step * lr) for step in range(points)]
    with open(run / "metrics.jsonl", "w") as handle:
        for step in range(points):
            handle.write(json.dumps({"step": step, "loss": loss[step], "acc": 1 - loss[step]}) + "\n")
    summary = {
        "schema_version": 1,
        "run_id": run_id,
        "run_dir": str(run),
        "state": manifest["state"],
        "success": manifest["state"] == "completed",
        "duration_seconds": 600 + index,
        "metrics": {"step": points - 1, "loss": loss[-1], "acc": 1 - loss[-1]},
        "metrics_best": {"loss": {"mode": "min", "value": loss[-1], "step": points - 1, "final": loss[-1]}},
        "efficiency": {
            "elapsed_seconds": 600,
            "requested_seconds": 3600,
            "time_efficiency": 0.167,
            "max_rss_mb": 900,
            "requested_mem_mb": 4096,
            "mem_efficiency": 0.22,
        },
        "logs": {"stdout": str(run / "stdout.log"), "stderr": str(run / "stderr.log")},
    }
    _write(run / "manifest.json", manifest)
    _write(run / "summary.json", summary)
    _write(
        run / "env.json", {"python": {"version": "3.11.7"}, "host": "login1", "packages": {"numpy": "2.0"}}
    )
    (run / "config.yaml").write_text(json.dumps(config, indent=2) + "\n")
    (run / "stdout.log").write_text("".join(f"step {s} loss={loss[s]:.4f}\n" for s in range(0, points, 10)))
    (run / "stderr.log").write_text("")


def make_registry(root: Path, runs: int, points: int) -> None:
    root.mkdir()
    sweeps = runs // 2 // 50
    n = 0
    for s in range(sweeps):
        sweep_id = f"bench-sweep_20261101-{s:06d}"
        (root / sweep_id).mkdir()
        members = []
        for m in range(50):
            run_id = f"bench_20261101-{n:06d}"
            lr = round(0.001 * (m + 1), 4)
            make_run(root, run_id, n, points, sweep_id, lr)
            members.append({"run_id": run_id, "values": {"params.lr": lr}})
            n += 1
        _write(
            root / sweep_id / "sweep.json",
            {
                "schema_version": 1,
                "sweep_id": sweep_id,
                "name": "bench",
                "axes": ["params.lr"],
                "metric": "loss",
                "mode": "min",
                "members": members,
            },
        )
    while n < runs:
        make_run(root, f"bench_20261101-{n:06d}", n, points, None, 0.01)
        n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    blocks = Blocks(lambda data: manifest_block(as_manifest(data)), results_block)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        started = time.perf_counter()
        make_registry(root, args.runs, args.points)
        print(
            f"registry: {args.runs} runs x {args.points} points made in {time.perf_counter() - started:.1f} s"
        )
        registry = Registry(root)
        first = build(registry, blocks=blocks)
        print(f"first build:          {first.seconds:6.2f} s  ({len(first.written)} files)")
        again = build(registry, blocks=blocks)
        print(f"nothing changed:      {again.seconds:6.2f} s  ({len(again.written)} files)")
        for run in sorted(root.glob("bench_*"))[:10]:
            with open(run / "metrics.jsonl", "a") as handle:
                handle.write(json.dumps({"step": args.points, "loss": 0.001}) + "\n")
        grown = build(registry, blocks=blocks)
        print(f"10 runs grew:         {grown.seconds:6.2f} s  ({len(grown.written)} files)")
        du = subprocess.run(["du", "-sk", str(root / "site")], capture_output=True, text=True, check=True)
        data = subprocess.run(
            ["du", "-sk", str(root / "site" / "data")], capture_output=True, text=True, check=True
        )
        print(
            f"output: {int(du.stdout.split()[0]) / 1024:.1f} MB "
            f"({int(data.stdout.split()[0]) / 1024:.1f} MB of it the runs' metrics in data/)"
        )


if __name__ == "__main__":
    main()
