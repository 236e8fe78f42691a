"""Warnings about many runs, folded: one line for the runs that share a cause, not one per run.

A registry copied or moved while its runs were going, or a sweep whose shared scheduler folder was
removed, gives each of thousands of runs the same warning; a status then printed thousands of lines
that differed only in the run's id. `fold` keeps every warning's cause and names the runs it concerns:
`run A: cause` for one or two runs, `runs A, B, C and 9,997 more: cause` for more (the full list is in
the JSON output, which keeps every warning as it came).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: a warning about one run: "run RUN_ID: cause"
_ABOUT_A_RUN = re.compile(r"run (?P<run>[^\s:]+): (?P<cause>.+)", re.DOTALL)
#: from this many runs with one cause on, one line; fewer are shown one by one
FOLD_AT = 3
#: the run ids a folded line names before "and N more"
NAMED = 3


def fold(messages: Iterable[str]) -> list[str]:
    """`messages` in their order (each said once), those about FOLD_AT or more runs with the same cause
    (the text after the run's id, where the id itself stands for any run's) as one line in the place of
    the first of them."""
    listed = list(dict.fromkeys(messages))
    abouts = [_about(message) for message in listed]
    runs: dict[str, list[str]] = {}
    for about in abouts:
        if about is not None:
            runs.setdefault(about[0], []).append(about[1])
    lines: list[str] = []
    for message, about in zip(listed, abouts, strict=True):
        if about is None or len(runs[about[0]]) < FOLD_AT:
            lines.append(message)
        elif runs[about[0]][0] == about[1]:  # the first of its runs: the line for them all
            lines.append(_folded(runs[about[0]], about[2], "\0" in about[0]))
    return lines


def _about(message: str) -> tuple[str, str, str] | None:
    """A warning about one run: its cause with the run's id (as a whole word) made a placeholder (the
    key its runs share), the run's id, and its cause; None for any other warning."""
    about = _ABOUT_A_RUN.fullmatch(message)
    if about is None:
        return None
    run, cause = about["run"], about["cause"]
    return re.sub(rf"(?<![\w.-]){re.escape(run)}(?![\w.-])", "\0", cause), run, cause


def _folded(ids: list[str], cause: str, own: bool) -> str:
    each = f" (each run's own id in place of {ids[0]})" if own else ""
    return f"runs {named(ids)}: {cause}{each}"


def named(ids: list[str]) -> str:
    """'A', 'A and B', ... up to NAMED + 1 of them, else 'A, B, C and 9,997 more'."""
    if len(ids) <= 1:
        return "".join(ids)
    if len(ids) <= NAMED + 1:
        return f"{', '.join(ids[:-1])} and {ids[-1]}"
    return f"{', '.join(ids[:NAMED])} and {len(ids) - NAMED:,} more"
