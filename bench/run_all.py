"""Every row of issue 13's table, each beside a floor measured in the same run (medians of --repeat
tries), with the number of scheduler calls (counted by shims on PATH); writes bench/RESULTS.md.

Rows that talk to SLURM use the running cluster (bash scripts/local-slurm.sh up); the jobs they
submit are cancelled afterwards. Registries are synthesised from one run made by the real CLI
(bench/synth.py).

Run:  python bench/run_all.py [--quick] [--growth [--sizes 100,1000,10000] [--growth-rows first-status,...]]
                               [--only sweep,help,...] [--out bench/RESULTS.md]
  BENCH_CODE=DIR  measures the clusterrun in DIR (another checkout, e.g. `git archive` of an older commit
            unpacked, with templates/ beside its clusterrun/) instead of this one: before and after
  --quick   smaller sizes (sweep of 200, 200 finished runs, a registry of 1,000): about 3 minutes
  --growth  the registry, sweep and first-status rows at 100, 1,000 and 10,000 runs as well (a sweep of
            10,000 goes to an isolated cluster of its own, and the first status of 10,000 ended runs to
            one with accounting of its own that ends their jobs in minutes: scripts/isolated-slurm.sh);
            --growth-rows measures only some of them (wide-status, dry-run, sweep, first-status)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLI, REPO, BenchFailed, Shims, make_project, median, run, scancel
from synth import clone, template_run

SLEEP_CONFIG = """\
name: {name}
command: sleep {{duration}}
params: {{duration: {duration}}}
smoke: {{params: {{duration: 0}}, timeout: 60}}
resources: {{time: "00:05:00", nodes: 1, cpus_per_task: 1, mem: 100M, gpus: 0}}
"""
TRUE_CONFIG = """\
name: true-cmd
command: "true"
resources: {time: "00:05:00", nodes: 1, cpus_per_task: 1, mem: 100M, gpus: 0}
"""


@dataclass
class Row:
    measure: str
    figure: str
    floor: str
    ratio: str
    goal: str
    calls: str = "0"


@dataclass
class Ctx:
    tmp: Path
    shims: Shims
    repeat: int
    quick: bool
    template: Path | None = None
    jobs: list[str] = field(default_factory=list)  # every SLURM job submitted: cancelled at the end

    def cancel(self) -> None:
        scancel(self.jobs)
        self.jobs.clear()

    def env(self, **extra: str) -> dict[str, str]:
        return self.shims.env(**extra)

    def get_template(self) -> Path:
        if self.template is None:
            self.template = template_run(self.tmp / "template")
        return self.template


def _calls(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {tool}" for tool, n in sorted(counts.items())) or "0"


def _ms(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def timed_median(ctx: Ctx, action: Callable[[], float]) -> float:
    return median([action() for _ in range(ctx.repeat)])


# --- rows ----------------------------------------------------------------------------------------------


def row_help(ctx: Ctx) -> list[Row]:
    env = ctx.env()
    floor = timed_median(ctx, lambda: run([sys.executable, "-c", "import typer"], env=env).seconds)
    rows = []
    for args in (["--help"], ["status", "--help"]):
        seconds = timed_median(ctx, lambda a=args: run([*CLI, *a], ctx.tmp, env).seconds)  # type: ignore[misc]
        rows.append(
            Row(
                f"`clusterrun {' '.join(args)}`",
                _ms(seconds),
                f"`import typer`: {_ms(floor)}",
                f"{seconds / floor:.1f}x",
                "<= 2x",
            )
        )
    return rows


def _sweep_project(ctx: Ctx, members: int) -> Path:
    if (ctx.tmp / f"sweep-{members}").exists():  # the same sweep, measured again (growth)
        return ctx.tmp / f"sweep-{members}"
    config = (REPO / "configs" / "examples" / "quickstart.yaml").read_text()
    return make_project(
        ctx.tmp / f"sweep-{members}",
        {"sweep.yaml": config + f"sweep:\n  grid: {{seed: {list(range(members))}}}\n"},
    )


MAP_ARRAY = """
import sys, submitit
n, folder = int(sys.argv[1]), sys.argv[2]
ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
# held: its 1,000 tasks would otherwise run on this machine while clusterrun's sweep is measured
ex.update_parameters(timeout_min=5, mem_gb=0.1, cpus_per_task=1, slurm_additional_parameters={"hold": True})
jobs = ex.map_array(abs, range(n))
print(jobs[0].job_id.split("_")[0])
"""


#: The files the run-directory contract asks of each member of a sweep, alone: a hidden directory with its
#: .lock, manifest.json and events.jsonl made in place (sizes as a quickstart member's), env.json and
#: sbatch.sh linked, renamed into place; the members' config.yaml and command.sh in the sweep's two member
#: files (records/memberfiles.py); then the job id: the manifest replaced (a temporary file and a rename)
#: and its event appended. Creating a file is most of it on most disks.
MEMBER_FLOOR = """
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(root)
sizes = {".lock": 0, "manifest.json": 5670, "events.jsonl": 450}
shared = {}
for name in ("env.json", "sbatch.sh"):
    shared[name] = os.path.join(root, name)
    with open(shared[name], "w") as handle:
        handle.write("x" * 2000)
with open(os.path.join(root, "member-files.txt"), "wb") as handle:
    handle.write(b"x" * (990 + 2760) * count)
with open(os.path.join(root, "member-files.json"), "wb") as handle:
    handle.write(b"x" * 90 * count)
for i in range(count):
    hidden = os.path.join(root, f".member-{i}.new")
    os.mkdir(hidden, 0o700)
    for name, size in sizes.items():
        fd = os.open(os.path.join(hidden, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x" * size)
        os.close(fd)
    os.link(shared["env.json"], os.path.join(hidden, "env.json"))
    os.rename(hidden, os.path.join(root, f"member-{i}"))
for i in range(count):
    final = os.path.join(root, f"member-{i}")
    tmp = os.path.join(final, ".manifest.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"x" * 5700)
    os.close(fd)
    os.replace(tmp, os.path.join(final, "manifest.json"))
    fd = os.open(os.path.join(final, "events.jsonl"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"x" * 100)
    os.close(fd)
    os.link(shared["sbatch.sh"], os.path.join(final, "sbatch.sh"))
"""


def row_sweep(ctx: Ctx, members: int | None = None) -> list[Row]:
    """A sweep of `members` (default 1,000) submitted to the main cluster, or, past what its queue holds
    twice over (MaxJobCount 20,000; cancelled jobs stay 5 minutes), to an isolated cluster of its own
    (same machine and SLURM; MaxJobCount 100,000, MinJobAge 2 s), tried once."""
    members = members or (200 if ctx.quick else 1000)
    if members <= 2000:
        return _row_sweep(ctx, members, {}, ctx.repeat)
    conf = [f"MaxArraySize={members + 1}", "MaxJobCount=100000", "MinJobAge=2"]
    return _on_isolated_cluster(
        f"an isolated cluster for a sweep of {members:,}",
        "an isolated cluster, tried once",
        lambda env: _row_sweep(ctx, members, env, 1),
        "sweep",
        accounting="none",
        conf=conf,
    )


def _on_isolated_cluster(
    doing: str, where: str, measure: Callable[[dict[str, str]], list[Row]], name: str, **cluster: Any
) -> list[Row]:
    """`measure(env)` on an isolated cluster made for it and removed after it (tests/clusters.py:
    scripts/isolated-slurm.sh up/down); each row says `where` it was measured."""
    sys.path.insert(0, str(REPO / "tests"))
    from clusters import isolated_cluster

    print(f"  {doing} ...", flush=True)
    with isolated_cluster(name, **cluster) as made:
        rows = measure(made.env)
    for row in rows:
        row.measure += f" ({where})"
    return rows


def _row_sweep(ctx: Ctx, members: int, cluster: dict[str, str], repeat: int) -> list[Row]:
    env = ctx.env(**cluster)
    floors, ours, calls, files, peaks = [], [], {}, [], []
    for attempt in range(repeat):
        folder = ctx.tmp / f"map-array-{members}-{attempt}"
        result = run([sys.executable, "-c", MAP_ARRAY, str(members), str(folder)], env=env)
        floors.append(result.seconds)
        scancel([result.stdout.strip()], env)
        shutil.rmtree(folder, ignore_errors=True)
        project = _sweep_project(ctx, members) if attempt == 0 else ctx.tmp / f"sweep-{members}"
        ctx.shims.reset()
        argv = [*CLI, "submit", "configs/sweep.yaml", "--backend", "slurm", "--yes", "--json"]
        # held, as the floor's array is: on a cluster the members run on compute nodes; here they would
        # start on this machine's two cores while the submission is still recording them
        held = [*argv, "--force", "params.steps=5", "resources.extra.hold=true"]
        result = run(held, project, env, memory=True)
        calls = ctx.shims.counts()
        ours.append(result.seconds)
        peaks.append(result.peak_mb)
        scancel([a["job_id"] for a in json.loads(result.stdout)["arrays"]], env)
        target = ctx.tmp / f"member-floor-{attempt}"
        files.append(run([sys.executable, "-c", MEMBER_FLOOR, str(target), str(members)], env=env).seconds)
        shutil.rmtree(target)
    floor, seconds, made = median(floors), median(ours), median(files)
    return [
        Row(
            f"submit a {members:,}-member sweep (1 sbatch)",
            f"{_ms(seconds)}, {median(peaks):.0f} MB",
            f"submitit `map_array` of {members:,}: {_ms(floor)} (making the {members:,} member directories "
            f"the run-directory contract asks for, alone, on this disk: {_ms(made)}, "
            f"{(floor + made) / floor:.1f}x)",
            f"{seconds / floor:.1f}x",
            "<= 3x",
            _calls(calls),
        )
    ]


def _finished_job_ids(count: int, env: dict[str, str] | None = None) -> list[str]:
    """`count` distinct finished SLURM jobs from accounting; an array of `true` makes up a shortfall.
    Their identities (cluster, submit time, name) are in IDENTITIES: a run records its job's at submit.
    `env`: another cluster's (SLURM_CONF), else the main one's."""

    def known() -> list[str]:
        out = subprocess.run(
            ["sacct", "-a", "-X", "-n", "-P", "-o", "jobid,state,submit,cluster,jobname", "-S", "2020-01-01"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        found, partial = [], set()
        for line in out.splitlines():
            job_id, state, submit, cluster, name = line.split("|", 4)
            if state == "COMPLETED":
                IDENTITIES[job_id] = {"cluster": cluster, "submit_time": submit, "name": name}
                found.append(job_id)
            else:  # an array with a task that did not complete (or a pending range) is not taken
                partial.add(job_id.split("_", 1)[0])
        return _whole_arrays([i for i in found if i.split("_", 1)[0] not in partial], count)

    found = known()
    short = count - len(found)
    if short > 0:
        sbatch = ["sbatch", "--parsable", f"--array=0-{short - 1}", "--mem=10M", "-o", "/dev/null"]
        job = subprocess.run(
            [*sbatch, "--wrap", "true"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        print(f"  waiting for {short} trivial array tasks (job {job}) to make {count} finished jobs ...")
        squeue = ["squeue", "-h", "-j", job]
        while subprocess.run(squeue, capture_output=True, text=True, env=env).stdout.strip():
            time.sleep(2)
        found = known()
        waited = 0
        while len(found) < count and waited < 120:  # accounting records the last ends a little later
            time.sleep(2)
            waited += 2
            found = known()
        if len(found) < count:
            raise BenchFailed(f"accounting knows {len(found)} finished jobs, {count} needed (sacct -a -X)")
    return found


def _whole_arrays(found: list[str], count: int) -> list[str]:
    """Up to `count` of the finished jobs `found` (as sacct lists them: oldest first; every task of their
    arrays completed), newest submissions first, each submission whole. A sweep's first status asks
    accounting for every array its runs belong to (a pending task has no record of its own, only its
    array), so runs that were a few tasks of a far larger array would read that whole array's records
    (a 6,500-task one: 1.7 s of sacct for 100 runs), which is not the first status of a sweep of
    `count` members."""
    by_array: dict[str, list[str]] = {}
    for job_id in found:
        by_array.setdefault(job_id.split("_", 1)[0], []).append(job_id)
    chosen: list[str] = []
    for array in reversed(list(by_array)):
        tasks = by_array[array]
        if len(chosen) + len(tasks) <= count:
            chosen = tasks + chosen
        if len(chosen) == count:
            break
    return chosen


IDENTITIES: dict[str, dict[str, str]] = {}

SACCT_FLOOR = """
import sys, subprocess
import clusterrun.services.listing
ids = open(sys.argv[1]).read().split()
fields = "jobid,state,exitcode,elapsed,nodelist"
argv = ["sacct", "-n", "-P", "-X", "-j", ",".join(ids), "-o", fields]
subprocess.run(argv, capture_output=True, check=True)
"""


def _collected(root: Path) -> int:
    """summary_collected events in a registry's runs (a clone holds its template's one per run)."""
    return sum(
        path.read_text().count('"event": "summary_collected"') - 1 for path in root.glob("*/events.jsonl")
    )


def row_watchers_end(ctx: Ctx) -> list[Row]:
    """Five `status` processes started together on 1,000 runs that have just ended (watchers of a sweep
    that ended), against one alone on the same registry made afresh: the poll is shared (the default
    poll cache) and each run's end is recorded once, whoever records it."""
    count = 200 if ctx.quick else 1000
    jobs = _finished_job_ids(count)
    env = ctx.env()  # the default poll cache: the processes share one answer
    alone, together, collected, calls = [], [], [], {}
    for attempt in range(ctx.repeat):
        roots = [ctx.tmp / f"ended-{attempt}-{which}" for which in ("alone", "five")]
        for root in roots:
            clone(ctx.get_template(), root, count, job_ids=jobs, identities=IDENTITIES, sweep=SYNTH_SWEEP)
        argv = [*CLI, "--runs-dir", str(roots[0]), "status", "--limit", str(count)]
        alone.append(run(argv, ctx.tmp, env).seconds)
        ctx.shims.reset()
        argv = [*CLI, "--runs-dir", str(roots[1]), "status", "--limit", str(count)]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(argv, cwd=ctx.tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(5)
        ]
        failed = [p.stderr.read().decode() for p in procs if p.wait(timeout=600) != 0 and p.stderr]
        together.append(time.perf_counter() - started)
        if failed:
            raise BenchFailed(f"a status of the five failed:\n{failed[0][-2000:]}")
        calls = ctx.shims.counts()
        collected.append(_collected(roots[1]))
        for root in roots:
            shutil.rmtree(root)
    ratio = median(together) / median(alone)
    return [
        Row(
            f"5 `status --limit {count}` started together after {count:,} runs ended",
            f"{_ms(median(together))} for the five, {max(collected):,} summaries collected",
            f"one alone: {_ms(median(alone))}, {count:,} summaries",
            f"{ratio:.1f}x wall, {max(collected) / count:.2f}x summaries",
            "each end recorded once; sacct as one watcher's",
            _calls(calls),
        )
    ]


def row_first_status(ctx: Ctx, count: int | None = None, growth: bool = False) -> list[Row]:
    """The first, second and steady `status --limit N` of N finished runs (default 1,000), and the steady
    `status SWEEP_ID` of their sweep; with `growth`, the first (with its peak memory) and the steady one."""
    count = count or (200 if ctx.quick else 1000)
    if growth:
        return _row_first_status_growth(ctx, count)
    jobs = _finished_job_ids(count)
    ids_file = ctx.tmp / "finished-ids.txt"
    ids_file.write_text(" ".join(jobs))
    env = ctx.env(CLUSTERRUN_POLL_MAX_AGE="0")
    floor = median(
        [run([sys.executable, "-c", SACCT_FLOOR, str(ids_file)], env=env).seconds for _ in range(ctx.repeat)]
    )
    first, second, steady, first_calls, second_calls, steady_calls = [], [], [], {}, {}, {}
    swept: list[float] = []  # `status SWEEP_ID` once its table's rows are kept
    swept_calls: dict[str, int] = {}
    writes: list[float] = []  # the two files a run's end needs written (manifest replaced, summary made)
    for attempt in range(ctx.repeat):
        root = ctx.tmp / f"pending-{attempt}"
        clone(
            ctx.get_template(),
            root,
            count,
            job_ids=jobs,
            identities=IDENTITIES,
            sweep=SYNTH_SWEEP,
        )
        argv = [*CLI, "--runs-dir", str(root), "status", "--limit", str(count)]
        ctx.shims.reset()
        first.append(run(argv, ctx.tmp, env).seconds)
        first_calls = ctx.shims.counts()
        ctx.shims.reset()
        second.append(run(argv, ctx.tmp, env).seconds)  # from the rows the first one kept
        second_calls = ctx.shims.counts()
        ctx.shims.reset()
        steady.append(run(argv, ctx.tmp, env).seconds)
        steady_calls = ctx.shims.counts()
        sweep_argv = [*CLI, "--runs-dir", str(root), "status", SYNTH_SWEEP]
        run(sweep_argv, ctx.tmp, env)  # its table's rows kept
        ctx.shims.reset()
        swept.append(run(sweep_argv, ctx.tmp, env).seconds)
        swept_calls = ctx.shims.counts()
        writes.append(run([sys.executable, "-c", WRITE_FLOOR, str(root)], env=env).seconds)
        shutil.rmtree(root)
    first_s, second_s, steady_s = median(first), median(second), median(steady)
    floor_text = f"imports + one sacct of {count:,} ids: {_ms(floor)}"
    written = median(writes)
    return [
        Row(
            f"first `status` after {count:,} runs finished (`--limit {count}`)",
            _ms(first_s),
            f"{floor_text} (writing the {2 * count:,} files the ends need, alone, on this disk: "
            f"{_ms(written)}, {(floor + written) / floor:.1f}x)",
            f"{first_s / floor:.1f}x",
            "<= 2x",
            _calls(first_calls),
        ),
        Row(
            f"second `status --limit {count}` (the rows the first one kept)",
            _ms(second_s),
            floor_text,
            f"{second_s / floor:.1f}x",
            "<= 1.2x",
            _calls(second_calls),
        ),
        Row(
            f"steady `status --limit {count}`",
            _ms(steady_s),
            floor_text,
            f"{steady_s / floor:.1f}x",
            "<= 1.2x",
            _calls(steady_calls),
        ),
        Row(
            f"steady `status SWEEP_ID` of a {count:,}-member sweep",
            _ms(median(swept)),
            floor_text,
            f"{median(swept) / floor:.1f}x",
            "<= 1.2x",
            _calls(swept_calls),
        ),
    ]


SYNTH_SWEEP = "synth-sweep_20251231-000000"  #: the sweep the first-status row's runs are members of


#: A cluster for a first status of more ended runs than the main cluster makes in a session (it runs
#: two array tasks at a time, about 90 a minute): the real accounting (its own slurmdbd and database),
#: two nodes of 32 CPUs each on this machine, so a 10,000-task array of `true` ends in a few minutes.
#: (Its name is short: a job step's socket path in the spool holds it three times, and a path longer than
#: 108 bytes fails the launch and requeues the job.)
ACCOUNTING_CLUSTER: dict[str, Any] = {
    "nodes": 2,
    "cpus": 32,
    "conf": [
        "MaxArraySize=10001",
        "MaxJobCount=100000",
        "MinJobAge=2",
        "SchedulerParameters=sched_interval=1,bf_interval=1,batch_sched_delay=1,default_queue_depth=5000",
        "JobAcctGatherType=jobacct_gather/none",
    ],
}


def _row_first_status_growth(ctx: Ctx, count: int) -> list[Row]:
    """At most 2,000 runs on the main cluster; more on an isolated cluster with accounting of its own
    (ACCOUNTING_CLUSTER), made for the row and removed after it, tried once."""
    if count <= 2000:
        return _first_status_growth(ctx, count, {})
    return _on_isolated_cluster(
        f"an isolated cluster with accounting for {count:,} ended jobs",
        "an isolated cluster with accounting",
        lambda env: _first_status_growth(ctx, count, env),
        "acct",
        accounting="dbd",
        **ACCOUNTING_CLUSTER,
    )


def _first_status_growth(ctx: Ctx, count: int, cluster: dict[str, str]) -> list[Row]:
    jobs = _finished_job_ids(count, ctx.env(**cluster) if cluster else None)
    ids_file = ctx.tmp / f"finished-ids-{count}.txt"
    ids_file.write_text(" ".join(jobs))
    env = ctx.env(CLUSTERRUN_POLL_MAX_AGE="0", **cluster)
    repeat = 1 if count > 2000 else ctx.repeat
    floor = median(
        [run([sys.executable, "-c", SACCT_FLOOR, str(ids_file)], env=env).seconds for _ in range(repeat)]
    )
    first, steady, peaks, calls = [], [], [], {}
    for attempt in range(repeat):
        root = ctx.tmp / f"pending-{count}-{attempt}"
        clone(ctx.get_template(), root, count, job_ids=jobs, identities=IDENTITIES, sweep=SYNTH_SWEEP)
        argv = [*CLI, "--runs-dir", str(root), "status", "--limit", str(count)]
        ctx.shims.reset()
        result = run(argv, ctx.tmp, env, memory=True)
        calls = ctx.shims.counts()
        first.append(result.seconds)
        peaks.append(result.peak_mb)
        run(argv, ctx.tmp, env)  # the second keeps the rows
        steady.append(run(argv, ctx.tmp, env).seconds)
        shutil.rmtree(root)
    tried = " (tried once)" if repeat == 1 else ""
    floor_text = f"imports + one sacct of {count:,} ids: {_ms(floor)}"
    return [
        Row(
            f"first `status --limit {count}` after {count:,} runs finished{tried}",
            f"{_ms(median(first))}, {median(peaks):.0f} MB",
            floor_text,
            f"{median(first) / floor:.1f}x",
            "<= 2x",
            _calls(calls),
        ),
        Row(
            f"steady `status --limit {count}` of {count:,} finished runs{tried}",
            _ms(median(steady)),
            floor_text,
            f"{median(steady) / floor:.1f}x",
            "<= 1.2x",
            "0",
        ),
    ]


WRITE_FLOOR = """
import os, sys, time
root = sys.argv[1]
for name in os.listdir(root):
    path = os.path.join(root, name)
    if not os.path.isfile(os.path.join(path, "manifest.json")):
        continue
    text = open(os.path.join(path, "manifest.json")).read()
    for target in ("manifest.json", "summary.floor.json"):  # replaced, then made: as a run's end is
        tmp = os.path.join(path, "." + target + ".tmp")
        with open(tmp, "w") as handle:
            handle.write(text)
        os.replace(tmp, os.path.join(path, target))
"""

READ_FLOOR = """
import json, os, sys
import clusterrun.services.listing
root = sys.argv[1]
for name in os.listdir(root):
    path = os.path.join(root, name)
    if os.path.isfile(os.path.join(path, "manifest.json")):
        json.load(open(os.path.join(path, "manifest.json")))
        if os.path.isfile(os.path.join(path, "summary.json")):
            json.load(open(os.path.join(path, "summary.json")))
"""


def finished_registry(ctx: Ctx, size: int) -> Path:
    root = ctx.tmp / f"finished-{size}"
    if not root.exists():
        clone(ctx.get_template(), root, size)
    return root


def row_wide_status(ctx: Ctx, size: int) -> list[Row]:
    root = finished_registry(ctx, size)
    env = ctx.env()
    floor = median(
        [run([sys.executable, "-c", READ_FLOOR, str(root)], env=env).seconds for _ in range(ctx.repeat)]
    )
    samples = []
    for _ in range(ctx.repeat):
        ctx.shims.reset()
        samples.append(
            run([*CLI, "--runs-dir", str(root), "status", "--limit", str(size)], ctx.tmp, env, memory=True)
        )
    seconds = median([s.seconds for s in samples])
    peak = max(s.peak_mb for s in samples)
    default = median(
        [run([*CLI, "--runs-dir", str(root), "status"], ctx.tmp, env).seconds for _ in range(ctx.repeat)]
    )
    # the same listing as JSON (every run's whole summary) and as CSV (what the table shows)
    listed = [*CLI, "--runs-dir", str(root), "status", "--limit", str(size)]
    as_json = [run([*listed, "--json"], ctx.tmp, env, memory=True) for _ in range(ctx.repeat)]
    as_csv = [run([*listed, "--format", "csv"], ctx.tmp, env, memory=True) for _ in range(ctx.repeat)]
    # a filter and a sort, which need every run's whole record: first with no rows of them kept, then again
    filtered = [*CLI, "--runs-dir", str(root), "status", "--where", "params.lr<1", "--sort", "-final_loss"]
    first, steady = [], []
    for _ in range(ctx.repeat):
        (root / ".cache" / "status-records.json").unlink(missing_ok=True)
        first.append(run(filtered, ctx.tmp, env, memory=True))
        steady.append(run(filtered, ctx.tmp, env, memory=True))
    return [
        Row(
            f"`status --limit {size}` on a {size:,}-run registry",
            f"{_ms(seconds)}, {peak:.0f} MB",
            f"imports + reading {size:,} manifests and summaries: {_ms(floor)}",
            f"{seconds / floor:.1f}x",
            "<= 1.2x, <= 100 MB",
            _calls(ctx.shims.counts()),
        ),
        *(
            Row(
                f"`status --limit {size} {option}` on a {size:,}-run registry",
                f"{_ms(median([t.seconds for t in tries]))}, {max(t.peak_mb for t in tries):.0f} MB",
                f"imports + reading {size:,} manifests and summaries: {_ms(floor)}",
                f"{median([t.seconds for t in tries]) / floor:.1f}x",
                "<= 1.2x, <= 100 MB (as the listing's)",
                "0",
            )
            for option, tries in (("--json", as_json), ("--format csv", as_csv))
        ),
        Row(
            f"default `status` (newest 20) on a {size:,}-run registry",
            _ms(default),
            "—",
            "—",
            "flat in the registry's size",
            "0",
        ),
        *(
            Row(
                f"{which} `status --where params.lr<1 --sort -final_loss` (newest 20 of all) on a "
                f"{size:,}-run registry",
                f"{_ms(median([t.seconds for t in tries]))}, {max(t.peak_mb for t in tries):.0f} MB",
                f"imports + reading {size:,} manifests and summaries: {_ms(floor)}",
                f"{median([t.seconds for t in tries]) / floor:.1f}x",
                "<= 1.2x, <= 100 MB (as the listing's)",
                "0",
            )
            for which, tries in (("first", first), ("steady", steady))
        ),
    ]


def row_dry_run(ctx: Ctx, size: int) -> list[Row]:
    project = ctx.tmp / "dry-project"
    if not project.exists():
        make_project(project)
    env = ctx.env()
    big = ctx.tmp / f"dry-registry-{size}"  # its own: the dry runs made here join it
    if not big.exists():
        clone(ctx.get_template(), big, size)
    empty = ctx.tmp / f"empty-registry-{size}"
    argv = [*CLI, "submit", "configs/quickstart.yaml", "--dry-run", "--backend", "slurm", "params.steps=5"]
    samples: dict[Path, list[float]] = {empty: [], big: []}
    for root in (empty, big):  # the snapshot and the smoke test, cached from now on
        run(argv, project, env | {"CLUSTERRUN_RUNS_DIR": str(root)})
    # interleaved, so a busy moment of the machine hits both alike; three times the tries of the other
    # rows, since the two differ by about 40 ms in 500 and the machine's noise is as large
    for attempt in range(3 * ctx.repeat):
        for root in (empty, big) if attempt % 2 == 0 else (big, empty):
            samples[root].append(run(argv, project, env | {"CLUSTERRUN_RUNS_DIR": str(root)}).seconds)
    results = {root: median(times) for root, times in samples.items()}
    ratio = results[big] / results[empty]
    return [
        Row(
            f"`submit --dry-run` into a {size:,}-run registry",
            _ms(results[big]),
            f"the same into an empty registry: {_ms(results[empty])}",
            f"{ratio:.2f}x",
            "<= 1.1x",
            "0",
        )
    ]


#: What a hand-written submitit script does for the same job: the LocalExecutor (a controller process,
#: then the task's), `true` in a subprocess, and submitit's own wait for the result.
LOCAL_FLOOR = """
import subprocess, sys, submitit
executor = submitit.LocalExecutor(folder=sys.argv[1])
executor.update_parameters(timeout_min=5)
executor.submit(subprocess.run, ["true"], check=True).result()
"""


def row_local_wait(ctx: Ctx) -> list[Row]:
    project = make_project(ctx.tmp / "local-project", {"true.yaml": TRUE_CONFIG})
    env = ctx.env()
    argv = [*CLI, "submit", "configs/true.yaml", "--backend", "local", "--wait", "--force"]
    run(argv, project, env)  # the smoke test, cached from now on
    floor = median([run(["true"]).seconds for _ in range(ctx.repeat)])
    ours, raw, parts = [], [], []
    for attempt in range(ctx.repeat):  # alternating: a noisy moment hits both
        started = time.time()
        ours.append(run(argv, project, env).seconds)
        parts.append(_local_parts(project, started, ours[-1]))
        raw.append(
            run([sys.executable, "-c", LOCAL_FLOOR, str(ctx.tmp / f"raw-local-{attempt}")], env=env).seconds
        )
    seconds, submitit_own = median(ours), median(raw)
    submitted, start, ran, end = (median(list(column)) for column in zip(*parts, strict=True))
    return [
        Row(
            "`submit --backend local --wait` of `true`",
            f"{_ms(seconds)} (submitted at {_ms(submitted)}; the job's wrapper started {_ms(start)} later, "
            f"ran {_ms(ran)}, its end to the exit {_ms(end)})",
            f"the command: {_ms(floor)}; submitit's own LocalExecutor running it, `job.result()`: "
            f"{_ms(submitit_own)}",
            f"+{seconds - floor:.2f} s ({seconds / submitit_own:.2f}x submitit's own)",
            "<= +0.5 s",
            "0",
        )
    ]


def _local_parts(project: Path, started: float, seconds: float) -> tuple[float, float, float, float]:
    """Where the time of the newest local run's command (started at `started`, ran `seconds`) went, from
    its records: when the job was submitted (submitit's `*_submitted.pkl`), how long after that the job's
    wrapper started and how long it ran (exit.json), and from its end to the command's exit."""
    runs = [p for p in (project / "runs").glob("true-cmd_*") if p.is_dir()]
    newest = max(runs, key=lambda p: p.stat().st_mtime)
    record = json.loads((newest / "exit.json").read_text())
    submitted = next((newest / "scheduler").glob("*_submitted.pkl")).stat().st_mtime
    return (
        submitted - started,
        record["started"] - submitted,
        record["ended"] - record["started"],
        started + seconds - record["ended"],
    )


SBATCH_FLOOR = """
import subprocess, submitit
print(subprocess.run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true"], capture_output=True,
                     text=True, check=True).stdout.strip())
"""
#: the same, with the libraries clusterrun is built on imported too (what a submit cannot do without)
LIBRARIES = "typer, pydantic, yaml, jinja2, psutil"
LIBRARIES_FLOOR = SBATCH_FLOOR.replace("submitit\n", f"submitit, {LIBRARIES}\n", 1)


def row_slurm_submit(ctx: Ctx) -> list[Row]:
    project = make_project(ctx.tmp / "slurm-project", {"true.yaml": TRUE_CONFIG})
    env = ctx.env()
    argv = [*CLI, "submit", "configs/true.yaml", "--backend", "slurm", "--force", "--yes", "--json"]
    ctx.jobs.append(json.loads(run(argv, project, env).stdout)["job_id"])  # smoke test cached from now on
    floors, libraries, ours = [], [], []
    for _ in range(ctx.repeat):
        result = run([sys.executable, "-c", SBATCH_FLOOR], env=env)
        floors.append(result.seconds)
        ctx.jobs.append(result.stdout.strip())
        result = run([sys.executable, "-c", LIBRARIES_FLOOR], env=env)
        libraries.append(result.seconds)
        ctx.jobs.append(result.stdout.strip())
        ctx.shims.reset()
        result = run(argv, project, env)
        ours.append(result.seconds)
        ctx.jobs.append(json.loads(result.stdout)["job_id"])
    calls = ctx.shims.counts()
    ctx.cancel()
    floor, seconds, built_on = median(floors), median(ours), median(libraries)
    return [
        Row(
            "one trivial `submit` to SLURM (smoke cached)",
            _ms(seconds),
            f"imports + `sbatch --wrap true`: {_ms(floor)} (the same with the libraries clusterrun is built "
            f"on imported too, {LIBRARIES}: {_ms(built_on)}, {built_on / floor:.1f}x)",
            f"{seconds / floor:.1f}x",
            "<= 1.5x",
            _calls(calls),
        )
    ]


def row_watchers(ctx: Ctx) -> list[Row]:
    duration = 10 if ctx.quick else 20
    project = make_project(
        ctx.tmp / "watch-project", {"sleep.yaml": SLEEP_CONFIG.format(name="sleep", duration=duration)}
    )
    env = ctx.env()
    argv = [*CLI, "submit", "configs/sleep.yaml", "--backend", "slurm", "--force", "--yes", "--json"]
    counts = {}
    for watchers in (1, 5):
        record = json.loads(run(argv, project, env).stdout)
        ctx.shims.reset()
        procs = [
            subprocess.Popen(
                [*CLI, "status", record["run_id"], "--watch"],
                cwd=project,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(watchers)
        ]
        for proc in procs:
            proc.wait(timeout=600)
        counts[watchers] = ctx.shims.counts().get("sacct", 0)
    ratio = counts[5] / max(counts[1], 1)
    return [
        Row(
            f"5 `status --watch` processes on the same run ({duration} s job)",
            f"{counts[5]} sacct calls",
            f"one watcher: {counts[1]}",
            f"{ratio:.1f}x",
            "<= 1.5x",
            f"{counts[5]} sacct",
        )
    ]


def row_lateness(ctx: Ctx) -> list[Row]:
    """Two members of 30 and 32 s: long enough that a watch whose interval grew while nothing changed
    (it doubled to 30 s before) would show the end late."""
    project = make_project(
        ctx.tmp / "late-project", {"sleep.yaml": SLEEP_CONFIG.format(name="late", duration=30)}
    )
    env = ctx.env()
    argv = [
        *CLI,
        "submit",
        "configs/sleep.yaml",
        "--backend",
        "slurm",
        "--force",
        "--yes",
        "--json",
        "--sweep",
        "params.duration=30,32",
    ]
    late, rates = [], []
    calls = {}
    for _ in range(max(1, ctx.repeat - 1)):
        record = json.loads(run(argv, project, env).stdout)
        ctx.shims.reset()
        watched = run([*CLI, "status", record["sweep_id"], "--watch"], project, env).seconds
        noticed = time.time()
        calls = ctx.shims.counts()
        rates.append(max(0, calls.get("sacct", 0) - 1) / (watched / 5))  # gaps between polls per 5 s
        ids = [a["job_id"] for a in record["arrays"]]
        out = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-j", ",".join(ids), "-o", "end"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        ended = max(datetime.fromisoformat(t).timestamp() for t in out if t[:1].isdigit())
        late.append(noticed - ended)
    seconds = median(late)
    return [
        Row(
            "a watcher noticing the end of an array's last member (32 s)",
            f"{seconds:.1f} s late, {median(rates):.2f} sacct per 5 s",
            "—",
            "—",
            "<= 5 s late at <= 1 poll per 5 s",
            _calls(calls),
        )
    ]


def row_snapshot(ctx: Ctx) -> list[Row]:
    files = 1000 if ctx.quick else 5000
    out = run(
        [
            sys.executable,
            str(REPO / "bench" / "snapshot.py"),
            "--files",
            str(files),
            "--repeat",
            str(ctx.repeat),
        ]
    ).stdout
    lines = {line[:32].strip(): float(line[32:].split()[0]) for line in out.splitlines()[2:]}
    ours, floor = lines["clusterrun snapshot.create"], lines["git archive | tar -x (floor)"]
    return [
        Row(
            f"first snapshot of a {files:,}-file repository",
            _ms(ours),
            f"`git archive HEAD | tar -x`: {_ms(floor)}",
            f"{ours / floor:.1f}x",
            "<= 1.5x",
            "0",
        )
    ]


# --- the table -----------------------------------------------------------------------------------------


def row_long_metrics(ctx: Ctx) -> list[Row]:
    """A long run's metrics as a status row reads them (bench/long_metrics.py): its metrics.jsonl's last
    values, first and next look, and the last values its patterns find in its stdout.log."""
    import long_metrics

    lines = 200_000 if ctx.quick else 1_000_000
    (ctx.tmp / "long-metrics").mkdir()
    found = long_metrics.figures(lines, ctx.repeat, ctx.tmp / "long-metrics")
    first, following, before = found["first"], found["next"], found["before"]
    printed, printed_before = found["printed-now"], found["printed-before"]
    return [
        Row(
            f"last values of a running job's metrics.jsonl of {lines:,} lines (a status row): first look; "
            "the next, in a new process, after 10 more lines",
            f"{first}; {following}",
            f"reading the file: {found['floor']}; parsed whole into rows, as before: {before}",
            f"{first.seconds / before.seconds:.1f}x and {first.peak_mb / before.peak_mb:.2f}x the memory "
            f"of parsing whole; next {following.seconds / before.seconds:.2f}x",
            "bounded memory; a next look reads what was added",
        ),
        Row(
            f"last values of a running job's TensorBoard event file of {lines:,} scalars (a status row "
            "of a run whose metrics.file is its log folder): first look; the next, in a new process, "
            "after 10 more",
            f"{found['events-first']}; {found['events-next']}",
            f"reading the file: {found['events-floor']}; the metrics.jsonl of as many lines, first look: "
            f"{first}",
            f"{found['events-first'].seconds / first.seconds:.1f}x the JSON lines' first look; next "
            f"{found['events-next'].seconds / following.seconds:.1f}x theirs",
            "bounded memory; a next look reads what was added",
        ),
        Row(
            f"last values of two printed patterns in a stdout.log of {lines:,} lines (a status row)",
            str(printed),
            f"every match in the log's last 64 MB walked, as before: {printed_before}",
            f"{printed.seconds / printed_before.seconds:.2f}x",
            "read from the end",
        ),
    ]


ROWS: dict[str, Callable[[Ctx], list[Row]]] = {
    "sweep": row_sweep,
    "first-status": row_first_status,
    "watchers-end": row_watchers_end,
    "wide-status": lambda ctx: row_wide_status(ctx, 1000 if ctx.quick else 10_000),
    "dry-run": lambda ctx: row_dry_run(ctx, 1000 if ctx.quick else 10_000),
    "help": row_help,
    "watchers": row_watchers,
    "local-wait": row_local_wait,
    "slurm-submit": row_slurm_submit,
    "snapshot": row_snapshot,
    "lateness": row_lateness,
    "long-metrics": row_long_metrics,
}


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "?")
    slurm = (
        subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout.strip() or "no SLURM"
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {slurm} (single node, local)"
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| measure | clusterrun | floor in the same run | ratio | goal | scheduler calls |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = (r.measure, r.figure, r.floor, r.ratio, r.goal, r.calls)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--growth", action="store_true")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[100, 1000, 10_000],
        help="the growth rows' sizes (default 100,1000,10000)",
    )
    parser.add_argument(
        "--growth-rows",
        default="",
        help=f"with --growth: only these growth rows, comma-separated: {', '.join(GROWTH_ROWS)}",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help=f"comma-separated rows: {', '.join(ROWS)}")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args()
    wanted = [w for w in args.only.split(",") if w] or list(ROWS)
    unknown = set(wanted) - set(ROWS)
    if unknown:
        sys.exit(f"unknown rows: {', '.join(sorted(unknown))}; known: {', '.join(ROWS)}")
    grown = [w for w in args.growth_rows.split(",") if w] or list(GROWTH_ROWS)
    if set(grown) - set(GROWTH_ROWS):
        sys.exit(f"unknown growth rows: {args.growth_rows}; known: {', '.join(GROWTH_ROWS)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the jobs are cancelled on the way out
    tmp = Path(tempfile.mkdtemp(prefix="clusterrun-bench-"))
    ctx = Ctx(tmp, Shims(tmp), args.repeat, args.quick)
    compiled = [sys.executable, "-m", "compileall", "-q", str(REPO / "clusterrun"), str(REPO / "bench")]
    subprocess.run(compiled, env=ctx.env(), check=True, capture_output=True)  # as a pip install does
    rows: list[Row] = []
    growth: list[Row] = []
    started = time.perf_counter()

    def measure(label: str, action: Callable[[], list[Row]]) -> list[Row]:
        print(f"{label} ...", flush=True)
        row_started = time.perf_counter()
        try:
            found = action()
        except (
            BenchFailed
        ) as exc:  # reported in its row (the whole of it here); the others are still measured
            print(f"  {exc}", flush=True)
            found = [Row(label, "failed", str(exc).splitlines()[0], "—", "—")]
        for row in found:
            print(
                f"  {row.measure}: {row.figure} vs {row.floor} = {row.ratio} (goal {row.goal}); {row.calls}"
            )
        print(f"  ({time.perf_counter() - row_started:.0f} s)", flush=True)
        return found

    try:
        for name in wanted:
            rows += measure(name, lambda name=name: ROWS[name](ctx))  # type: ignore[misc]
            write(args, rows, growth, time.perf_counter() - started)  # as it goes: nothing measured is lost
        if args.growth:
            for size in args.sizes:
                growth += measure(f"growth {size}", lambda size=size: growth_rows(ctx, size, grown))  # type: ignore[misc]
                write(args, rows, growth, time.perf_counter() - started)
    finally:
        ctx.cancel()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {args.out}")


GROWTH_ROWS: dict[str, Callable[[Ctx, int], list[Row]]] = {
    "wide-status": row_wide_status,
    "dry-run": row_dry_run,
    "sweep": row_sweep,
    "first-status": lambda ctx, size: row_first_status(ctx, size, growth=True),
}


def growth_rows(ctx: Ctx, size: int, names: list[str] | None = None) -> list[Row]:
    """The growth rows at `size` runs (`names`: only those, in GROWTH_ROWS's order)."""
    return [
        row
        for name, action in GROWTH_ROWS.items()
        if names is None or name in names
        for row in action(ctx, size)
    ]


def write(args: argparse.Namespace, rows: list[Row], growth: list[Row], seconds: float) -> None:
    text = [
        "# Benchmark results (issue 13)",
        "",
        f"Date: {date.today().isoformat()}. Machine: {machine()}.",
        f"Command: `python bench/run_all.py{' --quick' if args.quick else ''}"
        f"{' --growth' if args.growth else ''}` (medians of {args.repeat}; {seconds:.0f} s in all). Every"
        " ratio is against a floor measured in the same run; scheduler calls are counted by shims on PATH"
        " during one clusterrun measurement.",
        "",
        table(rows),
    ]
    if growth:
        text += ["", "## Growth: the same rows at 100, 1,000 and 10,000 runs", "", table(growth)]
    args.out.write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
