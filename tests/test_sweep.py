"""Sweeps as job arrays, estimates from the smoke test, the cost gate, duplicates: on the real cluster."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import cli, git, manifest, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

SLEEPY = """\
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int)
p.add_argument("--step-seconds", type=float)
p.add_argument("--alloc-mb", type=int, default=0)
a = p.parse_args()
ballast = bytearray(a.alloc_mb * 1024 * 1024)
time.sleep(0.3)  # start-up
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as f:
    for step in range(1, a.steps + 1):
        time.sleep(a.step_seconds)
        f.write(json.dumps({"step": step, "loss": 1.0 / step}) + "\\n")
        f.flush()
"""

SLEEPY_CONFIG = """\
name: sleepy
command: python sleepy.py --steps {steps} --step-seconds {step_seconds} --alloc-mb {alloc_mb}
params: {steps: 20, step_seconds: 0.25, alloc_mb: 0}
smoke: {params: {steps: 4}, timeout: 60}
estimate: {steps_param: steps}
resources: {time: "00:05:00", mem: 500M}
"""


def _counting_sbatch(tmp_path: Path) -> tuple[dict[str, str], Path]:
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    log = tmp_path / "sbatch-calls.log"
    real = shutil.which("sbatch")
    assert real
    (shims / "sbatch").write_text(f'#!/bin/sh\necho "sbatch $*" >> {log}\nexec {real} "$@"\n')
    (shims / "sbatch").chmod(0o755)
    return {"PATH": f"{shims}:{os.environ['PATH']}"}, log


def _calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _sweep_runs(project: Path) -> list[Path]:
    return sorted(p for p in (project / "runs").glob("quickstart_*") if (p / "manifest.json").is_file())


def test_grid_sweep_is_one_array_with_one_smoke_test(project: Path, tmp_path: Path) -> None:
    env, log = _counting_sbatch(tmp_path)
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "slurm",
            "--wait",
            "--sweep",
            "params.lr=0.1,0.05,0.01",
            "--sweep",
            "params.batch_size=16,32,64",
            "params.steps=50",
            "--array-parallelism",
            "3",
        ],
        project,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert _calls(log) == 1  # 9 members, ONE sbatch
    sweep_dir = project / "runs" / manifest(_sweep_runs(project)[0])["sweep"]
    assert "#SBATCH --array=0-8%3" in (sweep_dir / "sbatch.sh").read_text()
    runs = _sweep_runs(project)
    assert len(runs) == 9
    states = {manifest(r)["state"] for r in runs}
    assert states == {"completed"}
    job_ids = {manifest(r)["job_id"].split("_")[0] for r in runs}
    assert len(job_ids) == 1 and all("_" in manifest(r)["job_id"] for r in runs)
    assert sum((r / "smoke").is_dir() for r in runs) == 1  # the smoke test ran once
    tested_in = {manifest(r)["smoke"]["tested_in"] for r in runs}
    assert len(tested_in) == 1
    assert "Sweep quickstart-sweep_" in result.stdout and "States: COMPLETED=9" in result.stdout
    sweep_id = manifest(runs[0])["sweep"]
    view = json.loads(cli(["status", sweep_id, "--json"], project).stdout)
    assert view["counts"] == {"completed": 9} and view["metric"] == "loss" and view["best"]
    losses = [m["metrics"]["loss"] for m in view["members"]]
    assert losses == sorted(losses) and view["members"][0]["best"] is True
    assert {tuple(sorted(m["values"])) for m in view["members"]} == {("params.batch_size", "params.lr")}
    by_max = json.loads(cli(["status", sweep_id, "--json", "--sort", "loss", "--max"], project).stdout)
    assert by_max["members"][0]["metrics"]["loss"] == max(losses)


def test_array_split_by_max_array_size_and_sweep_reproduced(project: Path, tmp_path: Path) -> None:
    (project / "configs" / "clusters").mkdir()
    (project / "configs" / "clusters" / "tiny.yaml").write_text(
        "max_array_size: 4\nresources: {partition: debug}\n"
    )
    (project / "configs" / "grid.yaml").write_text(
        (project / "configs" / "quickstart.yaml").read_text()
        + "sweep:\n  grid: {params.lr: [0.1, 0.2, 0.3]}\n"
        + "  zip: {params.steps: [10, 20, 30], seed: [1, 2, 3]}\n"
        + "  parallelism: 2\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "grid")
    env, log = _counting_sbatch(tmp_path)
    result = cli(
        ["submit", "configs/grid.yaml", "--backend", "slurm", "--cluster", "tiny", "--wait"],
        project,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert _calls(log) == 3  # 9 members, at most 4 per array
    assert "%2" in (project / "runs" / manifest(_sweep_runs(project)[0])["sweep"] / "sbatch.sh").read_text()
    runs = _sweep_runs(project)
    assert len(runs) == 9 and {manifest(r)["state"] for r in runs} == {"completed"}
    assert sorted(manifest(r)["seed"] for r in runs) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert {manifest(r)["resources"]["partition"] for r in runs} == {"debug"}  # from the profile
    sweep_id = manifest(runs[0])["sweep"]
    record = json.loads((project / "runs" / sweep_id / "sweep.json").read_text())
    assert [a["size"] for a in record["arrays"]] == [4, 4, 1] and record["submissions"] == 3
    again = cli(["reproduce", sweep_id, "--backend", "slurm", "--wait"], project, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "REPRODUCED: 9 of 9 members reproduced" in again.stdout
    new_sweeps = [p for p in (project / "runs").glob("quickstart-sweep_*") if p.name != sweep_id]
    assert len(new_sweeps) == 1
    new = json.loads((new_sweeps[0] / "sweep.json").read_text())
    assert new["reproduces"] == sweep_id and len(new["members"]) == 9
    originals = {manifest(project / "runs" / m["run_id"])["reproduces"] for m in new["members"]}
    assert originals == {m["run_id"] for m in record["members"]}


def _sleepy_project(project: Path) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    (project / "configs" / "sleepy.yaml").write_text(SLEEPY_CONFIG)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "sleepy")


def test_estimate_from_the_smoke_test_is_within_30_percent(project: Path) -> None:
    _sleepy_project(project)
    result = cli(
        ["submit", "configs/sleepy.yaml", "--backend", "slurm", "--wait", "--json"], project, timeout=300
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    estimated = data["estimate"]["wall_seconds"]
    assert (
        data["estimate"]["timing"]["method"] == "step-metrics" and data["estimate"]["timing"]["points"] >= 2
    )
    measured = json.loads((Path(data["run_dir"]) / "exit.json").read_text())["seconds"]
    assert abs(estimated - measured) / measured < 0.30, (estimated, measured)
    summary = data["summary"]
    assert (
        summary["efficiency"]["requested_seconds"] == 300 and summary["efficiency"]["time_efficiency"] < 0.1
    )


def test_underestimated_time_and_mem_are_warned_with_suggestions(project: Path) -> None:
    _sleepy_project(project)
    result = cli(
        [
            "submit",
            "configs/sleepy.yaml",
            "--backend",
            "slurm",
            "--dry-run",
            "params.steps=400",
            "params.alloc_mb=150",
            "resources.time=1",
            "resources.mem=100M",
        ],
        project,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: resources.time=00:01:00 is below the estimated" in result.stderr
    assert "warning: resources.mem=100M is below the smoke test's peak" in result.stderr
    suggested = dict(
        line.split(": ", 1)[1].split("=", 1)
        for line in result.stderr.splitlines()
        if line.startswith("suggestion: ")
    )
    assert suggested["resources.time"] >= "00:02:00"  # 400 x 0.25 s = 100 s, x 1.5
    peak = manifest(next((project / "runs").glob("sleepy_*")))["smoke"]["peak_rss_mb"]
    assert peak > 150
    from clusterrun.config.resources import parse_mem_mb

    assert parse_mem_mb(suggested["resources.mem"]) >= peak * 1.3


def test_cost_gate_refuses_without_a_terminal_unless_yes(project: Path) -> None:
    # without an estimate the requested time bounds the run: 30 minutes > the 10-minute threshold
    expensive = [
        "submit",
        "configs/quickstart.yaml",
        "--backend",
        "slurm",
        "resources.time=00:30:00",
        "estimate.steps_param=null",
        "params.steps=20",
    ]
    refused = cli(expensive, project)
    assert refused.returncode == 2 and "confirmation needed and there is no terminal" in refused.stderr
    assert "--yes" in refused.stderr and "not estimated" in refused.stderr
    assert "its whole requested time, 00:30:00 per run (> 10 min)" in refused.stderr
    no_traceback(refused)
    run = next((project / "runs").glob("quickstart_*"))
    data = manifest(run)
    assert data["state"] == "not_submitted" and data["job_id"] is None
    assert data["confirmation"]["approved"] is False and data["confirmation"]["required"] is True
    accepted = cli([*expensive, "--yes", "--json", "--force"], project)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["confirmation"]["decision"] == "confirmed with --yes"
    cli(["status", "--watch"], project, timeout=300)


def test_cost_gate_uses_the_estimate(project: Path) -> None:
    _sleepy_project(project)
    # 4,000 steps x 0.25 s = 1,000 s per run: above the 10-minute threshold although the limit allows it
    refused = cli(
        [
            "submit",
            "configs/sleepy.yaml",
            "--backend",
            "slurm",
            "params.steps=4000",
            "resources.time=02:00:00",
        ],
        project,
        timeout=300,
    )
    assert refused.returncode == 2 and "per run > 10 min" in refused.stderr
    estimate = manifest(next((project / "runs").glob("sleepy_*")))["estimate"]
    assert 800 < estimate["wall_seconds"] < 1300 and estimate["timing"]["method"] == "step-metrics"


def test_duplicates_are_reported_and_skipped_unless_forced(project: Path) -> None:
    first = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "slurm", "--wait", "params.steps=30"],
        project,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    again = cli(["submit", "configs/quickstart.yaml", "--backend", "slurm", "params.steps=30"], project)
    assert again.returncode == 2 and "this run is identical to quickstart_" in again.stderr
    assert "pass --force to run it again" in again.stderr
    sweep = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "slurm",
            "--json",
            "--sweep",
            "params.steps=30,31",
        ],
        project,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert "skipped 1 member(s) that duplicate a finished run" in sweep.stderr
    assert "params.steps=30 (= quickstart_" in sweep.stderr and "--force submits them too" in sweep.stderr
    record = json.loads(sweep.stdout)
    assert len(record["members"]) == 1 and len(record["skipped"]) == 1
    forced = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "slurm", "params.steps=30", "--force"], project
    )
    assert forced.returncode == 0, forced.stderr
    cli(["status", "--watch"], project, timeout=300)


def test_the_registry_index_learns_a_sweeps_members_from_the_submission(project: Path) -> None:
    """The promise: the index is a cache that never answers differently from the run directories. A
    submission appends its members' rows as it wrote them (one journal append), so the next command
    reads none of the members' manifests again, and its answers equal a rebuild from the runs."""
    import subprocess

    from clusterrun.records import index

    _sleepy_project(project)
    later = "resources.extra.begin=now+1hour"  # the members wait: nothing rewrites their manifests
    result = cli(
        [
            *["submit", "configs/sleepy.yaml", "--backend", "slurm", "--yes", "--json"],
            later,
            "--sweep",
            "params.steps=3,4,5,6,7",
        ],
        project,
    )
    assert result.returncode == 0, result.stderr
    arrays = [a["job_id"] for a in json.loads(result.stdout)["arrays"]]
    try:
        root = project / "runs"
        journal = index.index_path(root).with_name(index.JOURNAL_FILE)
        assert journal.is_file() and len(journal.read_text().splitlines()) >= 5
        stats = index.Stats()
        learned = index.entries(root, stats)
        assert stats.read == 0 and not stats.rebuilt  # no member read again
        members = {k: v for k, v in learned.items() if v.sweep}
        assert len(members) == 5 and {e.state for e in members.values()} == {"submitted"}
        index.index_path(root).unlink()
        journal.unlink(missing_ok=True)
        assert index.entries(root) == learned  # what a rebuild from the run directories says
    finally:
        subprocess.run(["scancel", *arrays], check=False)


def test_right_sizing_after_a_member_killed_for_memory_asks_for_more_not_less(project: Path) -> None:
    """A sweep over memory use: the smoke test runs the first member's values (no ballast), the second
    member allocates 400 MB against a 250M limit and is killed. 'Right-size the next sweep' took only the
    completed member's peak and said resources.mem=100M: the next sweep's big member would die again,
    sooner. The suggestion is now enough for every member that ran, and says why."""
    _sleepy_project(project)
    # the big member holds its 400 MB for 2.5 s: SLURM looks at memory once a second
    # (JobAcctGatherFrequency=1), and a job that starts its command sooner must not slip between two looks
    args = ["submit", "configs/sleepy.yaml", "--backend", "slurm", "--yes", "--json", "params.steps=22"]
    args += ["params.step_seconds=0.1", "resources.mem=250M", "--sweep", "params.alloc_mb=0,400"]
    result = cli(args, project, timeout=300)
    assert result.returncode == 0, result.stderr
    sweep_id = json.loads(result.stdout)["sweep_id"]
    watched = cli(["status", sweep_id, "--watch"], project, timeout=240)
    shown = cli(["status", sweep_id], project)
    assert shown.returncode == 0, shown.stderr
    assert "COMPLETED=1" in shown.stdout and "FAILED=1" in shown.stdout, watched.stdout + shown.stdout
    line = next(x for x in shown.stdout.splitlines() if x.startswith("Right-size the next sweep:"))
    from clusterrun.config.resources import parse_mem_mb

    mem = line.split("resources.mem=", 1)[1].split()[0]
    assert "1 killed at its memory limit" in line
    failed = next(x for x in shown.stdout.splitlines() if x.startswith("Failed: "))
    assert "(host_oom" in failed and ") -> resources.mem=" in failed  # which member failed, why, the fix
    record = json.loads(cli(["status", sweep_id, "--json"], project).stdout)
    assert record["totals"]["killed_at_limit"] == {"memory": 1}
    # above the killed member's peak as the cluster recorded it (sampled once a second: somewhere between
    # the 250M limit and the 400 MB it was allocating when killed), not the completed member's
    killed = next(m for m in record["members"] if m["state"] != "completed")
    peak = json.loads((project / "runs" / killed["run_id"] / "summary.json").read_text())["max_rss_mb"]
    assert peak > 250 and parse_mem_mb(mem) >= peak * 1.3, (line, peak)
