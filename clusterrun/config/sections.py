"""The sections of an experiment config (resources, smoke, metrics, estimate, sweep), validated."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from clusterrun.config.redact import refusal
from clusterrun.config.requeue import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REQUEUE_ON,
    DEFAULT_SIGNAL,
    DEFAULT_SIGNAL_GRACE,
    MAX_ATTEMPTS_BOUNDS,
    SIGNAL_GRACE_BOUNDS,
    RequeueReason,
    RequeueSignal,
    reasons_of,
    signal_of,
)
from clusterrun.config.resources import (
    MAIL_TYPES,
    format_mem_mb,
    format_seconds,
    parse_gpus,
    parse_mem_mb,
    parse_time_seconds,
    sbatch_option,
)

Scalar = str | int | float | bool | None


def no_newline(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be a single line (newlines could inject shell code)")
    return value


def scalar_map(value: dict[str, Scalar], what: str) -> dict[str, Scalar]:
    """Names usable as {placeholders} (identifiers), values on one line, no secrets (they would be
    written into config.yaml, command.sh and the manifest): secret names (hf_token, db_password, but
    not max_tokens or pad_token) and secret values (postgres://u:pw@h, ghp_...), config/redact.py."""
    for key, val in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{key!r}: {what} names must be identifiers (letters, digits, _)")
        problem = refusal(key, key, val)
        if problem:
            raise ValueError(problem)
        if isinstance(val, str):
            no_newline(val, f"{what} {key}")
    return value


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Resources(FrozenModel):
    """What the job asks the scheduler for. `time` and `mem` are SLURM strings, normalised; `mem` and
    `gpus` are per node; a job runs `nodes` x `tasks_per_node` processes (ranks) of the command."""

    partition: str | None = None
    time: str = "00:10:00"
    nodes: int = Field(1, ge=1)
    tasks_per_node: int = Field(1, ge=1)  # processes of the command per node (srun), or torchrun's
    cpus_per_task: int = Field(1, ge=1)
    mem: str = "1G"
    gpus: int = Field(0, ge=0)  # per node; `a100:2` sets gpu_type too; gpus_per_node is the same key
    gpus_per_task: int = Field(0, ge=0)  # instead of gpus: per process (rank)
    gpu_type: str | None = None  # e.g. a100: gres gpu:a100:N
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None  # node features, SLURM syntax (e.g. "a100|h100")
    exclusive: bool = False  # whole nodes, shared with no other job
    reservation: str | None = None
    mail_type: str | None = None  # e.g. END,FAIL
    mail_user: str | None = None
    after: list[str] = Field(default_factory=list)  # run ids: start once they ended (afterany)
    afterok: list[str] = Field(default_factory=list)  # run ids: start once they completed successfully
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)  # other sbatch options
    launcher: Literal["srun", "torchrun"] = "srun"  # torchrun: one task per node runs the torchrun command

    @model_validator(mode="before")
    @classmethod
    def _gpu_spellings(cls, data: Any) -> Any:
        """`gpus_per_node` is `gpus`; `gpus: a100:2` (or gpus_per_task: a100:1) is a type and a count."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "gpus_per_node" in data:
            alias = data.pop("gpus_per_node")
            if "gpus" in data and data["gpus"] != alias:
                raise ValueError("give gpus or gpus_per_node (the same key), not both")
            data["gpus"] = alias
        for key in ("gpus", "gpus_per_task"):
            value = data.get(key)
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                continue
            try:
                kind, count = parse_gpus(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
            data[key] = count
            if kind is not None:
                if data.get("gpu_type") not in (None, kind):
                    raise ValueError(
                        f"{key}={value} names type {kind!r} but gpu_type is {data['gpu_type']!r}"
                    )
                data["gpu_type"] = kind
        return data

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> str:
        return format_seconds(parse_time_seconds(value))

    @field_validator("mem", mode="before")
    @classmethod
    def _mem(cls, value: Any) -> str:
        return format_mem_mb(parse_mem_mb(value))

    @field_validator("partition", "account", "qos", "gpu_type", "reservation")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.,:+-]+", value):
            raise ValueError("use letters, digits and _ . , : + - only")
        return value

    @field_validator("constraint")
    @classmethod
    def _constraint(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.,:+\-&|\[\]()*]+", value):
            raise ValueError("use feature names joined with & | , and [ ] ( ) * as sbatch --constraint does")
        return value

    @field_validator("mail_type", mode="before")
    @classmethod
    def _mail_type(cls, value: Any) -> str | None:
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        kinds = [str(item).strip().upper() for item in items if str(item).strip()]
        unknown = [k for k in kinds if k not in MAIL_TYPES]
        if unknown or not kinds:
            raise ValueError(
                f"{', '.join(unknown) or '(empty)'} is not a mail type; use {', '.join(sorted(MAIL_TYPES))}"
            )
        return ",".join(kinds)

    @field_validator("mail_user")
    @classmethod
    def _mail_user(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.+-]+(@[A-Za-z0-9.-]+)?", value):
            raise ValueError("give a user name or an e-mail address")
        return value

    @field_validator("after", "afterok", mode="before")
    @classmethod
    def _run_ids(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError("give run ids: a list, or one id")
        ids = [str(item).strip() for item in items if str(item).strip()]
        for run_id in ids:
            if not re.fullmatch(r"[A-Za-z0-9@][A-Za-z0-9._@-]*", run_id):
                raise ValueError(f"{run_id!r} is not a run id")
        return list(dict.fromkeys(ids))

    @field_validator("extra", mode="before")
    @classmethod
    def _extra(cls, value: Any) -> dict[str, str | int | float | bool]:
        if not isinstance(value, dict):
            raise ValueError("give a mapping of sbatch options to values, e.g. {exclude: node07}")
        out: dict[str, str | int | float | bool] = {}
        for key, val in value.items():
            name = sbatch_option(str(key))
            if val is False or val is None:
                raise ValueError(f"{key}: leave the option out instead of setting it to {val}")
            if not isinstance(val, str | int | float | bool):
                raise ValueError(f"{key}: give one value (text or a number), or true for a flag")
            if isinstance(val, str):
                no_newline(val, f"resources.extra {key}")
            out[name] = val
        return dict(sorted(out.items()))

    @model_validator(mode="after")
    def _consistent(self) -> Resources:
        if self.gpus and self.gpus_per_task:
            raise ValueError("give gpus (per node) or gpus_per_task, not both")
        if self.gpu_type and not self.gpus_per_node:
            raise ValueError(
                f"gpu_type is {self.gpu_type!r} but no GPU is requested (gpus: {self.gpu_type}:1)"
            )
        gres = str(self.extra.get("gres", ""))
        if "gpu" in gres and self.gpus_per_node:
            raise ValueError("extra.gres asks for GPUs too: use gpus (with a type: gpus: a100:2) only")
        return self

    @property
    def time_seconds(self) -> int:
        return parse_time_seconds(self.time)

    @property
    def mem_mb(self) -> int:
        return parse_mem_mb(self.mem)

    @property
    def world_size(self) -> int:
        """Processes (ranks) of the command: nodes x tasks_per_node."""
        return self.nodes * self.tasks_per_node

    @property
    def gpus_per_node(self) -> int:
        return self.gpus or self.gpus_per_task * self.tasks_per_node

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.nodes

    @property
    def total_cpus(self) -> int:
        return self.cpus_per_task * self.tasks_per_node * self.nodes

    @property
    def dependencies(self) -> dict[str, list[str]]:
        """SLURM dependency type -> run ids: after is afterany (ended, whatever the state)."""
        return {k: v for k, v in (("afterany", self.after), ("afterok", self.afterok)) if v}


class Smoke(FrozenModel):
    """How to make the command run a single batch: param overrides (or a command of its own), and a
    timeout in seconds; `probe` for a command nothing makes short: it passes if it has not failed by
    the timeout."""

    params: dict[str, Scalar] = Field(default_factory=dict)
    timeout: int = Field(300, ge=1, le=24 * 3600)
    command: list[str] | None = None  # the smoke test's own argv template, instead of `command`
    probe: bool = False  # run for at most `timeout` s; still running then (no failure) is a pass

    @field_validator("params")
    @classmethod
    def _single_line(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        return scalar_map(value, "smoke param")

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            no_newline(value, "smoke.command")
            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command like a shell would: {exc}") from None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(t, str | int | float) for t in value)
        ):
            raise ValueError("give a string such as 'python train.py --epochs 1' or a list of strings")
        return [no_newline(str(t), "smoke.command") for t in value]

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`command` and `probe` only when set: configs without them resolve (and hash) as before."""
        data: dict[str, Any] = handler(self)
        if self.command is None:
            data.pop("command", None)
        if not self.probe:
            data.pop("probe", None)
        return data


METRIC_RANKS = ("0", "all")  # metrics.ranks: rank 0's metrics only, or every rank's too


class Metrics(FrozenModel):
    """Where metrics come from: a JSON-lines file the job writes, and regexes over stdout or stderr."""

    file: str = "metrics.jsonl"
    patterns: dict[str, str] = Field(default_factory=dict)
    #: Metrics that legitimately differ between identical runs (timings): left out of reproduce verdicts.
    ignore: list[str] = Field(default_factory=list)
    #: Whose metrics the summary reports: rank 0's (the run's metrics), or also every rank's (`all`).
    ranks: Literal["0", "all"] = "0"

    @field_validator("ranks", mode="before")
    @classmethod
    def _ranks(cls, value: Any) -> str:
        text = str(value).strip().lower() if isinstance(value, str | int) and value is not True else value
        if text not in METRIC_RANKS:
            raise ValueError(f"{value!r} is not a choice; use {' or '.join(repr(c) for c in METRIC_RANKS)}")
        return str(text)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`ranks` only when `all`: configs without it resolve (and hash) as before."""
        data: dict[str, Any] = handler(self)
        if self.ranks == "0":
            data.pop("ranks", None)
        return data

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

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    grid: dict[str, list[Scalar]] = Field(default_factory=dict)
    zipped: dict[str, list[Scalar]] = Field(default_factory=dict, alias="zip")
    random: RandomSweep | None = None
    parallelism: int | None = Field(None, ge=1)  # at most this many members run at once (array %N)
    metric: str | None = None  # the metric that ranks members
    mode: Literal["min", "max"] | None = None  # None: from the metric's name (history.metric_mode)

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


class Requeue(FrozenModel):
    """When a job runs again, as the same job id, after its attempt was cut short (site/guides: long jobs).

    preemption, node_fail: SLURM requeues the job itself (the job is submitted with --requeue);
    timeout: clusterrun's job wrapper requeues it (`scontrol requeue`) once SIGUSR2 came `signal_grace`
    seconds before the time limit and the command stopped. At most `max_attempts` attempts in all."""

    # a run's record is read back as config/requeue.py's RequeuePolicy (no pydantic on the job side)

    on: list[RequeueReason] = Field(default_factory=lambda: list(DEFAULT_REQUEUE_ON))
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=MAX_ATTEMPTS_BOUNDS[0], le=MAX_ATTEMPTS_BOUNDS[1])
    # seconds between SIGUSR2 and the time limit
    signal_grace: int = Field(DEFAULT_SIGNAL_GRACE, ge=SIGNAL_GRACE_BOUNDS[0], le=SIGNAL_GRACE_BOUNDS[1])
    # the signal the command gets then: USR2, or USR1 (PyTorch Lightning's auto-requeue)
    signal: RequeueSignal = DEFAULT_SIGNAL

    @field_validator("on", mode="before")
    @classmethod
    def _reasons(cls, value: Any) -> list[str]:
        return reasons_of(value)

    @field_validator("signal", mode="before")
    @classmethod
    def _signal(cls, value: Any) -> str:
        return signal_of(value)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`signal` only when not USR2: configs without it resolve (and hash) as before."""
        data: dict[str, Any] = handler(self)
        if self.signal == DEFAULT_SIGNAL:
            data.pop("signal", None)
        return data

    @property
    def enabled(self) -> bool:
        """Whether the job may run more than once (submitted requeueable)."""
        return bool(self.on) and self.max_attempts > 1

    def allows(self, reason: str) -> bool:
        """Whether an attempt that ended for `reason` (preemption, node_fail, timeout) may be followed."""
        return self.enabled and reason in self.on


#: The dotted key of a value in a config file of the project's own (`optim.lr`, `train.epochs`, `seed`).
_FILE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
CONFIG_FILE_SUFFIXES = (".yaml", ".yml", ".json")


class ConfigFile(FrozenModel):
    """A settings file of the project's own that its script reads (`python train.py --config
    configs/base.yaml`): each run is given its own copy of it, read from the run's snapshot, with `set`
    written into it, at `{config_file}` (the command passes that path)."""

    #: The file in the repository, relative to the folder the command runs in (cwd).
    path: str
    #: Dotted key in the file -> its value in the run's copy: a param (`"{lr}"`, keeping its type), the
    #: run's seed (`"{seed}"`), or a literal.
    set: dict[str, Scalar] = Field(default_factory=dict)

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("give the file's path in the repository, e.g. configs/base.yaml")
        text = value.strip().replace("\\", "/")
        if text.startswith("/") or ".." in text.split("/"):
            raise ValueError(
                f"{value!r} is not inside the repository: give its path relative to the folder the command "
                "runs in, without '..'; the run's copy is made from the snapshot"
            )
        if Path(text).suffix.lower() not in CONFIG_FILE_SUFFIXES:
            raise ValueError(f"{value!r}: a YAML or JSON file is read ({', '.join(CONFIG_FILE_SUFFIXES)})")
        return text

    @field_validator("set", mode="before")
    @classmethod
    def _set(cls, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("give a mapping of dotted keys to values, e.g. {optim.lr: '{lr}'}")
        flat: dict[str, Any] = {}
        for key, item in _dotted(value):
            if not _FILE_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a dotted key of the file (e.g. optim.lr)")
            if isinstance(item, list):
                raise ValueError(f"{key}: one value (quote a placeholder: '{{lr}}'), not a list")
            flat[key] = item
        return flat


def _dotted(value: dict[Any, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A mapping's leaves as (dotted key, value): `optim: {lr: x}` (or the override
    config_file.set.optim.lr=x) is `optim.lr: x`."""
    pairs: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            pairs += _dotted(item, name + ".")
        else:
            pairs.append((name, item))
    return pairs
