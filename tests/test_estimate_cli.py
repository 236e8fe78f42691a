"""Estimates that hold, end to end on the local backend: an argparse `type=int` steps param that logs no
step metrics gets a two-run estimate, is not refused at the cost gate for its 1-hour request, and a
second (cached) submission keeps the estimate."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli, git, make_project, manifest, no_traceback

TRAIN = """\
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()
for _ in range(args.epochs):
    time.sleep(0.1)
print(f"trained {args.epochs} epochs")
"""
CONFIG = """\
name: epochs
command: python train_epochs.py --epochs {epochs}
params: {epochs: 40}
smoke: {params: {epochs: 2}, timeout: 60}
estimate: {steps_param: epochs}
resources: {time: "01:00:00", mem: 500M, cpus_per_task: 1}
"""


@pytest.fixture
def epochs_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", {"train_epochs.py": TRAIN, "configs/epochs.yaml": CONFIG})


def test_int_steps_param_gets_an_estimate_that_survives_the_smoke_cache(epochs_project: Path) -> None:
    # no --yes and no terminal: an "expensive" verdict would refuse the submission (exit 2)
    first = cli(["submit", "configs/epochs.yaml", "--backend", "local", "--json"], epochs_project)
    assert first.returncode == 0, first.stderr
    no_traceback(first)
    assert "timing run" not in first.stderr, first.stderr
    run = Path(json.loads(first.stdout)["run_dir"])
    data = manifest(run)
    est = data["estimate"]
    assert est["wall_seconds"] is not None and "two runs of different lengths" in est["basis"], est
    assert 2 < est["wall_seconds"] < 60  # 40 x 0.1 s plus start-up
    assert data["smoke"]["timing_run"]["ok"] is True and data["smoke"]["timing_run"]["steps"] in (4, 22)
    assert data["confirmation"]["required"] is False
    timing_script = (run / "smoke-2" / "command.sh").read_text()
    assert re.search(r"--epochs'? '?4\b", timing_script) and "4.0" not in timing_script, timing_script

    again = cli(["submit", "configs/epochs.yaml", "--backend", "local", "--json", "--force"], epochs_project)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["smoke"]["cached"] is True and "passed before" in again.stderr
    assert second["estimate"]["wall_seconds"] == pytest.approx(est["wall_seconds"])
    assert second["estimate"]["basis"] == est["basis"]
    cli(["status", "--watch"], epochs_project, timeout=120)


FAST = """\
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=400)
args = parser.parse_args()
time.sleep(1.0)  # loading data: the noise allowed (a share of the smoke time) outgrows a busy jitter
for _ in range(args.epochs):
    time.sleep(0.005)  # a step far shorter than a process's start-up varies
print(f"trained {args.epochs} epochs")
"""


def _fast_dry_run(tmp_path: Path, epochs: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A dry run of FAST for `epochs` epochs, its smoke test of 1: what it printed and its run directory."""
    config = CONFIG.replace("train_epochs.py", "fast.py").replace("{epochs: 40}", f"{{epochs: {epochs}}}")
    config = config.replace("smoke: {params: {epochs: 2}", "smoke: {params: {epochs: 1}")
    project = make_project(tmp_path / "proj", {"fast.py": FAST, "configs/fast.yaml": config})
    result = cli(["submit", "configs/fast.yaml", "--backend", "local", "--dry-run", "--json"], project)
    assert result.returncode == 0, result.stderr
    return result, Path(json.loads(result.stdout)["run_dir"])


def test_steps_too_fast_to_time_get_longer_timing_runs_until_they_can_be(tmp_path: Path) -> None:
    """1 and 2 epochs of 5 ms differ by less than start-up noise: the estimate read '0 s/step' and 0.3 s
    for a 2 s run. Each timing run too short to time a step is followed by one with 10x the extra steps
    (twice at most), so the estimate is of the right size."""
    result, run = _fast_dry_run(tmp_path, epochs=400)
    est, timing = manifest(run)["estimate"], manifest(run)["smoke"]["timing_run"]
    assert "too short to time one epoch" in result.stderr and (run / "smoke-3").is_dir()
    assert timing["ok"] and timing["steps"] in (11, 101), timing  # 1 + 1 x 10, then 1 + 10 x 10
    assert "ms/epoch" in est["basis"] and 2.0 < est["wall_seconds"] < 15, est  # 1 s, 400 x 5 ms, start-up


def test_a_timing_run_never_takes_more_steps_than_the_run_itself(tmp_path: Path) -> None:
    """What a user met with a 3-epoch fine-tuning: its epochs were too fast to time from 1 and 2, and the
    smoke test went on with 11, more than the run it was timing. The longer timing runs stop at the
    run's own steps (here 5), and there are no more once a run of as many has been timed."""
    result, run = _fast_dry_run(tmp_path, epochs=5)
    timing = manifest(run)["smoke"]["timing_run"]
    assert timing["ok"] and timing["steps"] in (2, 5), timing  # 2, then 5 (not 11) when 2 was too short
    assert not (run / "smoke-4").exists()
    assert "epochs=11" not in result.stderr


FIXED = "import time\ntime.sleep(0.3)\nprint('done')\n"
FIXED_CONFIG = """\
name: fixed
command: python fixed.py --unused {level}
params: {level: 1}
resources: {time: "01:00:00", mem: 500M, cpus_per_task: 1}
"""


def test_a_config_that_ran_before_is_estimated_from_that_run(tmp_path: Path) -> None:
    """What a user met with a script nothing times (no steps param, a smoke test that runs it as it is):
    every submit of it was 'expensive' for its 1-hour request and refused without a terminal, though the
    same config had run to its end in a second. An estimate without a timing of its own now takes the
    wall time of the newest run that completed with the same config on this backend, and says so."""
    root = make_project(tmp_path / "proj", {"fixed.py": FIXED, "configs/fixed.yaml": FIXED_CONFIG})
    first = cli(["submit", "configs/fixed.yaml", "--backend", "local"], root)
    assert first.returncode == 2 and "not estimated" in first.stderr  # nothing known yet: asked, refused
    ran = cli(["submit", "configs/fixed.yaml", "--backend", "local", "--yes", "--wait", "--json"], root)
    assert ran.returncode == 0, ran.stderr
    earlier = json.loads(ran.stdout)["run_id"]
    (root / "fixed.py").write_text(FIXED + "# edited\n")  # other code, the same config
    git(root, "commit", "-qam", "edit")
    again = cli(["submit", "configs/fixed.yaml", "--backend", "local", "--json"], root)
    assert again.returncode == 0, again.stderr  # not asked: its last run took about a second
    est = json.loads(again.stdout)["estimate"]
    assert 0.2 < est["wall_seconds"] < 30, est
    assert est["basis"] == f"as long as {earlier} took, the last completed run of this config, other code"
    other = cli(["submit", "configs/fixed.yaml", "--backend", "local", "params.level=2"], root)
    assert other.returncode == 2 and "not estimated" in other.stderr  # another config: nothing known
    no_traceback(other)


def test_a_timing_run_that_fails_stops_the_submission(tmp_path: Path) -> None:
    """A training script that raises at its second epoch: the smoke test (1 epoch) passes, its timing run
    (2 epochs) exits 1. Nothing is submitted, the output says it was the timing run and shows its
    traceback, and `logs --smoke --stderr` prints that run's log (smoke-2/), not the passed test's."""
    second_epoch = "    if _ == 1:\n        raise FloatingPointError('diverged')\n"
    raising = TRAIN.replace("    time.sleep(0.1)\n", "    time.sleep(0.1)\n" + second_epoch)
    config = CONFIG.replace("epochs: 2}", "epochs: 1}")
    project = make_project(tmp_path / "proj", {"train_epochs.py": raising, "configs/epochs.yaml": config})
    result = cli(["submit", "configs/epochs.yaml", "--backend", "local", "--yes"], project)
    assert result.returncode == 1, result.stderr
    no_traceback(result)
    assert "smoke test FAILED (its timing run, with epochs=2, exited with code 1" in result.stderr
    assert "FloatingPointError: diverged" in result.stderr and "nothing was submitted" in result.stderr
    assert "--skip-smoke REASON submits anyway" in result.stderr  # a failure of this machine's alone
    run = next((project / "runs").glob("epochs_*"))
    assert manifest(run)["state"] == "smoke_failed" and manifest(run)["job_id"] is None
    logs = cli(["logs", run.name, "--smoke", "--stderr"], project)
    assert logs.returncode == 0 and "FloatingPointError: diverged" in logs.stdout, logs.stdout + logs.stderr


HOG = """\
import sys, time
ballast = bytearray(int(sys.argv[1]) * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1  # touched: resident, not only reserved
time.sleep(0.5)
print("held", sys.argv[1], "MB")
"""
HOG_CONFIG = """\
name: hog
command: python hog.py {mb}
params: {mb: 300}
resources: {time: "00:05:00", mem: 100M, cpus_per_task: 1}
"""


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_job_whose_smoke_test_used_more_memory_than_it_asks_for_is_asked_about(tmp_path: Path) -> None:
    """Even the smoke test (fewer steps, never more) held 300 MB, and the job asks for 100M: SLURM kills
    it for memory. It was a warning, and a non-interactive submit sent the job to die; now it is asked
    like an expensive submission (refused without a terminal, with the memory that would do), --yes
    submits it as it is, and the local backend (no memory limit) is not asked at all."""
    project = make_project(tmp_path / "proj", {"hog.py": HOG, "configs/hog.yaml": HOG_CONFIG})
    refused = cli(["submit", "configs/hog.yaml", "--backend", "slurm", "--json"], project)
    assert refused.returncode == 2, refused.stderr
    no_traceback(refused)
    assert "this submission's job would likely fail: even the smoke test used" in refused.stderr
    mem = re.search(r"hint: ask for enough \(resources.mem=(\w+)\)", refused.stderr)
    assert mem, refused.stderr
    from clusterrun.config.resources import parse_mem_mb

    assert parse_mem_mb(mem.group(1)) >= 300 * 1.3  # the smoke test's peak, with the margin
    [run] = list((project / "runs").glob("hog_*"))
    record = manifest(run)
    assert record["state"] == "not_submitted" and not record.get("job_id"), record
    assert record["confirmation"]["required"] and "more than resources.mem=100M" in str(
        record["confirmation"]["reasons"]
    )
    local = cli(["submit", "configs/hog.yaml", "--backend", "local", "--json"], project)
    assert local.returncode == 0, local.stderr  # nothing would kill it here
    assert "would likely fail" not in local.stderr
    sent = cli(["submit", "configs/hog.yaml", "--backend", "slurm", "--yes", "--json"], project)
    assert sent.returncode == 0, sent.stderr
    job = json.loads(sent.stdout)["job_id"]
    subprocess.run(["scancel", job], check=False)
    assert manifest(project / "runs" / json.loads(sent.stdout)["run_id"])["confirmation"]["decision"] == (
        "confirmed with --yes"
    )


def test_a_job_estimated_past_its_time_limit_is_asked_about(epochs_project: Path) -> None:
    """2,000 epochs of 0.1 s against a 1-minute limit, and no requeue at the limit: stopped at it, on the
    local backend too (it enforces the limit). Asked, refused without a terminal with the time that would
    do; with requeue.on=[timeout] (a job that resumes) it is not asked. (1,000 epochs, 100 s, left too
    little room: a CI run under load timed the epochs at 0.059 s from the two smoke runs' difference,
    an estimate of 59 s, within the limit.)"""
    args = ["submit", "configs/epochs.yaml", "--backend", "local", "--json", "params.epochs=2000"]
    refused = cli([*args, "resources.time=1", "requeue.on=[]"], epochs_project)
    assert refused.returncode == 2, refused.stderr
    no_traceback(refused)
    assert "this submission's job would likely fail: its estimated " in refused.stderr, refused.stderr
    assert re.search(r"hint: ask for enough \(resources.time=00:0[2-9]:00\)", refused.stderr), refused.stderr
    resumed = cli(
        [*args, "resources.time=1", "requeue.on=[timeout]", "requeue.signal_grace=15", "--dry-run"],
        epochs_project,
    )
    assert resumed.returncode == 0 and "would likely fail" not in resumed.stderr, resumed.stderr
