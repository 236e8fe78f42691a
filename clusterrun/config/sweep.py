"""Expand a sweep into members: grid axes (cartesian product) x zipped lists x random samples.

Each member is a mapping of dotted config keys to values, applied on top of the base config. Random
samples come from a fixed sampling seed, so the same config always yields the same members.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from clusterrun.config.models import ExperimentSpec
from clusterrun.config.overrides import parse_value, set_path, split_top_level
from clusterrun.config.sections import RandomAxis, Sweep
from clusterrun.errors import UsageError

Values = dict[str, Any]
MAX_MEMBERS = 100_000  # members per submission


def parse_cli_axis(text: str) -> tuple[str, list[Any]]:
    """`params.lr=0.1,0.01` -> ('params.lr', [0.1, 0.01]); commas inside quotes or brackets do not split
    (`params.name='a,b',c` -> ['a,b', 'c']); `params.n=range(1,4)` -> [1, 2, 3], as Python's range."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not key or not raw.strip():
        raise UsageError(
            f"bad --sweep {text!r}", hint="use --sweep KEY=V1,V2,... e.g. --sweep params.lr=0.1,0.01"
        )
    match = _RANGE_RE.fullmatch(raw.strip())
    if match:
        return key, _range(text, match.group(1))
    try:
        parts = split_top_level(raw)
    except ValueError as exc:
        raise UsageError(
            f"bad --sweep {text!r}: {exc}",
            hint="close every quote and bracket, e.g. --sweep \"params.name='a,b',c\"",
        ) from None
    for part in parts:
        if _RANGE_RE.fullmatch(part.strip()):
            raise UsageError(
                f"bad --sweep {text!r}: range(...) must be the whole list of values",
                hint=f"give it alone, e.g. --sweep {key}={part.strip()}, or list the values",
            )
    if any(not part.strip() for part in parts):  # `0.1,,0.2` or a trailing comma: a typo, not a value
        raise UsageError(
            f"bad --sweep {text!r}: an empty value (two commas in a row, or one at an end)",
            hint=f"remove the extra comma; for an empty string as a value, quote it: --sweep \"{key}=a,''\"",
        )
    return key, [parse_value(part) for part in parts]


_RANGE_RE = re.compile(r"range\((.*)\)", re.S)
_MAX_RANGE = MAX_MEMBERS  # never build a list the submission refuses anyway


def _range(text: str, args: str) -> list[int]:
    hint = "range(start, stop[, step]) takes integers, as Python's, e.g. range(1,4) gives 1,2,3"
    try:
        numbers = [int(arg) for arg in args.split(",")]
    except ValueError:
        raise UsageError(f"bad --sweep {text!r}: range() takes integers", hint=hint) from None
    if not 1 <= len(numbers) <= 3:
        raise UsageError(f"bad --sweep {text!r}: range() takes 1 to 3 integers", hint=hint)
    if len(numbers) == 3 and numbers[2] == 0:
        raise UsageError(f"bad --sweep {text!r}: the step of range() must not be zero", hint=hint)
    values = range(*numbers)
    if not values:
        raise UsageError(f"bad --sweep {text!r}: the range is empty", hint=hint)
    if len(values) > _MAX_RANGE:
        raise UsageError(
            f"bad --sweep {text!r}: {len(values)} values", hint=f"at most {_MAX_RANGE} members per submission"
        )
    return list(values)


def _sample(axis: RandomAxis, rng: random.Random) -> Any:
    if axis.uniform is not None:
        return rng.uniform(*axis.uniform)
    if axis.loguniform is not None:
        low, high = axis.loguniform
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if axis.randint is not None:
        return rng.randint(*axis.randint)
    assert axis.choice is not None
    return rng.choice(axis.choice)


def _grid(sweep: Sweep | None, cli_axes: Sequence[str]) -> dict[str, list[Any]]:
    """The grid axes: the config's, then the command line's."""
    grid: dict[str, list[Any]] = dict(sweep.grid) if sweep else {}
    for text in cli_axes:
        key, values = parse_cli_axis(text)
        if key in grid or (sweep and (key in sweep.zipped or (sweep.random and key in sweep.random.axes))):
            raise UsageError(
                f"--sweep {key} is already an axis of the config's sweep", hint="remove one of them"
            )
        grid[key] = values
    return grid


def factor_sizes(sweep: Sweep | None, grid: dict[str, list[Any]]) -> list[tuple[str, int]]:
    """Each factor of the product of members and its size: every grid axis, the zipped lists (one
    factor), the random samples; computed from the axes, nothing expanded."""
    sizes = [(key, len(values)) for key, values in grid.items()]
    if sweep and sweep.zipped:
        sizes.append(("zip(" + ", ".join(sweep.zipped) + ")", len(next(iter(sweep.zipped.values())))))
    if sweep and sweep.random:
        sizes.append(("random", sweep.random.n))
    return sizes


def check_size(sizes: list[tuple[str, int]], limit: int = MAX_MEMBERS) -> int:
    """The number of members (the product of the factors); refused above `limit`, before any is built."""
    total = math.prod(size for _key, size in sizes)
    if total > limit:
        product = " x ".join(f"{key}: {size:,}" for key, size in sizes)
        raise UsageError(
            f"the sweep has {total:,} members ({product}); at most {limit:,} per submission",
            hint="narrow an axis, or split the sweep into several submissions (e.g. one per value of "
            "an axis, with an override)",
        )
    return total


def expand(sweep: Sweep | None, cli_axes: Sequence[str] = ()) -> list[Values]:
    """All members, in a stable order; [{}] when there is nothing to sweep. The size is checked from the
    axes first: a sweep over MAX_MEMBERS is refused before any member is built."""
    grid = _grid(sweep, cli_axes)
    check_size(factor_sizes(sweep, grid))
    factors: list[list[Values]] = []
    if grid:
        keys = list(grid)
        factors.append([dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())])
    if sweep and sweep.zipped:
        keys = list(sweep.zipped)
        factors.append(
            [dict(zip(keys, combo, strict=True)) for combo in zip(*sweep.zipped.values(), strict=True)]
        )
    if sweep and sweep.random:
        rng = random.Random(sweep.random.seed)
        axes = sweep.random.axes
        factors.append([{k: _sample(axes[k], rng) for k in sorted(axes)} for _ in range(sweep.random.n)])
    members: list[Values] = [{}]
    for factor in factors:
        members = [{**m, **f} for m in members for f in factor]
    return members


def describe(values: Values) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in values.items()) or "(base config)"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def apply_values(data: dict[str, Any], values: Values) -> dict[str, Any]:
    """A copy of raw config data with one member's swept values set (every key must already exist)."""
    result = copy.deepcopy(data)
    for key, value in values.items():
        set_path(result, key.split("."), value, adds=False, what=f"sweep axis {key!r}", model=ExperimentSpec)
    return result
