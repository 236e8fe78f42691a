"""Benchmark: where the memory of a big first `status` grows, step by step, for this checkout and, with
`--against DIR`, another checkout of clusterrun (measured in the same run, alternating).

N ended runs (default 10,000: clones of a real finished run, bench/synth.py) that no status has seen yet,
members of one sweep, and a stand-in `sacct` first on PATH that answers COMPLETED for every job asked
about, as SLURM 22.05 prints it. The stand-in is what makes 10,000 ended jobs cheap to have (a real
cluster on this machine finishes about 90 array tasks a minute); `run_all.py --growth` measures the same
command against real accounting. Each try copies the registry afresh and runs `clusterrun status --limit
N` with the peak RSS of the parent (VmHWM) at each step, and the peak of the whole process tree (the
parent and its forked workers: what GNU time's %M reports).

Run:  python bench/status_memory.py [--runs 10000] [--repeat 3] [--against /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import clone, template_run

REPO = Path(__file__).resolve().parents[1]
SWEEP = "synth-sweep_20251231-000000"
ARRAY = "900000"

SACCT = f"""#!{sys.executable}
import sys
args = sys.argv[1:]
asked = args[args.index("-j") + 1].split(",") if "-j" in args else []
out = []
for item in asked:
    for task in [item] if "_" in item else [f"{{item}}_{{k}}" for k in range({{count}})]:
        out.append(f"{{task}}|COMPLETED|0:0|0|vm|2026-12-06T16:53:34|2026-12-06T16:53:34||00:00.001|None|"
                   "2026-12-06T16:53:33|local|wrap")
        out.append(f"{{task}}.batch|COMPLETED|0:0|0|vm|2026-12-06T16:53:34|2026-12-06T16:53:34||00:00.001||"
                   "2026-12-06T16:53:34|local|batch")
sys.stdout.write("\\n".join(out) + "\\n")
"""

#: runs clusterrun in-process and reports the parent's memory at each step (stderr: `step MB HWM-MB`)
PROBE = """
import runpy, sys
def memory():
    found = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            found[line[:5]] = int(line.split()[1]) // 1024
    return found["VmRSS"], found["VmHWM"]
def mark(step):
    sys.stderr.write("step|%s|%d|%d\\n" % ((step,) + memory()))
import clusterrun.services.fanout as fanout, clusterrun.services.listing as listing
import clusterrun.services.status as status, clusterrun.scheduler.slurm_poll as slurm_poll
names = iter(["the listing's looks", "the ends recorded"])
def fanout_map(func, items, step=None, _real=fanout.fanout_map):
    answer = _real(func, items, step)
    mark(next(names, "another fan-out"))
    return answer
def poll(*args, _real=slurm_poll.poll, **kwargs):
    answer = _real(*args, **kwargs)
    mark("sacct's answer parsed")
    return answer
listing.fanout_map = status.fanout_map = fanout_map
slurm_poll.poll = poll
mark("imports")
import atexit
atexit.register(lambda: mark("the rows kept, exit"))
sys.argv = ["clusterrun"] + sys.argv[1:]
runpy.run_module("clusterrun", run_name="__main__")
"""


def registry(tmp: Path, count: int) -> tuple[Path, Path]:
    """(the master registry, the path every try runs at: the records name it)."""
    template = template_run(tmp / "template")
    at = tmp / "runs"
    jobs = [f"{ARRAY}_{k}" for k in range(count)]
    who = {job: {"cluster": "local", "submit_time": "2026-12-06T16:53:33", "name": "wrap"} for job in jobs}
    clone(template, at, count, job_ids=jobs, identities=who, sweep=SWEEP)
    master = tmp / "runs-master"
    at.rename(master)
    return master, at


#: runs a command and reports the peak RSS of its process tree (its children: the command and its workers)
TREE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
sys.stderr.write("tree|%d\\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
sys.exit(code)
"""


def once(
    checkout: Path, master: Path, at: Path, count: int, env: dict[str, str]
) -> tuple[dict[str, int], int]:
    """The parent's peak RSS after each step (MB), and the peak of the process tree."""
    shutil.rmtree(at, ignore_errors=True)
    shutil.copytree(master, at, symlinks=True)
    status = [sys.executable, "-c", PROBE, "--runs-dir", str(at), "status", "--limit", str(count)]
    result = subprocess.run(
        [sys.executable, "-c", TREE, *status],
        env=dict(env, PYTHONPATH=str(checkout)),
        cwd=at.parent,  # not a checkout: `python -c` looks for clusterrun in its working directory first
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"status failed ({checkout}):\n{result.stderr[-2000:]}")
    steps, tree = {}, 0
    for line in result.stderr.splitlines():
        if line.startswith("step|"):
            _, step, _rss, hwm = line.split("|")
            steps[step] = int(hwm)
        elif line.startswith("tree|"):
            tree = int(line.split("|")[1])
    return steps, tree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout of clusterrun (the baseline)")
    args = parser.parse_args()
    checkouts = [REPO, *([args.against.resolve()] if args.against else [])]
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as name:
        tmp = Path(name)
        (tmp / "bin").mkdir()
        (tmp / "bin" / "sacct").write_text(SACCT.replace("{count}", str(args.runs)))
        (tmp / "bin" / "sacct").chmod(0o755)
        env = dict(os.environ, PATH=f"{tmp / 'bin'}:{os.environ['PATH']}", CLUSTERRUN_POLL_MAX_AGE="0")
        env.pop("CLUSTERRUN_RUNS_DIR", None)
        master, at = registry(tmp, args.runs)
        found: dict[Path, list[tuple[dict[str, int], int]]] = {c: [] for c in checkouts}
        for _ in range(args.repeat):
            for checkout in checkouts:  # alternating: a noisy moment hits both
                found[checkout].append(once(checkout, master, at, args.runs, env))
    for checkout in checkouts:
        tries = found[checkout]
        what = f"first `status --limit {args.runs}` of {args.runs:,} ended runs"
        print(f"{checkout}: {what} (medians of {len(tries)})")
        for step in tries[0][0]:
            print(f"  {step}: parent's peak so far {statistics.median(t[0][step] for t in tries):.0f} MB")
        tree = statistics.median(t[1] for t in tries)
        print(f"  the peak of the process tree (the parent or a worker; GNU time's %M): {tree:.0f} MB")


if __name__ == "__main__":
    main()
