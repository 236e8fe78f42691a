"""Benchmark: submit a sweep of N members (default 1,000) to the real SLURM cluster and measure
- the number of sbatch calls (the target is 1: one job array),
- the wall time of the submission (smoke test, N run records, rendering, sbatch) and per member,
- the wall time of one `clusterrun status SWEEP_ID` refresh and its number of sacct calls,
beside the wall time of a single plain `sbatch --wrap true` measured in the same run (the baseline).

Run:  bash scripts/local-slurm.sh up && python bench/sweep_submit.py [--members 1000]
The sweep's jobs are cancelled afterwards, so the cluster is free again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sh(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    result = sh(argv, cwd, env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(argv[:6])} ...\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


def counting_shims(tmp: Path) -> tuple[dict[str, str], Path]:
    shims = tmp / "shims"
    shims.mkdir()
    log = tmp / "calls.log"
    for tool in ("sbatch", "sacct", "squeue"):
        real = shutil.which(tool)
        if real is None:
            sys.exit(f"{tool} not found: start the cluster with scripts/local-slurm.sh up")
        (shims / tool).write_text(f'#!/bin/sh\necho "{tool}" >> {log}\nexec {real} "$@"\n')
        (shims / tool).chmod(0o755)
    return dict(
        os.environ, PATH=f"{shims}:{os.environ['PATH']}", CLUSTERRUN_POLL_MAX_AGE="0", PYTHONPATH=str(REPO)
    ), log


def calls(log: Path, tool: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if line == tool) if log.exists() else 0


def make_project(root: Path, members: int) -> None:
    (root / "examples" / "quickstart").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "quickstart" / "train.py", root / "examples" / "quickstart" / "train.py")
    config = (REPO / "configs" / "examples" / "quickstart.yaml").read_text()
    (root / "bench.yaml").write_text(config + f"sweep:\n  grid: {{seed: {list(range(members))}}}\n")
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
        sh([*git, *args], cwd=root)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--baseline-repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="clusterrun-bench-"))
    env, log = counting_shims(tmp)
    project = tmp / "project"
    make_project(project, args.members)
    baseline_ids = []
    baseline = []
    for _ in range(args.baseline_repeats):
        seconds, out = timed(["sbatch", "--parsable", "--wrap", "true", "-o", "/dev/null"])
        baseline.append(seconds)
        baseline_ids.append(out.strip().split(";")[0])
    sbatch_once = statistics.median(baseline)
    log.unlink(missing_ok=True)
    cli = [sys.executable, "-m", "clusterrun"]
    submit_s, out = timed(
        [*cli, "submit", "bench.yaml", "--backend", "slurm", "--yes", "--json", "params.steps=5"],
        project,
        env,
    )
    record = json.loads(out)
    sweep_id = record["sweep_id"]
    sbatch_calls = calls(log, "sbatch")
    log.unlink(missing_ok=True)
    status_s, _ = timed([*cli, "status", sweep_id, "--json"], project, env)
    sacct_calls = calls(log, "sacct")
    arrays = [a["job_id"] for a in record["arrays"]]
    sh(["scancel", *arrays, *baseline_ids])
    n = len(record["members"])
    print(f"members                         {n}")
    print(f"sbatch calls for the sweep      {sbatch_calls}   (ratio to members: {sbatch_calls / n:.4f})")
    print(f"baseline: one sbatch --wrap     {sbatch_once * 1000:.0f} ms (median of {len(baseline)})")
    print(
        f"submit the whole sweep          {submit_s:.2f} s   = {submit_s / sbatch_once:.1f}x one sbatch, "
        f"{submit_s / n * 1000:.1f} ms per member"
    )
    print(
        f"N plain sbatch calls would take {n * sbatch_once:.1f} s (estimated from the baseline): "
        f"{n * sbatch_once / submit_s:.1f}x the sweep submission"
    )
    print(
        f"one status refresh              {status_s:.2f} s   = {status_s / sbatch_once:.1f}x one sbatch, "
        f"sacct calls: {sacct_calls}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
