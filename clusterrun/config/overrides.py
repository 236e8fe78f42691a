"""`KEY=VALUE` overrides on raw config data: parse the text, split value lists, set dotted keys."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from clusterrun.config.yaml12 import yaml_load
from clusterrun.errors import UsageError


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
