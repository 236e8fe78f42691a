"""The rows of a metrics file, by its name: JSON lines (one object a line: `metrics.jsonl`, what
$CLUSTERRUN_METRICS_FILE is), or a table with a header row (`.csv`, `.tsv`: what Lightning's CSVLogger,
Keras' CSVLogger and many a script's csv.DictWriter write), or a JSON document (`.json`: the results a
script writes at its end with `json.dump(results, f)`, indented or not; see document_rows). A table's
row becomes the object of its header's names to its cells: numbers are numbers (`3` an int, `0.25` and
`nan` floats), an empty cell is left out (Lightning leaves the metrics a row did not log empty), and a
header row met again (a logger that rewrites its file whole) is skipped. Standard library only: the
job's wrapper reads it too."""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: A table's delimiter, by the file's suffix.
TABLES = {".csv": ",", ".tsv": "\t"}
HEADER_BYTES = 64 * 1024  # a header row longer than this is not read as one
#: A JSON document's suffix: read whole, never as lines.
DOCUMENTS = (".json",)
DOCUMENT_BYTES = 16 << 20  #: a JSON document larger than this is not read (a results file is a few KB)

Rows = list[dict[str, Any]]
Parser = Callable[[str], Rows]


def is_table(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in TABLES


def is_document(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in DOCUMENTS


def document_rows(text: str) -> Rows:
    """The rows of a JSON document: an object is one row, a list of objects a row each (a history);
    an object's nested objects are flattened into it, their names joined with `_` (`{"test": {"acc":
    0.9}}` gives test_acc), as far as NEST_DEPTH. [] when the text is not (yet) a whole JSON document: a
    script that is rewriting it."""
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return []
    items = data if type(data) is list else [data]
    return [_flat(item) for item in items if type(item) is dict]


NEST_DEPTH = 3


def _flat(item: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if type(value) is dict:
            if depth + 1 < NEST_DEPTH:
                row.update(_flat(value, name + "_", depth + 1))
        else:
            row.setdefault(name, value)
    return row


def json_rows(text: str) -> Rows:
    """The objects of JSON-lines text; lines that are not a JSON object are skipped. Fast path: the
    whole text parsed as one JSON array (one call into the C parser instead of one per line)."""
    body = text.strip().replace("\r\n", "\n")
    if not body:
        return []
    try:
        rows = json.loads("[" + body.replace("\n", ",") + "]")  # blank lines make it fail: the slow path
    except ValueError:  # a truncated or foreign line: parse line by line, keeping what parses
        rows = []
        for line in body.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return [row for row in rows if type(row) is dict]


def _cell(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def table_rows(text: str, header: list[str], delimiter: str = ",") -> Rows:
    """The rows of a table's text (without or with its header row) as objects of the header's names."""
    rows: Rows = []
    for fields in csv.reader(text.splitlines(), delimiter=delimiter):
        if not fields or [f.strip() for f in fields] == header:
            continue
        row = {name: _cell(cell.strip()) for name, cell in zip(header, fields, strict=False) if cell.strip()}
        if row:
            rows.append(row)
    return rows


def _delimiter(path: str | os.PathLike[str]) -> str:
    return TABLES.get(Path(path).suffix.lower(), ",")


def _names(line: str, delimiter: str) -> list[str]:
    """A header row's names (a byte order mark before it, as Excel writes, left out)."""
    return [name.strip() for name in next(csv.reader([line.lstrip("\ufeff")], delimiter=delimiter), [])]


def whole_table(path: str | os.PathLike[str], text: str) -> Rows:
    """The rows of a table's whole text (its header is its first line)."""
    first, _, rest = text.lstrip("\ufeff").partition("\n")
    delimiter = _delimiter(path)
    names = _names(first, delimiter)
    return table_rows(rest, names, delimiter) if names and rest else []


def header(path: str | os.PathLike[str], handle: Any = None) -> list[str]:
    """A table's header row (its first line; [] until the file has a whole one). `handle`: the file
    open for reading (binary), read at its start without moving it; else the file is opened, never
    through a symlink (a link planted in a run's directory is not followed out of the registry)."""
    try:
        if handle is not None:
            first = os.pread(handle.fileno(), HEADER_BYTES, 0)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with open(fd, "rb") as own:
                first = own.read(HEADER_BYTES)
    except OSError:
        return []
    end = first.find(b"\n")
    if end < 0:
        return []
    return _names(first[:end].decode("utf-8", errors="replace"), _delimiter(path))


def parser(path: str | os.PathLike[str], handle: Any = None) -> Parser:
    """How the text of the file at `path` becomes rows: json_rows, document_rows (of its whole text),
    or table_rows with its header."""
    if is_document(path):
        return document_rows
    if not is_table(path):
        return json_rows
    names = header(path, handle)
    if not names:
        return _none
    return functools.partial(table_rows, header=names, delimiter=_delimiter(path))


def _none(text: str) -> Rows:
    return []


def read_document(handle: Any) -> str | None:
    """The whole text of a JSON document open for reading (binary), from its start; None when it is
    larger than DOCUMENT_BYTES."""
    handle.seek(0)
    data = handle.read(DOCUMENT_BYTES + 1)
    return None if len(data) > DOCUMENT_BYTES else data.decode("utf-8", errors="replace")
