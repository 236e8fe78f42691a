"""Querying the registry: run states by name, `--where KEY OP VALUE` conditions, `--sort KEY` and
`--columns`, over one flat record per run (its fields, params, data, resources, metrics, tags, notes).

    params.lr<0.05    val_loss<=1.2    state==running    name~^resnet    tag==baseline    note~diverged

A key is `params.X`, `data.X`, `resources.X`, `metrics.X`, or a run field (run_id, name, state, backend,
job_id, node, elapsed, created, seed, sweep, tag, note); a bare name that is none of those is a metric,
else a param. Operators: < <= > >= == (or =) != and ~ / !~ (a case-insensitive regular expression
search). Numbers compare as numbers, anything else as text; a run without the key never matches. The
parser is a regular expression over the text: nothing is evaluated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterrun.errors import UsageError
from clusterrun.scheduler import STATES

#: clusterrun's own states before (or instead of) the scheduler's.
OWN_STATES = (
    "preparing",  # the directory was just made; its records follow (a killed submit: interrupted)
    "created",
    "smoke_passed",
    "smoke_failed",
    "dry_run",
    "interrupted",
    "submitting",
    "submit_failed",
    "not_submitted",
    "submitted",
)
#: Every state a run can be in, roughly in the order a run goes through them.
RUN_STATES: tuple[str, ...] = (
    *OWN_STATES,
    "pending",
    "running",
    "requeued",  # ran, and waits to run again (records/attempts.py)
    "suspended",
    *sorted(STATES - {"pending", "running", "suspended", "unknown"}),
    "unknown",
)
ENDED_STATES = tuple(sorted(STATES - {"pending", "running", "suspended", "unknown"}))
#: Words that stand for several states.
STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "active": ("submitting", "submitted", "pending", "running", "requeued", "suspended", "unknown"),
    "ended": ENDED_STATES,
}

#: Run fields a key may name without a prefix (elapsed is elapsed_seconds).
FIELDS = (
    "run_id",
    "name",
    "state",
    "backend",
    "job_id",
    "node",
    "elapsed",
    "created",
    "seed",
    "sweep",
    "tag",
    "note",
)
PREFIXES = ("params", "data", "resources", "metrics")
#: Keys known from the manifest and notes alone (a condition on them is checked before any scheduler query).
RECORD_KEYS = ("run_id", "name", "backend", "created", "seed", "sweep", "tag", "note")
OPERATORS = ("<=", ">=", "==", "!=", "!~", "<", ">", "=", "~")
_WHERE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_./]*)\s*(<=|>=|==|!=|!~|<|>|=|~)\s*(.*?)\s*", re.S)


def parse_states(text: str | None, option: str = "--state") -> frozenset[str] | None:
    """'failed,timeout' -> {'failed', 'timeout'}; 'active' and 'ended' stand for their states. An unknown
    word is a usage error with a did-you-mean, never an empty result."""
    if text is None:
        return None
    wanted: set[str] = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if not word:
            continue
        if word in STATE_GROUPS:
            wanted.update(STATE_GROUPS[word])
        elif word in RUN_STATES:
            wanted.add(word)
        else:
            close = difflib.get_close_matches(word, [*RUN_STATES, *STATE_GROUPS], n=1, cutoff=0.6)
            raise UsageError(
                f"{option} {word!r} is not a state",
                hint=(f"did you mean {close[0]}? " if close else "")
                + f"states: {', '.join(RUN_STATES)}; or active, ended",
            )
    if not wanted:
        raise UsageError(f"{option} names no state", hint=f"e.g. {option} failed,timeout")
    return frozenset(wanted)


@dataclass(frozen=True)
class Condition:
    """One `--where KEY OP VALUE`."""

    key: str
    op: str
    value: str
    text: str  # as written, for messages

    def matches(self, row: Mapping[str, Any]) -> bool:
        found, value = lookup(row, self.key)
        if not found or value is None:
            return False
        values = value if isinstance(value, list) else [value]  # tags: any of them
        if self.op in ("~", "!~"):
            pattern = _regex(self)
            hit = any(pattern.search(_text(v)) for v in values)
            return hit if self.op == "~" else not hit
        if self.op in ("==", "=", "!="):
            equal = any(_equal(v, self.value) for v in values)
            return equal if self.op != "!=" else not equal
        return any(_ordered(v, self.op, self.value) for v in values)


def parse_where(text: str) -> Condition:
    """`params.lr<0.05` -> Condition('params.lr', '<', '0.05'); quotes around the value are removed."""
    match = _WHERE.fullmatch(text)
    if not match:
        raise UsageError(
            f"--where {text!r} is not KEY OP VALUE",
            hint="e.g. --where 'params.lr<0.05', --where 'val_loss<=1.2', --where 'note~diverged' "
            f"(operators: {' '.join(OPERATORS)})",
        )
    key, op, value = match.groups()
    if op not in ("~", "!~") and value[:1] in ("<", ">", "=", "!"):  # `lr<<0.1`, `lr=>0.1`: a typo
        rest = value.lstrip("<>=!")
        written = op + value[: len(value) - len(rest)]  # `=>`: `>=` the other way round
        meant = written[::-1] if written[::-1] in OPERATORS else op
        raise UsageError(
            f"--where {text!r}: the value {value!r} starts with an operator",
            hint=f"did you mean --where '{key}{meant}{rest.strip()}'? (operators: {' '.join(OPERATORS)}; "
            f"quote a value to mean it as written: {key}{op}'{value}')",
        )
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    condition = Condition(key, op, value, text.strip())
    if op in ("~", "!~"):
        _regex(condition)  # a bad pattern is refused now, not for each run
    return condition


def _regex(condition: Condition) -> re.Pattern[str]:
    try:
        return re.compile(condition.value, re.I)
    except re.error as exc:
        raise UsageError(
            f"--where {condition.text!r}: {condition.value!r} is not a regular expression ({exc})",
            hint="escape special characters, e.g. 'note~lr=0\\.1'",
        ) from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(value: Any, wanted: str) -> bool:
    a, b = _number(value), _number(wanted)
    if a is not None and b is not None:
        return a == b
    return _text(value) == wanted or (isinstance(value, bool) and wanted.lower() == _text(value))


def _ordered(value: Any, op: str, wanted: str) -> bool:
    a, b = _number(value), _number(wanted)
    left: Any
    right: Any
    if a is not None and b is not None:
        left, right = a, b
    elif a is None and b is None:
        left, right = _text(value), wanted
    else:
        return False  # a number against text: no order
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def lookup(row: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a key in a run's flat record: exact, else `elapsed`/`tags` aliases, else a bare
    name as a metric, then as a param."""
    for candidate in _candidates(key):
        if candidate in row:
            return True, row[candidate]
    return False, None


def _candidates(key: str) -> list[str]:
    aliases = {"elapsed": "elapsed_seconds", "tags": "tag", "notes": "note", "id": "run_id"}
    key = aliases.get(key, key)
    if "." in key:
        return [key]
    return [key, f"metrics.{key}", f"params.{key}"]


def keys_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key some row has, as a user would write it (elapsed, not elapsed_seconds)."""
    out: dict[str, None] = {}
    for row in rows:
        for key in row:
            out["elapsed" if key == "elapsed_seconds" else key] = None
    return list(out)


def check_keys(keys: Sequence[str], rows: Sequence[Mapping[str, Any]], option: str) -> None:
    """A key no listed run has is a typo until shown otherwise: a usage error with a did-you-mean."""
    if not rows:
        return
    known = keys_of(rows)
    for key in keys:
        if any(lookup(row, key)[0] for row in rows) or key in FIELDS:
            continue
        bare = [k.split(".", 1)[-1] for k in known]
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [
            known[bare.index(m)] for m in difflib.get_close_matches(key, bare, n=1, cutoff=0.6)
        ]
        shown = ", ".join(k for k in known if k.startswith(("params.", "metrics.")))[:300]
        raise UsageError(
            f"{option} {key!r}: no run listed has it",
            hint=(f"did you mean {' or '.join(close)}? " if close else "")
            + f"keys: {', '.join(FIELDS)}, {shown or 'params.<name>, metrics.<name>'}",
        )


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool = False) -> list[dict[str, Any]]:
    """Rows ordered by one key (numbers before text); rows without it last, in their order."""
    have: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for row in rows:  # one pass: `row not in have` compared every row with every other (10,000: 1.5 s)
        found, value = lookup(row, key)
        (have if found and value is not None else missing).append(row)

    def order(row: dict[str, Any]) -> tuple[int, float, str]:
        value = lookup(row, key)[1]
        if isinstance(value, list):
            value = ",".join(map(str, value))
        number = _number(value)
        return (0, number, "") if number is not None else (1, 0.0, _text(value))

    numbers = sorted((r for r in have if order(r)[0] == 0), key=order, reverse=descending)
    texts = sorted((r for r in have if order(r)[0] == 1), key=order, reverse=descending)
    return numbers + texts + missing


def split_sort(text: str | None, descending: bool) -> tuple[str | None, bool]:
    """`-val_loss` -> ('val_loss', True); `--desc` reverses too."""
    if text is None:
        return None, descending
    text = text.strip()
    if text.startswith("-"):
        return text[1:], True
    if text.startswith("+"):
        return text[1:], descending
    return text, descending


def split_list(values: Sequence[str] | None) -> list[str]:
    """Repeated or comma-separated options (`--columns a,b --columns c`) -> ['a', 'b', 'c']."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
