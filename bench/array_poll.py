"""Benchmark: what a refresh of a big sweep, mostly done, asks of the scheduler. A watcher of a 1,000-member
sweep whose members run a few at a time refreshes every few seconds; before this, each refresh asked
accounting for the whole array (`sacct -j ARRAY`: the members that have not run yet have no record of
their own), so every task that had ended long ago came back with its steps, and slurmdbd looks up each
job's steps in a query of its own. Now the members that have not run are looked for in the controller's
queue (`squeue -t PENDING`) and accounting is asked only for the others (scheduler/slurm_poll.py).

The sweep's jobs are a real SLURM array of `true`: submitted held, `--ended N` of its tasks released (they
run and end), the rest held. Its run directories are clones of one real run (bench/synth.py): the ended
members' ends are recorded by a first refresh, then the refreshes are measured: `status SWEEP` with a
fresh poll each time, its scheduler calls timed by PATH shims, against the query every refresh made
before, `sacct -j ARRAY` (the same fields), timed alone. With BENCH_CODE=DIR another checkout's clusterrun
is measured (before and after). The array is cancelled afterwards.

Run:  bash scripts/local-slurm.sh up && python bench/array_poll.py [--members 1000] [--ended 950]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import median, scancel, sweep_arguments
from synth import clone_array, template_run

from clusterrun.scheduler.sacct import SACCT_FIELDS

REPO = Path(__file__).resolve().parents[1]
SWEEP = "synth-sweep_20251231-000000"
TOOLS = ("sacct", "squeue", "scontrol", "sinfo")
#: a shim that logs its tool, its wall time (s) and its -j argument's length in ids, then exits as the tool
SHIM = """#!/bin/bash
start=$(date +%s.%N)
{real} "$@"
code=$?
jobs=""; prev=""
for word in "$@"; do [ "$prev" = "-j" ] && jobs="$word"; prev="$word"; done
echo "{tool} $(echo "$(date +%s.%N) - $start" | bc) $(echo "$jobs" | tr ',' '\\n' | grep -c .)" >> {log}
exit $code
"""


def sh(argv: list[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout.strip()


def shims(tmp: Path) -> tuple[Path, Path]:
    directory, log = tmp / "shims", tmp / "calls.log"
    directory.mkdir()
    for tool in TOOLS:
        real = sh(["bash", "-c", f"command -v {tool}"])
        (directory / tool).write_text(SHIM.format(real=real, tool=tool, log=log))
        (directory / tool).chmod(0o755)
    return directory, log


def partly_done_array(members: int, ended: int) -> tuple[str, dict[str, str]]:
    """A held array of `members` tasks with its first `ended` released and ended (accounting has their
    ends), and its identity as a submit records it."""
    held = ["--parsable", "--hold", f"--array=0-{members - 1}", "--mem=10M", "-J", "synth", "-o", "/dev/null"]
    array = sh(["sbatch", *held, "--wrap", "true"]).split(";")[0]
    try:
        if ended:
            sh(["scontrol", "release", f"{array}_[0-{ended - 1}]"])
        print(f"  waiting for {ended} tasks of array {array} to end ...", flush=True)
        deadline = time.monotonic() + 900
        asked = ["sacct", "-X", "-n", "-P", "-j", array, "-o", "jobid,state,submit,cluster,jobname"]
        while True:
            lines = [line.split("|") for line in sh(asked).splitlines()]
            done = [fields for fields in lines if fields[1] == "COMPLETED"]
            if len(done) >= ended and lines:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(done)} of {ended} tasks of {array} ended within 900 s")
            time.sleep(2)
    except BaseException:
        scancel([array])
        raise
    _job, _state, submit, cluster, name = lines[0]
    return array, {"cluster": cluster, "submit_time": submit, "name": name}


def not_started(run: Path) -> None:
    """A clone made a member that has not run yet: no attempt recorded, submitted."""
    path = run / "manifest.json"
    data = json.loads(path.read_text())
    data["attempts"] = []
    data["state"] = "submitted"
    data["state_history"] = [h for h in data["state_history"] if h["state"] != "running"]
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def calls(log: Path) -> list[tuple[str, float, int]]:
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        tool, seconds, ids = line.split()
        out.append((tool, float(seconds), int(ids)))
    return out


def main() -> None:
    args = sweep_arguments(__doc__, 950, "tasks released (they run and end)")
    code = os.environ.get("BENCH_CODE", str(REPO))
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as tmp_name:
        tmp = Path(tmp_name)
        template = template_run(tmp)
        array, identity = partly_done_array(args.members, args.ended)
        try:
            root = tmp / "runs"
            ids = clone_array(template, root, array, args.members, identity, SWEEP)
            for run_id in ids[args.ended :]:
                not_started(root / run_id)
            directory, log = shims(tmp)
            env = dict(
                os.environ,
                PATH=f"{directory}:{os.environ['PATH']}",
                PYTHONPATH=code,
                CLUSTERRUN_POLL_MAX_AGE="0",  # a poll at each refresh
            )
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            status = [sys.executable, "-m", "clusterrun", "--runs-dir", str(root), "status", SWEEP, "--json"]
            sh(status, env)  # the first: the ended members' ends recorded
            before = ["sacct", "-n", "-P", "-D", "-o", ",".join(SACCT_FIELDS), "-j", array]
            ours: list[float] = []
            scheduler: list[float] = []
            theirs: list[float] = []
            asked: list[str] = []
            states: dict[str, int] = {}
            for _ in range(args.rounds):  # alternating: a noisy moment hits both
                log.unlink(missing_ok=True)
                started = time.perf_counter()
                view = json.loads(sh(status, env))
                ours.append(time.perf_counter() - started)
                made = calls(log)
                scheduler.append(sum(seconds for _tool, seconds, _ids in made))
                asked = [f"{tool} of {n} id(s)" for tool, _seconds, n in made]
                states = dict(Counter(member["state"] for member in view["members"]))
                started = time.perf_counter()
                lines = sh(before).count("\n") + 1
                theirs.append(time.perf_counter() - started)
        finally:
            scancel([array])
    print(
        f"a refresh of a {args.members:,}-member sweep, {args.ended} ended and recorded, "
        f"{args.members - args.ended} waiting (medians of {args.rounds}):\n"
        f"  `status SWEEP`: {median(ours):.3f} s, of which its scheduler calls {median(scheduler):.3f} s: "
        f"{', '.join(asked) or 'none'}\n"
        f"  the query each refresh made before, `sacct -j {array}` ({lines:,} lines): {median(theirs):.3f} s "
        f"({median(scheduler) / median(theirs):.2f}x)\n"
        f"  the members' states in the last refresh: {json.dumps(states)}"
    )


if __name__ == "__main__":
    main()
