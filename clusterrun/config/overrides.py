"""`KEY=VALUE` overrides on raw config data: parse the text, split value lists, set dotted keys."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from clusterrun.errors import ConfigError, UsageError

Mode = Literal["set", "add", "force", "delete"]


@dataclass(frozen=True)
class Override:
    """One parsed override: `k=v` set (the key must exist), `+k=v` add, `++k=v` set or add, `~k` delete."""

    path: list[str]
    mode: Mode
    value: Any = None


def parse_override(text: str) -> tuple[list[str], bool, Any]:
    """`params.lr=0.01` -> (['params', 'lr'], adds_key, 0.01); `+params.x=1` may add a new param."""
    parsed = parse_override_full(text)
    return parsed.path, parsed.mode != "set", parsed.value


def parse_override_full(text: str) -> Override:
    """Hydra's forms: `key=value`, `+key=value`, `++key=value` and `~key`."""
    if text.startswith("~"):
        key = text[1:]
        path = key.split(".")
        if "=" in key or not key or not all(re.fullmatch(r"[A-Za-z0-9_]+", part) for part in path):
            raise UsageError(
                f"bad override {text!r}: expected ~KEY to delete a dotted key",
                hint="e.g. ~params.dropout",
            )
        _no_newline_override(text)
        return Override(axis_path(path), "delete")
    key, eq, raw = text.partition("=")
    mode: Mode = "force" if key.startswith("++") else "add" if key.startswith("+") else "set"
    key = key.removeprefix("++" if mode == "force" else "+" if mode == "add" else "")
    path = key.split(".")
    if not eq or not key or not all(re.fullmatch(r"[A-Za-z0-9_]+", part) for part in path):
        raise UsageError(
            f"bad override {text!r}: expected KEY=VALUE with a dotted key",
            hint="e.g. params.lr=0.01 +params.new=1 ++params.any=2 ~params.old resources.mem=8G seed=1",
        )
    _no_newline_override(text)
    if key not in _COMMA_KEYS and len(_top_level_or_whole(raw)) > 1:
        raise UsageError(
            f"override {text!r} has a comma: it would run ONE job with {key} set to the text {raw!r}",
            hint=f"to run one job per value use --sweep {key}={raw}; if the comma is meant, quote the "
            f"value: \"{key}='{raw}'\"",
        )
    return Override(axis_path(path), mode, parse_value(raw))


#: Mappings whose keys are themselves dotted config keys: a sweep's grid and zipped axes.
_AXIS_MAPS = (["sweep", "grid"], ["sweep", "zip"])


def axis_path(path: list[str]) -> list[str]:
    """`sweep.grid.params.lr` names the grid axis `params.lr` (one key of sweep.grid), not a mapping
    `params` in the grid holding `lr`: what follows grid (or zip) is the axis, dots and all."""
    if len(path) > 3 and path[:2] in _AXIS_MAPS:
        return [*path[:2], ".".join(path[2:])]
    return path


#: Keys whose values are text where a comma is ordinary (a partition list is SLURM syntax).
_COMMA_KEYS = frozenset(
    {
        "command",
        "description",
        "resources.partition",
        "resources.constraint",  # SLURM syntax: a,b
        "resources.mail_type",  # END,FAIL
        "resources.after",  # run ids
        "resources.afterok",
    }
)
_BRACKETS = {"[": "]", "{": "}", "(": ")"}


def parse_value(raw: str) -> Any:
    """A YAML scalar, or a list/mapping written with brackets; anything else stays the literal text."""
    import yaml  # here: a listing imports this module (profiles.copy_data) and never parses a value

    from clusterrun.config.yaml12 import load_value

    try:  # the whole text must be the value: `run #3` keeps its '#', `|` is not an empty block
        value = load_value(raw.strip()) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, dict | list) and raw.strip()[:1] not in "[{":
        return raw
    if value is None and raw.strip() not in _NULLS:  # `&anchor` alone, `!!null x`: text, not nothing
        return raw
    return value


_NULLS = frozenset({"~", "null", "Null", "NULL"})


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
    data: dict[str, Any],
    path: Sequence[str],
    value: Any,
    adds: bool,
    what: str,
    plus_form: str = "",
    source: str = "",
    model: type[BaseModel] | None = None,
    same_kind: str = "",
) -> None:
    """Set a dotted key in raw config data (in place); a new param needs `adds` (typo guard). A key that
    is neither in the data nor a field of `model` (the config's schema) is refused with a did-you-mean.
    `same_kind` (an override's text, as the user would quote it): a number or true/false param may not
    become a word (_same_kind)."""
    if model is not None:
        _check_known(data, path, what, source, model)
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
        guess = _suggest(".".join(path), data, model)
        in_file = f" in {source}" if source else ""
        raise UsageError(
            f"{what}: there is no {kind} {leaf!r}; {kind}s are: {known}",
            hint=(f"did you mean {guess}? " if guess else "")
            + f"fix the name, or write +{plus_form or '.'.join(path) + '=...'} to add a new {kind}"
            + (f" (or add it{in_file} under {path[0]}:)" if in_file else "")
            + _unused_hint(data, path),
        )
    if same_kind and path[0] == "params" and len(path) == 2 and not adds and leaf in node:
        _same_kind(node[leaf], value, path, what, same_kind, source)
    node[leaf] = value


def _unused_hint(data: dict[str, Any], path: Sequence[str]) -> str:
    """For a new param the command does not name: that it must, or the value reaches nothing (a sweep over
    it is refused as members that all run the same command)."""
    if path[0] != "params" or len(path) != 2:
        return ""
    leaf = path[1]
    command = data.get("command")
    text = " ".join(map(str, command)) if isinstance(command, list) else str(command or "")
    if "{" + leaf + "}" in text or "{" + leaf + "}" in str(data.get("env") or ""):
        return ""
    option = "--" + leaf.replace("_", "-")
    return f"; the command must use it too, e.g. `{option} {{{leaf}}}` in its command: line"


def _same_kind(old: Any, new: Any, path: Sequence[str], what: str, quoted: str, source: str) -> None:
    """A param that is a number (or true/false) in the config, set to a bare word by `k=v`: a typo, and a
    job that would fail at its first line (argparse's type=int), since the smoke test often sets that
    very param (epochs=1) and so never sees the value. A quoted value (`k='text'`) is meant."""
    if not isinstance(new, str):
        return
    if isinstance(old, bool):
        kind, fix = "true or false", "true or false (YAML 1.2: yes/no/on/off are words)"
    elif isinstance(old, int | float):
        kind, fix = "a number", "a number"
    else:
        return
    in_file = f" in {source}" if source else ""
    raise UsageError(
        f"{what}: {'.'.join(path)} is {kind}{in_file} ({old!r}), and {new!r} is not",
        hint=f"give it {fix}, or quote the text to mean it: {quoted}",
    )


def delete_path(data: dict[str, Any], path: Sequence[str], what: str, source: str = "") -> None:
    """Remove a dotted key from raw config data (in place); the key must be there."""
    node: Any = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node:
        guess = _suggest(".".join(path), data, None)
        where = f" in {source}" if source else ""
        raise UsageError(
            f"{what}: there is no key {'.'.join(path)!r}{where} to delete",
            hint=f"did you mean ~{guess}?" if guess else "only keys written in the config can be deleted",
        )
    del node[path[-1]]


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (dict, Mapping):
        return True
    return any(_is_mapping(arg) for arg in typing.get_args(annotation)) if _is_union(annotation) else False


def _is_union(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union


def _model_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key the models define: `resources.gpus`, `params` (a free mapping)..."""
    paths: list[str] = []
    for name, field in model.model_fields.items():
        key = prefix + name
        paths.append(key)
        sub = _unwrap_model(field.annotation)
        if sub is not None:
            paths.extend(_model_paths(sub, key + "."))
    return paths


def _model_allows(model: type[BaseModel], path: Sequence[str]) -> bool:
    """Whether the models have a place for this dotted key (anything under a free mapping counts)."""
    for depth, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        sub = _unwrap_model(field.annotation)
        if sub is None:
            return depth == len(path) - 1 or _is_mapping(field.annotation)
        model = sub
    return True


def _data_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in data.items():
        paths.append(prefix + str(key))
        if isinstance(value, Mapping):
            paths.extend(_data_paths(value, prefix + str(key) + "."))
    return paths


def _suggest(key: str, data: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    """The closest dotted key of the config (and of the model's fields, if given) to `key`."""
    candidates = list(dict.fromkeys(_data_paths(data) + (_model_paths(model) if model else [])))
    # never the key itself, nor a mapping holding it (`params` for params.lr: that is where it goes)
    candidates = [c for c in candidates if c != key and not key.startswith(c + ".")]
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
    if close:
        return close[0]
    last = key.rsplit(".", 1)[-1]  # `lr` -> params.lr: the same (or a close) last part elsewhere
    by_last: dict[str, str] = {}
    for candidate in candidates:
        by_last.setdefault(candidate.rsplit(".", 1)[-1], candidate)
    close = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.75)
    if close:
        return by_last[close[0]]
    # last: a looser match of the whole key, when more than a shared parent makes it close
    # (params.lr is not params.out, though the two dotted keys are 60% alike)
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    return next(
        (c for c in close if difflib.SequenceMatcher(None, c.rsplit(".", 1)[-1], last).ratio() >= 0.5), ""
    )


def _check_known(
    data: Mapping[str, Any], path: Sequence[str], what: str, source: str, model: type[BaseModel]
) -> None:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping):
            return  # a scalar in the way: set_path says so
        if part not in node:
            break
        node = node[part]
    else:
        return  # already in the config
    if _model_allows(model, path):
        return
    key = ".".join(path)
    guess = _suggest(key, data, model)
    hint = f"did you mean {guess}?" if guess else "check the spelling against the keys of your config"
    if not guess and path[0] not in data and not _model_allows(model, path[:1]):
        # model.hidden of a Hydra program's own config: not clusterrun's to set, but the command's to pass
        name = re.sub(r"\W", "_", path[-1])
        hint = (
            f"to vary a value the command passes on to the program ({key}), make it a param: "
            f"`{name}: VALUE` under params and `{key}={{{name}}}` (or `--{name} {{{name}}}`) in command, "
            f"then set params.{name}"
        )
    raise ConfigError(
        f"{what}: unknown key {key!r}" + (f" (not in {source} nor a config key)" if source else ""),
        hint=hint,
    )


def copy_data(data: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return copied


def apply_overrides(
    data: dict[str, Any],
    overrides: Sequence[str],
    source: str = "",
    model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """Apply dotted overrides to raw config data: `k=v` (a new param needs a leading '+', a typo guard),
    `+k=v`, `++k=v` (set or add) and `~k` (delete). `source` (the config file) is named in hints; with
    `model` (the config's schema, from a module above this one) unknown keys get a did-you-mean."""
    result = copy_data(data)
    for text in overrides:
        parsed = parse_override_full(text)
        what = f"override {text!r}"
        if parsed.mode == "delete":
            delete_path(result, parsed.path, what, source)
        else:
            adds = parsed.mode != "set"
            key, _, raw = text.partition("=")
            quoted = "" if raw.strip()[:1] in ("'", '"') else f"\"{key}='{raw}'\""
            set_path(result, parsed.path, parsed.value, adds, what, text.lstrip("+"), source, model, quoted)
    return result
