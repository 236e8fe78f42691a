"""One parallelism limit for a whole sweep, on every backend: SLURM arrays split past MaxArraySize chain
one after the other (--dependency=afterany), the local backend runs at most N members at once, and
`reproduce` keeps the limit with every other sweep field. A sweep too large is refused from its axes."""

from __future__ import annotations

import json
import subprocess
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from clusterrun.config.sections import Sweep
from clusterrun.config.sweep import MAX_MEMBERS, expand
from clusterrun.errors import UsageError
from tests.helpers import cli, git, manifest, no_traceback

NAP = """\
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float)
p.add_argument("--tag")
a = p.parse_args()
started = time.time()
time.sleep(a.seconds)
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"acc": float(a.tag), "started": started, "ended": time.time()}) + "\\n")
"""


def _project(project: Path, members: int, parallelism: int, seconds: float) -> str:
    (project / "nap.py").write_text(NAP)
    (project / "configs" / "clusters").mkdir(exist_ok=True)
    (project / "configs" / "clusters" / "tiny.yaml").write_text("max_array_size: 2\n")
    (project / "configs" / "nap.yaml").write_text(
        "name: nap\ncommand: python nap.py --seconds {seconds} --tag {tag}\n"
        f"params: {{seconds: {seconds}, tag: 0}}\n"
        "smoke: {params: {seconds: 0}, timeout: 60}\n"
        "resources: {time: '00:03:00', mem: 300M}\n"
        f"sweep: {{grid: {{params.tag: {list(range(members))}}}, parallelism: {parallelism}, "
        "metric: acc, mode: max}\n"
        "metrics: {ignore: [started, ended]}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "nap")
    return "configs/nap.yaml"


def _sweep(project: Path, name: str = "nap") -> dict[str, Any]:
    found = sorted(project.glob(f"runs/{name}-sweep_*/sweep.json"))
    assert found, "no sweep record"
    data: dict[str, Any] = json.loads(found[-1].read_text())
    return data


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals [start, end) that overlap at one instant."""
    edges = sorted([(s, 1) for s, _e in intervals] + [(e, -1) for _s, e in intervals])  # ends before starts
    most = current = 0
    for _at, step in edges:
        current += step
        most = max(most, current)
    return most


def _own_intervals(project: Path, sweep: dict[str, Any]) -> list[tuple[float, float]]:
    """[started, ended) of each member, as the job itself measured it."""
    out = []
    for member in sweep["members"]:
        lines = (project / "runs" / member["run_id"] / "metrics.jsonl").read_text().splitlines()
        record = json.loads(lines[-1])
        out.append((record["started"], record["ended"]))
    return out


# --------------------------------------------------------------------------------------- sweep size


def test_the_size_is_known_before_any_member_is_built() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(UsageError) as caught:
        expand(None, ["params.a=range(0,100)", "params.b=range(0,34000)"])
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "3,400,000 members (params.a: 100 x params.b: 34,000)" in caught.value.message
    assert seconds < 1.0 and peak < 20 * 1024 * 1024  # was 6.6 s and 1.3 GB
    sweep = Sweep.model_validate({"grid": {"params.a": list(range(10))}, "zip": {"params.b": [1, 2]}})
    assert len(expand(sweep, ["params.c=range(0,5)"])) == 100  # 10 x 2 x 5, still built when allowed
    limit = expand(None, [f"params.a=range(0,{MAX_MEMBERS})"])
    assert len(limit) == MAX_MEMBERS  # the limit itself is allowed


# ------------------------------------------------------------------------------------- local backend


def test_the_local_backend_runs_at_most_n_members_at_once_and_reproduce_keeps_it(project: Path) -> None:
    config = _project(project, members=4, parallelism=1, seconds=3)
    submitted = cli(["submit", config, "--backend", "local", "--yes"], project)
    assert submitted.returncode == 0, submitted.stderr
    sweep = _sweep(project)
    assert sweep["parallelism"] == 1
    seen_pending, most_running = False, 0
    deadline = time.monotonic() + 240
    while True:  # watch it as a user would, through status
        view = json.loads(cli(["status", sweep["sweep_id"], "--json"], project).stdout)
        counts = view["counts"]
        seen_pending = seen_pending or counts.get("pending", 0) > 0
        waiting = [m for m in view["members"] if m["state"] == "pending"]
        # why they wait, as SLURM says it for an array's %N; no elapsed time before they start
        assert all(m["reason"] == "JobArrayTaskLimit" and m["elapsed_seconds"] is None for m in waiting), (
            waiting
        )
        most_running = max(most_running, counts.get("running", 0))
        if counts.get("completed", 0) == 4:
            break
        assert time.monotonic() < deadline, counts
        assert not set(counts) - {"pending", "running", "completed", "submitted"}, counts
        time.sleep(0.5)
    assert seen_pending and most_running <= 1
    assert _most_at_once(_own_intervals(project, sweep)) == 1  # never two members at once
    view = json.loads(cli(["status", sweep["sweep_id"], "--json"], project).stdout)
    assert view["metric"] == "acc" and view["mode"] == "max" and view["members"][0]["metrics"]["acc"] == 3.0

    again = cli(
        ["reproduce", sweep["sweep_id"], "--backend", "local", "--yes", "--wait"], project, timeout=600
    )
    assert again.returncode == 0, again.stdout + again.stderr
    new = _sweep(project)
    assert new["sweep_id"] != sweep["sweep_id"] and new["reproduces"] == sweep["sweep_id"]
    for key in ("parallelism", "metric", "mode", "sweep", "axes", "cluster"):
        assert new[key] == sweep[key], key
    assert _most_at_once(_own_intervals(project, new)) == 1


def test_a_local_member_cancelled_while_it_waits_for_a_slot_never_runs(project: Path) -> None:
    config = _project(project, members=3, parallelism=1, seconds=4)
    submitted = cli(["submit", config, "--backend", "local", "--yes"], project)
    assert submitted.returncode == 0, submitted.stderr
    sweep = _sweep(project)
    last = sweep["members"][-1]["run_id"]
    deadline = time.monotonic() + 60
    while json.loads(cli(["status", last, "--json"], project).stdout)["runs"][0]["state"] != "pending":
        assert time.monotonic() < deadline, "the last member never showed as pending"
        time.sleep(0.3)
    cancelled = cli(["cancel", last], project)
    assert cancelled.returncode == 0, cancelled.stderr
    done = cli(["status", sweep["sweep_id"], "--watch", "--quiet", "--json"], project, timeout=300)
    states = {m["run_id"]: m["state"] for m in json.loads(done.stdout)["members"]}
    assert states.pop(last) == "cancelled" and set(states.values()) == {"completed"}, states
    assert not (project / "runs" / last / "metrics.jsonl").exists()  # its command never started


def test_reproduce_on_the_local_backend_keeps_the_member_limit(project: Path) -> None:
    config = _project(project, members=65, parallelism=8, seconds=0)
    dry = cli(
        ["submit", config, "--backend", "slurm", "--dry-run", "--skip-smoke", "limit test"],
        project,
        timeout=600,
    )
    assert dry.returncode == 0, dry.stderr
    sweep = _sweep(project)
    assert len(sweep["members"]) == 65
    refused = cli(["reproduce", sweep["sweep_id"], "--backend", "local", "--yes"], project)
    no_traceback(refused)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "error: 65 members would all start at once on this machine (local backend)" in refused.stderr
    assert "hint: " in refused.stderr
    assert len(list(project.glob("runs/nap-sweep_*"))) == 1  # nothing was created


# ------------------------------------------------------------------------------------------ SLURM


def _sacct_intervals(array_ids: list[str]) -> list[tuple[float, float]]:
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-o", "JobID,Start,End", "-j", ",".join(array_ids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    intervals = []
    for line in out.splitlines():
        _job, start, end = line.split("|")
        intervals.append((datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()))
    return intervals


def test_a_sweeps_best_is_the_best_of_its_grid_earlier_runs_it_skipped_included(project: Path) -> None:
    """Members that duplicate a finished run are skipped (the same code and config ran). The sweep's
    ranking and its best left those runs out: a grid whose best point had run before named a worse
    member best, in the table and in --json."""
    (project / "nap.py").write_text(NAP)
    (project / "configs" / "nap.yaml").write_text(
        "name: nap\ncommand: python nap.py --seconds {seconds} --tag {tag}\n"
        "params: {seconds: 0, tag: 0}\nsmoke: {params: {seconds: 0}, timeout: 60}\n"
        "resources: {time: '00:03:00', mem: 300M}\nsweep: {metric: acc, mode: max}\n"
        "metrics: {ignore: [started, ended]}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "nap")
    argv = ["submit", "configs/nap.yaml", "--backend", "local", "--yes", "--wait", "--sweep"]
    assert cli([*argv, "params.tag=0,1"], project, timeout=300).returncode == 0
    first = _sweep(project)
    best_before = first["members"][1]["run_id"]  # tag 1: acc 1
    again = cli([*argv, "params.tag=-1,0,1"], project, timeout=300)
    assert again.returncode == 0, again.stderr
    second = _sweep(project)
    assert [m["values"] for m in second["members"]] == [{"params.tag": -1}]  # 0 and 1 ran before
    view = json.loads(cli(["status", second["sweep_id"], "--json"], project).stdout)
    assert view["best"] == best_before
    assert [(e["run_id"], e["values"], e["metrics"]["acc"]) for e in view["earlier"]] == [
        (best_before, {"params.tag": 1}, 1.0),
        (first["members"][0]["run_id"], {"params.tag": 0}, 0.0),
    ]
    assert [m["run_id"] for m in view["members"]] == [second["members"][0]["run_id"]]  # members only
    table = cli(["status", second["sweep_id"]], project).stdout
    assert next(line for line in table.splitlines() if best_before in line).startswith("*=")
    assert f"Best: {best_before} (an earlier run" in table


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_split_arrays_share_one_limit_on_slurm(project: Path) -> None:
    config = _project(project, members=4, parallelism=1, seconds=4)
    result = cli(
        ["submit", config, "--backend", "slurm", "--cluster", "tiny", "--yes", "--wait"], project, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sweep = _sweep(project)
    arrays = [a["job_id"] for a in sweep["arrays"]]
    assert [a["size"] for a in sweep["arrays"]] == [2, 2] and len(arrays) == 2
    scripts = {
        (project / "runs" / m["run_id"] / "sbatch.sh").read_text() for m in sweep["members"]
    }  # one per array
    assert len(scripts) == 2
    first, second = sorted(scripts, key=lambda s: "--dependency" in s)
    assert "--dependency" not in first and "%1" in first
    assert f"#SBATCH --dependency=afterany:{arrays[0]}" in second and "%1" in second
    intervals = _sacct_intervals(arrays)
    assert len(intervals) == 4
    assert _most_at_once(intervals) == 1, intervals  # sacct: never two members at once
    assert _most_at_once(_own_intervals(project, sweep)) == 1
    assert {manifest(project / "runs" / m["run_id"])["state"] for m in sweep["members"]} == {"completed"}
