"""Expand a sweep into members: grid axes (cartesian product) x zipped lists x random samples.

Each member is a mapping of dotted config keys to values, applied on top of the base config. Random
samples come from a fixed sampling seed, so the same config always yields the same members.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

from clusterrun.config import RandomAxis, Sweep, yaml_load
from clusterrun.errors import UsageError

Values = dict[str, Any]


def parse_cli_axis(text: str) -> tuple[str, list[Any]]:
    """`params.lr=0.1,0.01` -> ('params.lr', [0.1, 0.01])."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not key or not raw.strip():
        raise UsageError(
            f"bad --sweep {text!r}", hint="use --sweep KEY=V1,V2,... e.g. --sweep params.lr=0.1,0.01"
        )
    values = [yaml_load(part) if part.strip() else "" for part in raw.split(",")]
    return key, values


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


def expand(sweep: Sweep | None, cli_axes: Sequence[str] = ()) -> list[Values]:
    """All members, in a stable order; [{}] when there is nothing to sweep."""
    grid: dict[str, list[Any]] = dict(sweep.grid) if sweep else {}
    for text in cli_axes:
        key, values = parse_cli_axis(text)
        if key in grid or (sweep and (key in sweep.zipped or (sweep.random and key in sweep.random.axes))):
            raise UsageError(
                f"--sweep {key} is already an axis of the config's sweep", hint="remove one of them"
            )
        grid[key] = values
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
