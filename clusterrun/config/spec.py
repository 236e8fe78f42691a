"""Experiment configs: load YAML, apply `key=value` overrides, validate into a frozen ExperimentSpec."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clusterrun.config.resources import format_mem_mb, format_seconds, parse_mem_mb, parse_time_seconds
from clusterrun.errors import ConfigError, UsageError

DEFAULT_SEED = 42
#: Placeholders the command template may use besides the params.
BUILTIN_PLACEHOLDERS = ("seed", "run_dir")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: params named like credentials (hf_token, api_key, db_password) -- but not max_tokens or keypoints
_SECRET_PARAM_RE = re.compile(
    r"(^|_)(token|secret|password|passwd|api_?key|private_?key|credentials?)$", re.I
)
_SECRET_NAME_RE = re.compile(r"(TOKEN|SECRET|PASSW|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)", re.I)

Scalar = str | int | float | bool | None


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars: `10:00` stays a string (not 600), `1e-3` is a float,
    and only true/false are booleans (not yes/no/on/off)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[-1] not in ("int", "float", "bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)


def _no_newline(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be a single line (newlines could inject shell code)")
    return value


def _scalar_map(value: dict[str, Scalar], what: str) -> dict[str, Scalar]:
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
            _no_newline(val, f"{what} {key}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Model):
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


class Smoke(_Model):
    """How to make the command run a single batch: param overrides, and a timeout in seconds."""

    params: dict[str, Scalar] = Field(default_factory=dict)
    timeout: int = Field(300, ge=1, le=24 * 3600)

    @field_validator("params")
    @classmethod
    def _single_line(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        return _scalar_map(value, "smoke param")


class Metrics(_Model):
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


class Estimate(_Model):
    """How to turn the smoke test's timing into an estimate of the full run."""

    steps_param: str | None = None  # the param holding the full run's number of steps, e.g. max_steps
    step_metric: str = "step"  # the key counting steps in the metrics file


class RandomAxis(_Model):
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


class RandomSweep(_Model):
    n: int = Field(ge=1, le=100_000)
    seed: int = 0  # the sampling seed: the same config always yields the same members
    axes: dict[str, RandomAxis]


class Sweep(_Model):
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


class ExperimentSpec(_Model):
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

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            _no_newline(value, "command")
            try:
                tokens = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command like a shell would: {exc}") from None
        elif isinstance(value, list) and all(isinstance(t, str | int | float) for t in value):
            tokens = [str(t) for t in value]
        else:
            raise ValueError("give a string such as 'python train.py --lr {lr}' or a list of strings")
        if not tokens:
            raise ValueError("the command is empty")
        for token in tokens:
            _no_newline(token, "command")
        return tokens

    @field_validator("setup")
    @classmethod
    def _setup(cls, value: list[str]) -> list[str]:
        return [_no_newline(line, "each setup line") for line in value]

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ValueError("give a mapping of variable names to values")
        out: dict[str, str] = {}
        for key, val in value.items():
            if not isinstance(key, str) or not _ENV_NAME_RE.fullmatch(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if _SECRET_NAME_RE.search(key):
                raise ValueError(
                    f"{key} looks like a secret and would be written into the run record; "
                    "export it in your shell (the job inherits it) instead of putting it in a config"
                )
            if isinstance(val, bool):
                val = "1" if val else "0"
            if isinstance(val, Mapping):  # `LR: {lr}` is a YAML mapping, not a placeholder
                raise ValueError(f"{key}: value must be a string or number; quote a placeholder: '{{lr}}'")
            if not isinstance(val, str | int | float):
                raise ValueError(f"{key}: value must be a string or number")
            out[key] = _no_newline(str(val), f"env {key}")
        return out

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        return _scalar_map(value, "data key")

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for key in value:
            if key in BUILTIN_PLACEHOLDERS:
                raise ValueError(f"{key!r} is reserved; set the seed with the top-level 'seed' key")
        return _scalar_map(value, "param")

    @model_validator(mode="after")
    def _placeholders_known(self) -> ExperimentSpec:
        known = set(self.params) | set(BUILTIN_PLACEHOLDERS) | {f"data.{k}" for k in self.data}
        for token in self.command:
            for field in placeholders(token):
                if field not in known:
                    raise ValueError(
                        f"command uses {{{field}}} but there is no param {field!r}; "
                        f"available: {', '.join(sorted(known))}"
                    )
        for name, value in self.env.items():
            for field in placeholders(value, f"env {name}"):
                if field not in known:
                    raise ValueError(
                        f"env {name} uses {{{field}}} but there is no param {field!r}; "
                        f"available: {', '.join(sorted(known))} (write {{{{ and }}}} for a literal brace)"
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

    def resolved(self) -> dict[str, Any]:
        """The full config as plain data, defaults included (what config.yaml holds)."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.resolved()).encode()).hexdigest()[:16]

    def unused_params(self) -> list[str]:
        """Params that neither the command nor an env value uses as a {placeholder}: they change nothing."""
        return unused_params(self.params, self.command, self.env)


def used_placeholders(command: Sequence[str], env: Mapping[str, str]) -> set[str]:
    """Every {name} the command and the env values use (the params they pass on to the job)."""
    return {field for text in [*command, *env.values()] for field in placeholders(text)}


def unused_params(params: Mapping[str, Any], command: Sequence[str], env: Mapping[str, str]) -> list[str]:
    used = used_placeholders(command, env)
    return [name for name in params if name not in used]


def placeholders(token: str, where: str = "command token") -> list[str]:
    """The `{name}` fields of one command token (or env value); `{{` escapes a brace."""
    fields = []
    try:
        parsed = list(string.Formatter().parse(token))
    except ValueError as exc:
        raise ValueError(f"bad braces in {where} {token!r}: {exc} (write {{{{ for a literal brace)") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not re.fullmatch(r"(data\.)?[A-Za-z_][A-Za-z0-9_]*", field) or spec or conversion:
            raise ValueError(
                f"placeholder {{{field}}} in {token!r}: use a plain name such as {{lr}} or {{data.split}}"
            )
        fields.append(field)
    return fields


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


# --------------------------------------------------------------------------------------------- loading


def _yaml_location(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"config file {path} does not exist",
            hint="pass a YAML file, e.g. configs/examples/quickstart.yaml",
        )
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{path}: malformed YAML{_yaml_location(exc)}: {problem}",
            hint="check indentation and quoting near that line",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file", hint="save the config as UTF-8 YAML") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty", hint="see configs/examples/quickstart.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping (key: value), not {type(data).__name__}",
            hint="see configs/examples/quickstart.yaml",
        )
    return data


def parse_override(text: str) -> tuple[list[str], bool, Any]:
    """`params.lr=0.01` -> (['params', 'lr'], adds_key, 0.01); `+params.x=1` may add a new param."""
    key, eq, raw = text.partition("=")
    adds = key.startswith("+")
    key = key.lstrip("+")
    path = key.split(".")
    if not eq or not key or not all(re.fullmatch(r"[A-Za-z0-9_]+", part) for part in path):
        raise UsageError(
            f"bad override {text!r}: expected KEY=VALUE with a dotted key",
            hint="e.g. params.lr=0.01 resources.mem=8G seed=1",
        )
    _no_newline_override(text)
    if key not in _COMMA_KEYS and len(_top_level_or_whole(raw)) > 1:
        raise UsageError(
            f"override {text!r} has a comma: it would run ONE job with {key} set to the text {raw!r}",
            hint=f"to run one job per value use --sweep {key}={raw}; if the comma is meant, quote the "
            f"value: \"{key}='{raw}'\"",
        )
    return path, adds, parse_value(raw)


#: Keys whose values are text where a comma is ordinary (a partition list is SLURM syntax).
_COMMA_KEYS = frozenset({"command", "description", "resources.partition"})
_BRACKETS = {"[": "]", "{": "}", "(": ")"}


def parse_value(raw: str) -> Any:
    """A YAML scalar, or a list/mapping written with brackets; anything else stays the literal text."""
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, dict | list) and raw.strip()[:1] not in "[{":
        return raw
    return value


def split_top_level(text: str) -> list[str]:
    """Split at the commas outside quotes and brackets: `'a,b',[1,2],c` -> ["'a,b'", "[1,2]", "c"].

    As in YAML, a quote opens only at the start of an item (or after a bracket, comma or colon), so an
    apostrophe inside a word is just a letter; `''` inside '...' and `\\"` inside "..." are escapes.
    Raises ValueError naming an unclosed quote or an unbalanced bracket."""
    parts: list[str] = []
    opened: list[str] = []  # the brackets not closed yet
    quote = ""
    start = 0
    prev = ""  # the last non-blank character outside quotes
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            escape = "\\" if quote == '"' else "'"  # \" inside "...", '' inside '...'
            if char == escape and (quote == '"' or text[i + 1 : i + 2] == "'"):
                i += 1
            elif char == quote:
                quote, prev = "", char
            i += 1
            continue
        if char in "'\"" and prev in ("", ",", ":", *_BRACKETS):
            quote = char
        elif char in _BRACKETS:
            opened.append(char)
        elif char in _BRACKETS.values():
            if not opened or _BRACKETS[opened.pop()] != char:
                raise ValueError(f"unbalanced {char!r} in {text!r}")
        elif char == "," and not opened:
            parts.append(text[start:i])
            start = i + 1
        if not char.isspace():
            prev = char
        i += 1
    if quote:
        raise ValueError(f"unclosed quote {quote} in {text!r}")
    if opened:
        raise ValueError(f"unclosed {opened[-1]!r} in {text!r}")
    parts.append(text[start:])
    return parts


def _top_level_or_whole(text: str) -> list[str]:
    try:
        return split_top_level(text)
    except ValueError:  # unbalanced: not a list of values; the value is checked as the text it is
        return [text]


def _no_newline_override(text: str) -> None:
    if "\n" in text or "\r" in text:
        raise UsageError(f"override {text!r} contains a newline", hint="pass one line per override")


def set_path(
    data: dict[str, Any], path: Sequence[str], value: Any, adds: bool, what: str, plus_form: str = ""
) -> None:
    """Set a dotted key in raw config data (in place); a new param needs `adds` (typo guard)."""
    node = data
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UsageError(
                f"{what}: {'.'.join(path[: depth + 1])} is not a mapping",
                hint="override a leaf key, e.g. params.lr=0.01",
            )
        node = child
    leaf = path[-1]
    if path[0] in ("params", "data") and len(path) == 2 and leaf not in node and not adds:
        known = ", ".join(sorted(node)) or "(none)"
        kind = "param" if path[0] == "params" else "data key"
        raise UsageError(
            f"{what}: there is no {kind} {leaf!r}; {kind}s are: {known}",
            hint=f"fix the name, or write +{plus_form or '.'.join(path) + '=...'} to add a new {kind}",
        )
    node[leaf] = value


def copy_data(data: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return copied


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply dotted overrides to raw config data; a new param needs a leading '+' (typo guard)."""
    result = copy_data(data)
    for text in overrides:
        path, adds, value = parse_override(text)
        set_path(result, path, value, adds, f"override {text!r}", plus_form=text.lstrip("+"))
    return result


def _format_validation_error(source: str, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = _model_at(first["loc"][:-1])
        valid = ", ".join(parent.model_fields) if parent else ""
        message = f"{source}: unknown key {loc!r}" + (f"; valid keys here: {valid}" if valid else "")
        hint = "check the spelling; see configs/examples/quickstart.yaml for every key"
    elif kind == "missing":
        message = f"{source}: missing required key {loc!r}"
        hint = "every config needs at least 'name' and 'command'"
    else:
        msg = first["msg"].removeprefix("Value error, ")
        message = f"{source}: {loc}: {msg}" if first["loc"] else f"{source}: {msg}"
        hint = "fix that value in the file or with an override (KEY=VALUE)"
    more = len(exc.errors()) - 1
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


def load_spec(path: Path, overrides: Sequence[str] = ()) -> ExperimentSpec:
    """Load a config file, apply overrides and validate; every failure is a ConfigError/UsageError."""
    data = load_yaml(path)
    data = apply_overrides(data, overrides)
    source = str(path) + (" (with overrides)" if overrides else "")
    return spec_from_data(data, source)


def _values(spec: ExperimentSpec, run_dir: str, smoke: bool) -> dict[str, Any]:
    values: dict[str, Any] = dict(spec.params)
    if smoke:
        values.update(spec.smoke.params)
    values["seed"] = spec.seed
    values["run_dir"] = run_dir
    values.update({f"data.{k}": v for k, v in spec.data.items()})
    return values


def render_command(spec: ExperimentSpec, run_dir: str, smoke: bool = False) -> list[str]:
    """The argv of the job: each template token filled in, so every value stays one argument."""
    values = _values(spec, run_dir, smoke)
    return [_fill(token, values) for token in spec.command]


def render_env(spec: ExperimentSpec, run_dir: str, smoke: bool = False) -> dict[str, str]:
    """The job's `env:` with {param} placeholders filled in as in the command (how a param is exported)."""
    values = _values(spec, run_dir, smoke)
    return {name: _fill(value, values) for name, value in spec.env.items()}


def _fill(token: str, values: Mapping[str, Any]) -> str:
    """Like str.format, but `{data.split}` is a name, not attribute access."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(token):
        out.append(literal)
        if field is not None:
            out.append(_fmt(values[field]))
    return "".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
