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


def test_cancelling_a_sweep_says_what_happened_to_its_members_in_a_line_each_way() -> None:
    """`cancel SWEEP` of a thousand members: one line for those cancelled (their jobs named, who
    cancelled), one per state for those that were not running; a few runs keep a line each."""
    from clusterrun.cli.cancel import outcome_lines
    from clusterrun.services.cancel import CancelOutcome

    def cancelled(i: int, by: str = "ana") -> CancelOutcome:
        return CancelOutcome(f"r-{i}", True, f"slurm job 7_{i} cancelled by {by}", "slurm", f"7_{i}", by)

    def ended(i: int, state: str) -> CancelOutcome:
        return CancelOutcome(f"r-{i}", False, f"not running (state {state})")

    many = [cancelled(i) for i in range(1000)] + [ended(i, "completed") for i in range(1000, 1500)]
    many += [ended(1500, "failed"), cancelled(1501, by="bo")]
    assert outcome_lines(many) == [
        "runs r-0, r-1, r-2 and 997 more: slurm jobs 7_0, 7_1, 7_2 and 997 more cancelled by ana",
        "runs r-1000, r-1001, r-1002 and 497 more: not running (state completed)",
        "r-1500: not running (state failed)",
        "r-1501: slurm job 7_1501 cancelled by bo",
    ]
    few = [cancelled(1), ended(2, "completed"), ended(3, "completed")]
    assert outcome_lines(few) == [f"{o.run_id}: {o.detail}" for o in few]
