"""The environment variables that tune clusterrun: one table (name, kind, bounds, default, what it
does) and one reader.

A value that is not a number in bounds is refused where clusterrun starts (the CLI, before anything is
recorded; the Python API's calls), with its cause and a fix, exit 2 (`check_all`). The readers deep in
the code (`number`) fall back to the default instead of raising, so a job or a forked worker never fails
halfway over a tuning knob. site/cli.md lists the table (scripts/gen_cli_reference.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from clusterrun.errors import UsageError


@dataclass(frozen=True)
class Knob:
    name: str
    default: float  # math.inf: no limit
    minimum: float
    whole: bool  # a whole number (a count), else seconds (a decimal is fine)
    above: bool  # the value must be greater than `minimum`, not equal to it
    meaning: str

    def describe_bounds(self) -> str:
        kind = "a whole number" if self.whole else "a number of seconds"
        relation = ">" if self.above else ">="
        return f"{kind} {relation} {self.minimum:g}"


WORKERS = Knob(
    "CLUSTERRUN_WORKERS",
    4,
    1,
    True,
    False,
    "the most processes that record many ended runs (`status`) or make a sweep's members (`submit`) "
    "at once; 1: one process, no fork",
)
LOST_AFTER = Knob(
    "CLUSTERRUN_LOST_AFTER",
    600,
    0,
    False,
    False,
    "the seconds after which a run no source knows any more (scheduler, exit record, its files) is `lost`",
)
SBATCH_TIMEOUT = Knob(
    "CLUSTERRUN_SBATCH_TIMEOUT",
    60,
    0,
    False,
    True,
    "the seconds sbatch may take; then the job is looked for by its name, never taken as refused",
)
POLL_MAX_AGE = Knob(
    "CLUSTERRUN_POLL_MAX_AGE",
    2,
    0,
    False,
    False,
    "the seconds one poll's answer is shared with this user's other clusterrun processes (watchers)",
)
WATCH_POLL = Knob(
    "CLUSTERRUN_WATCH_POLL",
    5,
    1,
    False,
    False,
    "the seconds between a watch's questions to the scheduler (`status --watch`, `submit --wait`, "
    "`logs -f`), one question shared by all of this registry's watches: an end shows within about that long",
)
WAIT_TIMEOUT = Knob(
    "CLUSTERRUN_WAIT_TIMEOUT",
    math.inf,
    0,
    False,
    True,
    "the overall limit in seconds of a wait (`status --watch`, `submit --wait`, `logs -f`) without --timeout",
)
KNOBS: tuple[Knob, ...] = (WORKERS, LOST_AFTER, SBATCH_TIMEOUT, POLL_MAX_AGE, WATCH_POLL, WAIT_TIMEOUT)


def _shown(value: float) -> str:
    return "no limit" if math.isinf(value) else f"{value:g}"


def parse(knob: Knob, environ: Mapping[str, str] | None = None) -> float:
    """The knob's value from the environment (its default when unset or empty); UsageError, with the
    fix, for anything else than a number in bounds."""
    text = (os.environ if environ is None else environ).get(knob.name, "").strip()
    if not text:
        return knob.default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if (
        not math.isfinite(value)
        or (knob.whole and not value.is_integer())
        or value < knob.minimum
        or (knob.above and value == knob.minimum)
    ):
        raise UsageError(
            f"{knob.name}={text!r} is not {knob.describe_bounds()}",
            hint=f"set {knob.describe_bounds()}, or unset it for the default ({_shown(knob.default)}); "
            "what each variable does: site/cli.md, Environment variables",
        )
    return int(value) if knob.whole else value


def number(knob: Knob) -> float:
    """The knob's value, or its default when the value is bad (refused earlier by check_all)."""
    try:
        return parse(knob)
    except UsageError:
        return knob.default


def check_all(environ: Mapping[str, str] | None = None) -> None:
    """UsageError for the first knob set to a bad value."""
    for knob in KNOBS:
        parse(knob, environ)


def reference() -> str:
    """The table site/cli.md shows."""
    lines = [
        "## Environment variables",
        "",
        "Numbers that tune clusterrun. A bad value is refused before a command does anything (exit 2).",
        "",
        "| variable | value | default | what it sets |",
        "|---|---|---|---|",
    ]
    for knob in KNOBS:
        lines.append(
            f"| `{knob.name}` | {knob.describe_bounds()} | {_shown(knob.default)} | {knob.meaning} |"
        )
    return "\n".join(lines) + "\n"
