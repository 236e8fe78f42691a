"""Benchmark: one refresh of a watch of a 1,000-member sweep, as `status --watch` (and `submit --wait`)
makes them, in one process: every member's manifest read and validated again at each refresh (as every
refresh did before) against a watch's later refreshes (settled members carried from the refresh before,
unchanged manifests kept: services/status.py `wait`, records/manifest_memo.py), alternating, CPU and
wall time each; the sacct calls are the same (one per refresh).

The sweep's jobs are a real SLURM array, held (they never start), with `--ended N` of them cancelled (an
ended member is settled after its first refresh); its run directories are clones of one real run
(bench/synth.py). The array is cancelled afterwards.

Run:  bash scripts/local-slurm.sh up && python bench/watch_refresh.py [--members 1000] [--ended 250]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import scancel, sweep_arguments
from synth import clone_array, template_run

REPO = Path(__file__).resolve().parents[1]
SWEEP = "synth-sweep_20251231-000000"

DRIVER = """
import json, sys, time
from pathlib import Path
from clusterrun.records.manifest_memo import ManifestMemo
from clusterrun.records.registry import Registry
from clusterrun.services.listing import expand_ids
from clusterrun.services.status import refresh

registry = Registry(Path(sys.argv[1]))
ids = expand_ids(registry, [sys.argv[2]])
rounds = int(sys.argv[3])
refresh(registry, ids)  # the first: every ended member's end recorded, every module imported
memo, done = ManifestMemo(), {}
report = refresh(registry, ids, done=done, memo=memo)
done = {r.run_id: r for r in report.runs if r.run_id in report.settled}
out = {"every": [], "watch": [], "reads": []}
for _ in range(rounds):  # alternating: a noisy moment hits both
    for kind in ("every", "watch"):
        wall, cpu = time.perf_counter(), time.process_time()
        if kind == "every":
            refresh(registry, ids)
        else:
            before = memo.reads
            report = refresh(registry, ids, done=done, memo=memo)
            done = {r.run_id: r for r in report.runs if r.run_id in report.settled}
            out["reads"].append(memo.reads - before)
        out[kind].append((time.perf_counter() - wall, time.process_time() - cpu))
print(json.dumps(out))
"""


def sh(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def held_array(members: int) -> tuple[str, dict[str, str]]:
    """A held job array of `members` tasks (they never run), and its identity as a submit records it."""
    held = ["--parsable", "--hold", f"--array=0-{members - 1}", "-J", "synth", "-o", "/dev/null"]
    array = sh(["sbatch", *held, "--wrap", "true"]).split(";")[0]
    asked = ["sacct", "-X", "-n", "-P", "-j", array, "-o", "jobid,submit,cluster,jobname"]
    for _ in range(60):  # accounting records a submission a moment later
        lines = sh(asked).splitlines()
        if lines:
            break
        time.sleep(0.5)
    else:
        scancel([array])
        raise SystemExit(f"accounting does not know job {array} (sacct -j {array})")
    _job, submit, cluster, name = lines[0].split("|")
    return array, {"cluster": cluster, "submit_time": submit, "name": name}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    args = sweep_arguments(__doc__, 250, "members cancelled before the watch")
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as tmp:
        template = template_run(Path(tmp))
        array, identity = held_array(args.members)
        try:
            jobs = [f"{array}_{i}" for i in range(args.members)]
            if args.ended:
                sh(["scancel", *jobs[: args.ended]])
            root = Path(tmp) / "runs"
            clone_array(template, root, array, args.members, identity, SWEEP)
            env = dict(os.environ, PYTHONPATH=str(REPO), CLUSTERRUN_POLL_MAX_AGE="0")  # sacct each refresh
            argv = [sys.executable, "-c", DRIVER, str(root), SWEEP, str(args.rounds)]
            out = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout)
        finally:
            scancel([array])
    every = [median([t[i] for t in out["every"]]) for i in (0, 1)]
    watch = [median([t[i] for t in out["watch"]]) for i in (0, 1)]
    print(
        f"a refresh of a {args.members:,}-member sweep ({args.ended} ended, the rest pending), medians of "
        f"{args.rounds}:\n"
        f"  every manifest read again: {every[1]:.3f} s CPU, {every[0]:.3f} s wall\n"
        f"  a watch's later refresh:   {watch[1]:.3f} s CPU, {watch[0]:.3f} s wall "
        f"({watch[1] / every[1]:.2f}x the CPU; manifests read: {out['reads']})"
    )


if __name__ == "__main__":
    main()
