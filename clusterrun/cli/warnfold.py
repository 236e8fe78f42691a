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
    keys = [_key(message) for message in listed]
    runs: dict[str, list[str]] = {}
    for key in keys:
        if key is not None:
            runs.setdefault(key[0], []).append(key[1])
    lines: list[str] = []
    for message, key in zip(listed, keys, strict=True):
        if key is None or len(runs[key[0]]) < FOLD_AT:
            lines.append(message)
        elif runs[key[0]][0] == key[1]:  # the first of its runs: the line for them all
            lines.append(_folded(runs[key[0]], message.split(": ", 1)[1], "\0" in key[0]))
    return lines


def _key(message: str) -> tuple[str, str] | None:
    """A warning about one run: its cause with the run's id (as a whole word) made a placeholder, and
    the run's id; None for any other warning."""
    about = _ABOUT_A_RUN.fullmatch(message)
    if about is None:
        return None
    run = about["run"]
    return re.sub(rf"(?<![\w.-]){re.escape(run)}(?![\w.-])", "\0", about["cause"]), run


def _folded(ids: list[str], cause: str, own: bool) -> str:
    if len(ids) <= NAMED + 1:
        named = f"{', '.join(ids[:-1])} and {ids[-1]}"
    else:
        named = f"{', '.join(ids[:NAMED])} and {len(ids) - NAMED:,} more"
    each = f" (each run's own id in place of {ids[0]})" if own else ""
    return f"runs {named}: {cause}{each}"
