"""Warnings about many runs fold into one line per cause (cli/warnfold.py)."""

from __future__ import annotations

from clusterrun.cli.warnfold import fold

CAUSE = "scheduler_folder: /old/sweep/scheduler leads out of the run registry /new (to /old/sweep/scheduler)"


def test_many_runs_with_one_cause_are_one_line_naming_some_and_counting_the_rest() -> None:
    messages = [f"run r{i}: {CAUSE}" for i in range(10_000)]
    assert fold(messages) == [f"runs r0, r1, r2 and 9,997 more: {CAUSE}"]


def test_a_cause_naming_each_runs_own_paths_still_folds_and_says_so() -> None:
    messages = [f"run r{i}: manifest.json in /reg/r{i} is damaged" for i in range(5)]
    assert fold(messages) == [
        "runs r0, r1, r2 and 2 more: manifest.json in /reg/r0 is damaged (each run's own id in place of r0)"
    ]


def test_few_runs_are_shown_one_by_one_in_their_place() -> None:
    messages = [
        "sacct did not answer: states are shown, not all recorded (hint)",
        f"run a: {CAUSE}",
        "run b: summary.json is damaged",
        f"run c: {CAUSE}",
        "the poll cache is unreadable",
    ]
    assert fold(messages) == messages


def test_four_runs_are_all_named() -> None:
    messages = [f"run r{i}: {CAUSE}" for i in range(4)]
    assert fold(messages) == [f"runs r0, r1, r2 and r3: {CAUSE}"]


def test_the_same_warning_twice_is_said_once() -> None:
    assert fold([f"run a: {CAUSE}", f"run a: {CAUSE}"]) == [f"run a: {CAUSE}"]


def test_a_run_id_inside_a_longer_word_is_not_taken_for_the_run() -> None:
    messages = [f"run a{i}: the folder a{i}x is damaged" for i in range(3)]
    assert fold(messages) == messages  # three causes: a0x, a1x and a2x are other names
