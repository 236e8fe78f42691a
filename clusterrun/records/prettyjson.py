"""`json.dumps(data, sort_keys=True, indent=2, default=str)`, character for character, several times faster
for records that repeat each other (the members of a sweep share their git state, snapshot, resources,
estimate, smoke record and most of their config).

Python's json module encodes with indentation in pure Python (its C encoder only writes compact JSON):
that was most of a sweep submission's time. Here every value is encoded compactly by the C encoder, and
the indented text of a container is built from its children's, once per distinct container: a container
seen before (the same compact encoding) reuses its indented text. Every newline in the indented text is
structural (a string's own newlines are escaped), so nesting one level deeper is one `str.replace`.
Anything unusual (a key that is not a string) goes to `json.dumps` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

INDENT = "  "
#: containers whose compact encoding is shorter than this are rebuilt, not cached (cheap either way)
MIN_CACHED = 48
#: the cache is emptied when it holds this many containers (a long-running process stays small). What
#: repeats is a sweep's shared values (config, resources), a few per record; a first status of 10,000
#: ended runs caches two values of each (its end, its summary's) that never repeat: 4,096 held 2.3 MB
MAX_CACHED = 1024

_cache: dict[str, str] = {}


def _make_encoder(check_circular: bool) -> Callable[[Any], str]:
    """json's C encoder, compact, sorted, default=str: made once (json.JSONEncoder.encode makes one per
    call). With `check_circular` (a fresh one per record) a value holding itself is json's ValueError."""
    if c_make_encoder is None:  # a Python built without _json
        return json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")).encode
    markers: dict[int, Any] | None = {} if check_circular else None
    encoder = c_make_encoder(markers, str, encode_basestring_ascii, None, ":", ",", True, False, True)
    return lambda value: "".join(encoder(value, 0))


_encode = _make_encoder(check_circular=False)  # for values inside one already checked


def compact(value: Any) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)`: two values encode alike
    exactly when they are the same JSON (1 and true, 1 and 1.0 are not, as they are for ==)."""
    return _make_encoder(check_circular=True)(value)


class _Unusual(Exception):
    """A container json.dumps treats specially (a key that is not a string): encoded by json itself."""


def dumps(data: Any) -> str:
    """The same text as `json.dumps(data, sort_keys=True, indent=2, default=str)`."""
    try:
        return _pretty(data, _make_encoder(check_circular=True))
    except _Unusual:
        return json.dumps(data, sort_keys=True, indent=2, default=str)


def record_text(data: Any) -> str:
    """A JSON record's file: the text of jsonio.dumps (dumps and a newline)."""
    return dumps(data) + "\n"


def member_texts(data: dict[str, Any]) -> dict[str, str] | None:
    """The top-level members of a record's text (`"key": value`, the value indented one level), by
    key: joined by join_members, they are record_text(data), and a record updated in a few fields is
    written again by encoding only those. None for an empty or unusual record (a key that is not a
    string): encode it whole."""
    if not data or not all(type(key) is str for key in data):
        return None
    encode = _make_encoder(check_circular=True)
    try:
        return {
            key: f"{encode_basestring_ascii(key)}: {_child(value, encode)}" for key, value in data.items()
        }
    except _Unusual:
        return None


def split_members(text: str, keys: Iterable[str]) -> dict[str, str] | None:
    """member_texts of the record whose file is `text` and whose top-level keys are `keys`, taken from
    the text instead of encoding it again; None unless `text` is exactly join_members of them (a file
    written by anything else is encoded whole). A top-level member starts on a line indented by
    exactly one INDENT (nested ones are indented deeper; a string's own newlines are escaped)."""
    ordered = sorted(keys)
    head, tail = "{\n" + INDENT, "\n}\n"
    if not ordered or not text.startswith(head) or not text.endswith(tail):
        return None
    pieces = text[len(head) : -len(tail)].split(",\n" + INDENT + '"')
    if len(pieces) != len(ordered):
        return None
    members = {ordered[0]: pieces[0]}
    members.update((key, '"' + piece) for key, piece in zip(ordered[1:], pieces[1:], strict=True))
    for key, member in members.items():
        if not member.startswith(f"{encode_basestring_ascii(key)}: "):
            return None
    return members if join_members(members) == text else None


def join_members(members: dict[str, str]) -> str:
    """record_text of the record whose member_texts are `members` (at least one)."""
    return "{\n" + INDENT + (",\n" + INDENT).join(members[key] for key in sorted(members)) + "\n}\n"


def _pretty(value: Any, encode: Callable[[Any], str]) -> str:
    """The indented text of `value` at the outermost level."""
    if isinstance(value, dict) and value:
        if not all(type(key) is str for key in value):
            raise _Unusual
        # the keys are unique: sorting the items (as json does) sorts by key
        parts = [f"{encode_basestring_ascii(key)}: {_child(value[key], encode)}" for key in sorted(value)]
        return "{\n" + INDENT + (",\n" + INDENT).join(parts) + "\n}"
    if isinstance(value, list | tuple) and value:
        parts = [_child(item, encode) for item in value]
        return "[\n" + INDENT + (",\n" + INDENT).join(parts) + "\n]"
    return encode(value)  # a scalar (or what default=str makes of it), an empty container


class Encoded:
    """A value already encoded, as `nested(value)` gives it: written as it is where it stands (a big
    listing's summaries are encoded by the workers that read them, and never held as data at once)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def value(self) -> Any:
        """The data again (indented JSON is JSON)."""
        return json.loads(self.text)


def nested(value: Any) -> str:
    """The text of `value` one level into its container: as dumps places it there, whatever it holds."""
    try:
        return _child(value, _make_encoder(check_circular=True))
    except _Unusual:
        return json.dumps(value, sort_keys=True, indent=2, default=str).replace("\n", "\n" + INDENT)


def stream(head: dict[str, Any], key: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The text of `dumps(head | {key: list(items)})`, in pieces, taking one item at a time from
    `items` (each may hold Encoded values): a listing of 10,000 runs is never held whole, as data or as
    text."""
    keys = sorted({*head, key})
    yield "{"
    for position, name in enumerate(keys):
        yield ("\n" if position == 0 else ",\n") + INDENT + encode_basestring_ascii(name) + ": "
        if name != key:
            yield nested(head[name])
            continue
        first = True
        for item in items:
            yield ("[\n" if first else ",\n") + INDENT * 2 + _item(item).replace("\n", "\n" + INDENT * 2)
            first = False
        yield "[]" if first else "\n" + INDENT + "]"
    yield "\n}"  # (keys holds `key`: never empty)


def _item(item: dict[str, Any]) -> str:
    """An item of stream's list at the outermost level (its Encoded values as they are)."""
    try:
        return _pretty(item, _make_encoder(check_circular=True))
    except _Unusual:
        plain = {k: v.value() if isinstance(v, Encoded) else v for k, v in item.items()}
        return json.dumps(plain, sort_keys=True, indent=2, default=str)


def _child(value: Any, encode: Callable[[Any], str] = _encode) -> str:
    """The text of a value nested one level into its container."""
    kind = type(value)
    if kind is Encoded:
        return value.text  # type: ignore[no-any-return]
    if kind is str:
        return str(encode_basestring_ascii(value))
    if kind is int:
        return int.__repr__(value)
    if kind is bool or value is None:
        return "true" if value is True else "false" if value is False else "null"
    compact = encode(value)
    if compact[0] not in "{[" or compact in ("{}", "[]"):
        return compact
    text = _cache.get(compact) if len(compact) >= MIN_CACHED else None
    if text is None:
        text = _pretty(value, _encode).replace("\n", "\n" + INDENT)
        if len(compact) >= MIN_CACHED:
            if len(_cache) >= MAX_CACHED:
                _cache.clear()
            _cache[compact] = text
    return text
