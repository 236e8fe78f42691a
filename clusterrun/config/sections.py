"""The sections of an experiment config (resources, smoke, metrics, estimate, sweep), validated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clusterrun.config.resources import format_mem_mb, format_seconds, parse_mem_mb, parse_time_seconds

Scalar = str | int | float | bool | None
#: params named like credentials (hf_token, api_key, db_password) -- but not max_tokens or keypoints
_SECRET_PARAM_RE = re.compile(
    r"(^|_)(token|secret|password|passwd|api_?key|private_?key|credentials?)$", re.I
)


def no_newline(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be a single line (newlines could inject shell code)")
    return value


def scalar_map(value: dict[str, Scalar], what: str) -> dict[str, Scalar]:
    """Names usable as {placeholders} (identifiers), values on one line, no secrets (they would be
    written into config.yaml, command.sh and the manifest)."""
    for key, val in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{key!r}: {what} names must be identifiers (letters, digits, _)")
        if _SECRET_PARAM_RE.search(key) and val not in (None, ""):
            raise ValueError(
                f"{key} looks like a secret and would be written into the run record; pass it through an "
                "environment variable exported in your shell (the job inherits it) instead"
            )
        if isinstance(val, str):
            no_newline(val, f"{what} {key}")
    return value


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(FrozenModel):
    """What the job asks the scheduler for. `time` and `mem` are SLURM strings, normalised."""

    partition: str | None = None
    time: str = "00:10:00"
    nodes: int = Field(1, ge=1)
    cpus_per_task: int = Field(1, ge=1)
    mem: str = "1G"
    gpus: int = Field(0, ge=0)
    account: str | None = None
    qos: str | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> str:
        return format_seconds(parse_time_seconds(value))

    @field_validator("mem", mode="before")
    @classmethod
    def _mem(cls, value: Any) -> str:
        return format_mem_mb(parse_mem_mb(value))

    @field_validator("partition", "account", "qos")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.,:+-]+", value):
            raise ValueError("use letters, digits and _ . , : + - only")
        return value

    @property
    def time_seconds(self) -> int:
        return parse_time_seconds(self.time)

    @property
    def mem_mb(self) -> int:
        return parse_mem_mb(self.mem)


class Smoke(FrozenModel):
    """How to make the command run a single batch: param overrides, and a timeout in seconds."""

    params: dict[str, Scalar] = Field(default_factory=dict)
    timeout: int = Field(300, ge=1, le=24 * 3600)

    @field_validator("params")
    @classmethod
    def _single_line(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        return scalar_map(value, "smoke param")


class Metrics(FrozenModel):
    """Where metrics come from: a JSON-lines file the job writes, and regexes over its stdout."""

    file: str = "metrics.jsonl"
    patterns: dict[str, str] = Field(default_factory=dict)
    #: Metrics that legitimately differ between identical runs (timings): left out of reproduce verdicts.
    ignore: list[str] = Field(default_factory=list)

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError("must be a path relative to the run directory, without '..'")
        return value

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: invalid regular expression: {exc}") from None
            if compiled.groups < 1:
                raise ValueError(
                    f"{name}: the pattern needs one group around the number, e.g. 'loss=([0-9.eE+-]+)'"
                )
        return value


class Estimate(FrozenModel):
    """How to turn the smoke test's timing into an estimate of the full run."""

    steps_param: str | None = None  # the param holding the full run's number of steps, e.g. max_steps
    step_metric: str = "step"  # the key counting steps in the metrics file


class RandomAxis(FrozenModel):
    """One sampled axis: exactly one of the distributions."""

    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None  # both ends included
    choice: list[Scalar] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RandomAxis:
        given = [k for k in ("uniform", "loguniform", "randint", "choice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, loguniform, randint, choice")
        bounds = self.uniform or self.loguniform or self.randint
        if bounds is not None and bounds[0] > bounds[1]:
            raise ValueError(f"{given[0]}: the low end {bounds[0]} is above the high end {bounds[1]}")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError("loguniform needs positive bounds")
        if self.choice is not None and not self.choice:
            raise ValueError("choice needs at least one value")
        return self


class RandomSweep(FrozenModel):
    n: int = Field(ge=1, le=100_000)
    seed: int = 0  # the sampling seed: the same config always yields the same members
    axes: dict[str, RandomAxis]


class Sweep(FrozenModel):
    """Members are the product of grid axes, zipped lists and random samples (dotted override keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    grid: dict[str, list[Scalar]] = Field(default_factory=dict)
    zipped: dict[str, list[Scalar]] = Field(default_factory=dict, alias="zip")
    random: RandomSweep | None = None
    parallelism: int | None = Field(None, ge=1)  # at most this many members run at once (array %N)
    metric: str | None = None  # the metric that ranks members
    mode: Literal["min", "max"] = "min"

    @model_validator(mode="after")
    def _axes(self) -> Sweep:
        lengths = {k: len(v) for k, v in self.zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip lists must have the same length, got {lengths}")
        for key, values in {**self.grid, **self.zipped}.items():
            if not values:
                raise ValueError(f"axis {key} has no values")
        keys = list(self.grid) + list(self.zipped) + list(self.random.axes if self.random else [])
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"axis {', '.join(dupes)} appears more than once")
        for key in keys:
            if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key) or key.split(".")[0] in (
                "sweep",
                "name",
            ):
                raise ValueError(f"axis {key!r}: use a dotted config key such as params.lr or data.split")
        return self
