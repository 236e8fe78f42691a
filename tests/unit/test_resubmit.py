"""The `Next:` line of a failed run: the submit command that makes the fix's change (records/resubmit.py),
from the fixes' own texts; no command when the fix names no change, or only what the run already had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterrun.diagnose.fixes.program import divergence_fix
from clusterrun.records.models import Manifest
from clusterrun.records.resubmit import again_command, fix_overrides, next_command

CONFIG: dict[str, Any] = {
    "params": {"lr": 0.5, "batch_size": 32},
    "resources": {"mem": "4G", "gpus": 0, "time": "01:00:00"},
    "smoke": {"timeout": 60},
    "requeue": {"on": [], "max_attempts": 3, "signal_grace": 120},
}


def manifest(**changes: Any) -> Manifest:
    data: dict[str, Any] = {
        "run_id": "fit_1",
        "config_file": "configs/fit.yaml",
        "config": CONFIG,
        "overrides": ["params.batch_size=32", "resources.mem=4G"],
        **changes,
    }
    return Manifest.model_validate(data)


def test_the_first_suggestion_only_and_never_what_the_run_had() -> None:
    assert fix_overrides(divergence_fix(CONFIG["params"]), CONFIG) == ["params.lr=0.05"]
    memory = "resources.mem=9G or more (max(peak 7000 MB, requested) x 1.3; killed at its peak), or less"
    assert fix_overrides(memory, CONFIG) == ["resources.mem=9G"]
    gpu = (
        "the job has no GPU (resources.gpus=0): request one with resources.gpus=1 (on a partition with "
        "GPUs: resources.partition=...), or run on the CPU"
    )
    assert fix_overrides(gpu, CONFIG) == ["resources.gpus=1"]  # not =0 (what it had), nor a placeholder
    batch = "params.batch_size=16; or more GPU memory (resources.gpus=2)"
    assert fix_overrides(batch, CONFIG) == ["params.batch_size=16"]  # an alternative is not applied too
    assert fix_overrides("read stderr.log, fix the cause, then submit again", CONFIG) == []
    untracked = "data/train.csv is not tracked: add it (or +data.train_csv=data/train.csv before any --); or"
    assert fix_overrides(untracked, CONFIG) == ["+data.train_csv=data/train.csv"]  # a key it lacks: added
    assert fix_overrides("resources.time=02:00:00 (2x the limit; progress unknown).", CONFIG) == [
        "resources.time=02:00:00"
    ]


def test_the_command_keeps_the_runs_overrides_and_swept_values_and_replaces_the_changed_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "fit.yaml").write_text("params: {lr: 0.5}\n")  # no sweep of its own
    member = manifest(sweep_values={"params.lr": 0.5, "seed": 3}, git={"root": str(tmp_path)})
    assert again_command(member, divergence_fix(CONFIG["params"])) == (
        "clusterrun submit configs/fit.yaml params.batch_size=32 resources.mem=4G seed=3 params.lr=0.05"
    )
    oom = "resources.mem=9G or more (max(peak 7000 MB, requested) x 1.3)"
    assert again_command(manifest(), oom) == (
        "clusterrun submit configs/fit.yaml params.batch_size=32 resources.mem=9G"
    )


def test_a_sweeps_member_is_submitted_again_alone(tmp_path: Path) -> None:
    """A member's command re-ran its whole sweep: the axis given on the command line
    ('sweep.grid.params.lr=[0.01,0.05,5.0]') was kept among its overrides, and swept the fixed value
    away again (a user trial, on the dashboard's run page). The member is submitted alone: its own
    values, the fix, and sweep=null where its config file defines a sweep."""
    config = tmp_path / "configs" / "fit.yaml"
    config.parent.mkdir()
    config.write_text("params: {lr: 0.5}\n")
    fix = divergence_fix({"lr": 5.0})
    swept = {**CONFIG, "params": {"lr": 5.0, "batch_size": 32}}  # the member's resolved config
    member = manifest(
        config=swept,
        sweep="fit-sweep_1",
        sweep_values={"params.lr": 5.0},
        overrides=["params.batch_size=32", "sweep.grid.params.lr=[0.01,0.05,5.0]", "++sweep.metric=loss"],
        git={"root": str(tmp_path)},
    )
    alone = "clusterrun submit configs/fit.yaml params.batch_size=32 params.lr=0.5"
    assert again_command(member, fix) == alone
    config.write_text("params: {lr: 0.5}\nsweep:\n  grid: {params.lr: [0.01, 5.0]}\n")
    assert again_command(member, fix) == (
        "clusterrun submit configs/fit.yaml params.batch_size=32 sweep=null params.lr=0.5"
    )
    # an ad-hoc sweep: its command line without the axes, the member's values and the fix before --
    adhoc = manifest(
        config=swept,
        sweep="train-sweep_1",
        sweep_values={"params.lr": 5.0, "seed": 2},
        config_file="/proj/runs/.adhoc/train-1a2b.yaml",
        argv=["clusterrun", "submit", "sweep.grid.params.lr=[0.1,5.0]", "--", "python", "t.py", "--lr", "1"],
    )
    assert again_command(adhoc, fix) == ("clusterrun submit seed=2 params.lr=0.5 -- python t.py --lr 1")


def test_no_command_without_a_change_or_a_config_file() -> None:
    assert again_command(manifest(), "read stderr.log, fix the cause, then submit again") == ""
    assert again_command(manifest(config_file=""), divergence_fix(CONFIG["params"])) == ""


def test_an_ad_hoc_run_gets_its_own_command_line_with_the_change_before_the_double_dash() -> None:
    adhoc = manifest(
        config_file="/proj/runs/.adhoc/train-1a2b.yaml",
        argv=["clusterrun", "submit", "--time", "2h", "--", "python", "train.py", "--lr", "0.5"],
    )
    assert again_command(adhoc, "resources.mem=9G or more (peak 7000 MB)") == (
        "clusterrun submit --time 2h resources.mem=9G -- python train.py --lr 0.5"
    )


def test_a_run_with_nothing_to_fix_is_given_the_same_submission_again_and_why() -> None:
    """A cancelled run's fix is 'nothing in the run to fix; ... submit it again (same config and
    overrides)': its next step is that submission, said as such; other fixes without a change give none."""
    member = manifest(sweep_values={"params.lr": 0.5})
    cancelled = "nothing in the run to fix: ada cancelled it; if that was not intended, submit it again"
    assert next_command(member, "cancelled", cancelled) == (
        "clusterrun submit configs/fit.yaml params.batch_size=32 resources.mem=4G params.lr=0.5",
        "the same run again, if the cancel was not intended",
    )
    assert next_command(member, "node_failure", "submit again: the node (n1) failed, not the run")[1] == (
        "the same run again: the node failed, not the run"
    )
    assert next_command(member, "unknown", "read stderr.log, fix the cause, then submit again") == ("", "")
    assert next_command(member, "diverged", divergence_fix(CONFIG["params"]))[1] == ""  # a change: no why


def test_a_requeue_fix_is_applied_with_the_warning_it_needs() -> None:
    fix = (
        "requeue.on=[timeout] requeue.signal_grace=15 (the next attempt resumes from its checkpoint), or "
        "resources.time=00:02:00 (2x the limit; progress unknown)"
    )
    timed_out = manifest(overrides=["resources.time=1", "requeue.on=[]"])
    assert again_command(timed_out, fix) == (
        "clusterrun submit configs/fit.yaml resources.time=1 'requeue.on=[timeout]' requeue.signal_grace=15"
    )
