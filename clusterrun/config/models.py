"""ExperimentSpec: a fully resolved, validated experiment, and raw data -> spec with readable errors."""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from clusterrun.config.placeholders import (
    BUILTIN_PLACEHOLDERS,
    CONFIG_FILE_PLACEHOLDER,
    placeholders,
    unused_params,
)
from clusterrun.config.redact import redact_text, refusal
from clusterrun.config.sections import (
    ConfigFile,
    Estimate,
    FrozenModel,
    Metrics,
    Requeue,
    Resources,
    Scalar,
    Smoke,
    Sweep,
    no_newline,
    scalar_map,
)
from clusterrun.errors import ConfigError

DEFAULT_SEED = 42
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@functools.lru_cache(maxsize=64)
def _command_tokens(value: str) -> tuple[str, ...]:
    """A command string split as a shell would, and checked (ValueError: why it cannot be one)."""
    no_newline(value, "command")
    try:
        tokens = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot split the command like a shell would: {exc}") from None
    return _checked_tokens(tuple(tokens))


def _checked_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    if not tokens:
        raise ValueError("the command is empty")
    for token in tokens:
        no_newline(token, "command")
        problem = refusal(f"the command's argument {token!r}", "", token)
        if problem:
            raise ValueError(redact_text(problem))
    return tokens


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ExperimentSpec(FrozenModel):
    """A fully resolved, validated experiment. Every default is explicit; the seed always is."""

    name: str
    command: list[str]
    params: dict[str, Scalar] = Field(default_factory=dict)
    seed: int = Field(DEFAULT_SEED, ge=0, le=2**32 - 1)
    smoke: Smoke = Field(default_factory=Smoke)
    resources: Resources = Field(default_factory=Resources)
    setup: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    metrics: Metrics = Field(default_factory=Metrics)
    data: dict[str, Scalar] = Field(
        default_factory=dict
    )  # dataset, split, path...: {data.split} in the command
    estimate: Estimate = Field(default_factory=Estimate)
    cluster: str | None = None  # a profile in configs/clusters/<name>.yaml
    sweep: Sweep | None = None
    description: str = ""
    requeue: Requeue = Field(default_factory=Requeue)  # preemption, time limits: attempts
    #: The folder of the repository the command runs in, relative to its top (a project in a monorepo:
    #: projects/vision); relative paths in the command, params and data: are relative to it.
    cwd: str = "."
    #: A settings file of the project's own its script reads: each run gets a copy with params in it.
    config_file: ConfigFile | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> list[str]:
        if isinstance(value, str):  # a sweep's members all give the same string: split and checked once
            return list(_command_tokens(value))
        if isinstance(value, list) and all(isinstance(t, str | int | float) for t in value):
            return list(_checked_tokens(tuple(str(t) for t in value)))
        raise ValueError("give a string such as 'python train.py --lr {lr}' or a list of strings")

    @field_validator("setup")
    @classmethod
    def _setup(cls, value: list[str]) -> list[str]:
        for line in value:
            problem = refusal(f"the setup line {line!r}", "", line)
            if problem:
                raise ValueError(redact_text(problem))
        return [no_newline(line, "each setup line") for line in value]

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ValueError("give a mapping of variable names to values")
        out: dict[str, str] = {}
        for key, val in value.items():
            if not isinstance(key, str) or not _ENV_NAME_RE.fullmatch(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            problem = refusal(key, key, val, name_alone=True)
            if problem:
                raise ValueError(problem)
            if isinstance(val, bool):
                val = "1" if val else "0"
            if isinstance(val, Mapping):  # `LR: {lr}` is a YAML mapping, not a placeholder
                raise ValueError(f"{key}: value must be a string or number; quote a placeholder: '{{lr}}'")
            if not isinstance(val, str | int | float):
                raise ValueError(f"{key}: value must be a string or number")
            out[key] = no_newline(str(val), f"env {key}")
        return out

    @field_validator("cwd", mode="before")
    @classmethod
    def _cwd(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("give a folder of the repository relative to its top, e.g. 'projects/vision'")
        no_newline(value, "cwd")
        text = value.strip().replace("\\", "/")
        if text.startswith("/") or ".." in text.split("/"):
            raise ValueError(
                f"{value!r} is not inside the repository: give a folder relative to its top, without '..' "
                "(e.g. 'projects/vision'); the command runs there in the run's own copy of the code"
            )
        return posixpath.normpath(text)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`cwd` only when not the top: configs without it resolve (and hash) as before."""
        data: dict[str, Any] = handler(self)
        if self.cwd == ".":
            data.pop("cwd", None)
        if self.config_file is None:
            data.pop("config_file", None)
        return data

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        return scalar_map(value, "data key")

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for key in value:
            if key in BUILTIN_PLACEHOLDERS:
                raise ValueError(f"{key!r} is reserved; set the seed with the top-level 'seed' key")
        return scalar_map(value, "param")

    @model_validator(mode="after")
    def _placeholders_known(self) -> ExperimentSpec:
        known = set(self.params) | set(BUILTIN_PLACEHOLDERS) | {f"data.{k}" for k in self.data}
        if self.config_file is None:
            known.discard(CONFIG_FILE_PLACEHOLDER)
        for key, value in self.config_file.set.items() if self.config_file else ():
            for field in placeholders(value, f"config_file.set {key}") if isinstance(value, str) else []:
                if field not in known or field == CONFIG_FILE_PLACEHOLDER:
                    raise ValueError(
                        f"config_file.set {key} uses {{{field}}} but there is no param {field!r}; "
                        f"available: {', '.join(sorted(known - {CONFIG_FILE_PLACEHOLDER}))}"
                    )
        for where, tokens in (("command", self.command), ("smoke.command", self.smoke.command or [])):
            for token in tokens:
                for field in placeholders(token):
                    if field not in known:
                        raise ValueError(
                            f"{where} uses {{{field}}} but there is no param {field!r}; "
                            f"available: {', '.join(sorted(known))}"
                        )
        for name, value in self.env.items():
            for field in placeholders(value, f"env {name}"):
                if field not in known:
                    raise ValueError(
                        f"env {name} uses {{{field}}} but there is no param {field!r}; "
                        f"available: {', '.join(sorted(known))} (write {{{{ and }}}} for a literal brace)"
                    )
        uses_file = any(
            CONFIG_FILE_PLACEHOLDER in placeholders(t) for t in [*self.command, *self.env.values()]
        )
        if self.config_file is not None and not uses_file:
            raise ValueError(
                f"config_file is set, but neither the command nor env passes its copy: add "
                f"{{{CONFIG_FILE_PLACEHOLDER}}} where the script takes it (e.g. --config {{config_file}})"
            )
        if self.estimate.steps_param is not None and self.estimate.steps_param not in self.params:
            raise ValueError(
                f"estimate.steps_param is {self.estimate.steps_param!r}, which params does not define; "
                f"params are: {', '.join(sorted(self.params)) or '(none)'}"
            )
        unknown = sorted(set(self.smoke.params) - set(self.params))
        if unknown:
            raise ValueError(
                f"smoke.params sets {', '.join(unknown)}, which params does not define; "
                f"params are: {', '.join(sorted(self.params)) or '(none)'}"
            )
        return self

    @model_validator(mode="after")
    def _signal_before_limit(self) -> ExperimentSpec:
        """A time-limit requeue needs the signal to come while the job runs: grace below the limit."""
        limit = self.resources.time_seconds
        if "timeout" in self.requeue.on and self.requeue.signal_grace >= limit:
            raise ValueError(
                f"requeue.signal_grace is {self.requeue.signal_grace} s, not below resources.time "
                f"({self.resources.time}): SIGUSR2 would come before the job starts; lower it "
                f"(e.g. requeue.signal_grace={max(10, limit // 4)}) or raise resources.time"
            )
        return self

    @model_validator(mode="after")
    def _launcher(self) -> ExperimentSpec:
        """`launcher: torchrun` fills torchrun's rendezvous in (PET_* variables): the command starts it."""
        if self.resources.launcher == "torchrun" and not is_torchrun(self.command):
            raise ValueError(
                "resources.launcher is torchrun, so the command must start with torchrun (or python -m "
                "torch.distributed.run), e.g. 'torchrun train.py --lr {lr}': clusterrun fills in "
                "--nnodes, --nproc-per-node, --node-rank and the master address; or use launcher: srun"
            )
        return self

    def resolved(self) -> dict[str, Any]:
        """The full config as plain data, defaults included (what config.yaml holds)."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.resolved()).encode()).hexdigest()[:16]

    def smoke_command_gaps(self) -> list[str]:
        """What of the command its own smoke.command leaves out: another program, or options (`--lr`)
        the run passes and the smoke test does not (so it never tries them). A value given only to the
        smoke test, or another value for an option both pass, is the point of smoke.command."""
        smoke = self.smoke.command
        if not smoke or not self.command:
            return []
        if smoke[0] != self.command[0]:
            return [self.command[0]]
        flags = {token.split("=", 1)[0] for token in smoke if token.startswith("-")}
        return [
            token.split("=", 1)[0]
            for token in self.command[1:]
            if token.startswith("--") and token.split("=", 1)[0] not in flags
        ]

    def unused_params(self) -> list[str]:
        """Params that neither the command nor an env value nor config_file.set uses as a {placeholder}:
        they change nothing."""
        return unused_params(self.params, self.command, self.passed_texts())

    def passed_texts(self) -> dict[str, str]:
        """The env values and config_file.set's texts: with the command, what hands params to the job
        (their {placeholders}); RecordedConfig.passed_texts reads the same from a record."""
        texts = {f"env {k}": v for k, v in self.env.items()}
        for key, value in self.config_file.set.items() if self.config_file else ():
            if isinstance(value, str):
                texts[f"config_file {key}"] = value
        return texts


def is_torchrun(command: Sequence[str]) -> bool:
    """`torchrun ...`, `/path/to/torchrun ...` or `python[3] -m torch.distributed.run ...`."""
    if not command:
        return False
    if command[0].rsplit("/", 1)[-1] == "torchrun":
        return True
    return command[0].rsplit("/", 1)[-1].startswith("python") and list(command[1:3]) == [
        "-m",
        "torch.distributed.run",
    ]


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def closest_key(word: str, keys: list[str]) -> str:
    """The key a mistyped `word` most likely meant: a near spelling (gpu -> gpus, partiton -> partition),
    else the one key that `word` begins or ends as a whole part (cpus -> cpus_per_task, not gpus), else
    the closest spelling; '' when none is close."""
    near = difflib.get_close_matches(word, keys, 1, cutoff=0.85)
    if near:
        return near[0]
    parts = [key for key in keys if key.startswith(f"{word}_") or key.endswith(f"_{word}")]
    if len(parts) == 1:
        return parts[0]
    close = difflib.get_close_matches(word, keys, 1)
    return close[0] if close else ""


#: the members of sections.Scalar, as pydantic names them at the end of an error's location
SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def _one_value_expected(source: str, exc: ValidationError) -> ConfigError | None:
    """A list or a mapping where one value (sections.Scalar) is expected: pydantic says so once per
    member of the union ('params.lr.str: Input should be a valid string (and 3 more problems)'); said
    here once, and for a param given several values, how to run one job per value (a sweep)."""
    errors = exc.errors()
    loc = tuple(errors[0]["loc"])
    if len(loc) < 2 or str(loc[-1]) not in SCALAR_TAGS:
        return None
    field = loc[:-1]
    same = [e for e in errors if tuple(e["loc"][:-1]) == field and str(e["loc"][-1]) in SCALAR_TAGS]
    given = errors[0].get("input")
    kind = "a list" if isinstance(given, list) else "a mapping" if isinstance(given, dict) else "a value"
    key = ".".join(str(part) for part in field)
    message = f"{source}: {key}: {kind} where one value is expected (text, a number, true or false)"
    more = len(errors) - len(same)
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    file = source.removesuffix(" (with overrides)")
    if isinstance(given, list) and field[0] == "params" and given:
        values = ",".join(str(value) for value in given)
        hint = (
            f"to run one job per value, make it a sweep: --sweep {key}={values} on the command line, or "
            f"'sweep: {{grid: {{{key}: [...]}}}}' in {file}"
        )
    else:
        hint = f"give {key} one value, in {file} or with an override ({key}=VALUE)"
    return ConfigError(message, hint=hint)


def _format_validation_error(source: str, exc: ValidationError) -> ConfigError:
    one_value = _one_value_expected(source, exc)
    if one_value is not None:
        return one_value
    errors = exc.errors()
    first = errors[0]
    if first["type"] == "missing":  # `comand:` makes 'command' missing: the unknown key is the cause
        level = tuple(first["loc"][:-1])
        typo = [e for e in errors if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == level]
        first = typo[0] if typo else first
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = _model_at(first["loc"][:-1])
        valid = ", ".join(parent.model_fields) if parent else ""
        message = f"{source}: unknown key {loc!r}" + (f"; valid keys here: {valid}" if valid else "")
        close = closest_key(str(first["loc"][-1]), list(parent.model_fields) if parent else [])
        file = source.removesuffix(" (with overrides)")
        hint = (f"did you mean {close!r}? " if close else "check the spelling; ") + f"fix it in {file}"
    elif kind == "missing":
        message = f"{source}: missing required key {loc!r}"
        hint = "every config needs at least 'name' and 'command'"
    else:
        msg = first["msg"].removeprefix("Value error, ")
        message = f"{source}: {loc}: {msg}" if first["loc"] else f"{source}: {msg}"
        hint = "fix that value in the file or with an override (KEY=VALUE)"
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, hint=hint)


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    model: type[BaseModel] = ExperimentSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def spec_from_data(data: Mapping[str, Any], source: str) -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise _format_validation_error(source, exc) from None
