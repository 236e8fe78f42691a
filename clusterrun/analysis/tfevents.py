"""The scalars of TensorBoard event files (`events.out.tfevents.<time>.<host>...`), as metric rows.

A training that logs with TensorBoard (`SummaryWriter.add_scalar`, PyTorch's or tensorboardX's,
Lightning's TensorBoardLogger, TensorFlow's `tf.summary.scalar`) prints nothing clusterrun could read:
its run had no metrics, and reproduce had nothing to compare. Its event files are read here, with the
standard library only (no TensorFlow, no protobuf: the job's wrapper and a login node read them too).

An event file is a sequence of TFRecords (a little-endian u64 length, a CRC of it, the data, a CRC of
the data), each an `Event` protobuf: `step` (field 2) and a `Summary` (field 5) of `Value`s, each with a
`tag` (1) and a `simple_value` (2, a float: TensorBoard 1's scalars, what PyTorch writes) or a `tensor`
(8: TensorFlow 2's scalars are tensors of one number, with the `scalars` plugin named in the metadata
the first time a tag is written). Images, histograms, text and audio are skipped, large records without
being read. A record cut short (a file being written) ends the file's rows.

Rows: one per event, `{"step": step, tag: value}`. Events of a file in a folder below the writer's (the
shallowest folder with an event file in it: `add_scalars("loss", {"train": ...})` writes
`loss/train/events...` there) have their tags prefixed with that folder (`loss/train/loss`). A value
logged as a 32-bit float is the shortest decimal that is the same float32 (0.1, not 0.10000000149011612).
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from clusterrun.records.paths import open_nofollow

MARK = ".tfevents."  #: what every event file's name holds
MAX_RECORD = 64 * 1024  #: a record larger than this is an image, audio or a big tensor: skipped unread
READ_BLOCK = 1 << 20  #: bytes read at a time
MAX_FILES = 256  #: event files read under one folder, at most (the newest by name last)
BLOCK_ROWS = 10_000  #: rows yielded at a time
STEP_KEY = "step"
_SCALARS = "scalars"
#: TensorProto dtypes of numbers: float, double, int32, uint8, int16, int8, int64, bfloat16, half, ...
_NUMERIC = {1, 2, 3, 4, 5, 6, 9, 14, 17, 19, 22, 23}
_ROWS = list[dict[str, Any]]


def is_events(path: str | os.PathLike[str]) -> bool:
    """Whether `path` names an event file, or a folder of them (a TensorBoard log dir)."""
    if MARK in Path(path).name:
        return True
    return os.path.isdir(path) and next(iter(event_files(Path(path))), None) is not None


def natural(path: Path) -> list[Any]:
    """A sort key that orders the numbers in a path by value: version_2 before version_10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", path.as_posix())]


def event_files(path: Path) -> list[Path]:
    """The event files at `path`: itself, or those under it (never through a symlink), by folder and
    then by name (a writer's files are named by the time it started), numbers by value (Lightning's
    version_2 before version_10)."""
    if not os.path.isdir(path) or os.path.islink(path):
        return [path] if MARK in path.name and not os.path.islink(path) else []
    found: list[Path] = []
    for folder, _dirs, files in os.walk(path):  # (os.walk does not follow symlinked folders)
        found += [Path(folder) / name for name in files if MARK in name]
        if len(found) >= MAX_FILES:
            break
    return sorted(found, key=natural)[:MAX_FILES]


def prefixed(files: list[Path]) -> list[tuple[Path, str]]:
    """Each event file with the prefix of its tags: the folder it is in, below the writer's own (the
    shallowest that holds an event file: SummaryWriter() writes into a folder named by the time,
    runs/Dec08_00-27-15_node/, whose tags are not prefixed with that), "" for the writer's own."""
    top = min((f.parent for f in files), key=lambda folder: len(folder.parts), default=None)
    out = []
    for file in files:
        below = top is not None and (file.parent == top or top in file.parent.parents)
        prefix = file.parent.relative_to(top).as_posix() if below and top is not None else "."
        out.append((file, "" if prefix == "." else prefix + "/"))
    return out


def row_blocks(path: Path) -> Iterator[_ROWS]:
    """The rows of the event files at `path` (event_files), BLOCK_ROWS at a time."""
    for file, prefix in prefixed(event_files(path)):
        try:
            handle = open_nofollow(file)
        except OSError:
            continue
        with handle:
            rows: _ROWS = []
            for row in _rows(handle, prefix):
                rows.append(row)
                if len(rows) >= BLOCK_ROWS:
                    yield rows
                    rows = []
            if rows:
                yield rows


def signature(path: Path) -> str:
    """What the rows at `path` were read from: each event file's name, size and mtime (a folder's own
    mtime does not change as its files grow)."""
    return files_signature(event_files(path))


def files_signature(files: list[Path]) -> str:
    """Each file's name, size and mtime, joined."""
    parts = []
    for file in files:
        try:
            info = file.stat()
        except OSError:
            continue
        parts.append(f"{file.name}:{info.st_size}:{info.st_mtime_ns}")
    return ",".join(parts)


def _rows(handle: BinaryIO, prefix: str) -> Iterator[dict[str, Any]]:
    for rows, _offset in chunks(handle, prefix):
        yield from rows


def chunks(handle: BinaryIO, prefix: str = "") -> Iterator[tuple[_ROWS, int]]:
    """The rows of the complete records from the handle's position on, a block of the file at a time,
    each with the offset just after the last record it read (where a later read may continue; a
    record cut short, being written, is left to it)."""
    plugins: dict[str, str] = {}  # tag -> the plugin its first value named (TensorFlow 2 names it once)
    base = handle.tell()  # the file's offset of buffer[0]
    buffer = b""
    unpack, simple = struct.unpack_from, _SIMPLE.fullmatch
    while True:
        block = handle.read(READ_BLOCK)
        if not block:
            return
        buffer += block
        rows: _ROWS = []
        pos, size = 0, len(buffer)
        while pos + 12 <= size:
            (length,) = unpack("<Q", buffer, pos)
            end = pos + 16 + length
            if length > MAX_RECORD:  # an image, audio: skipped unread
                if end <= size:
                    pos = end
                    continue
                total = os.fstat(handle.fileno()).st_size
                if base + end > total:
                    break  # cut short
                handle.seek(base + end)
                base, buffer, pos, size = base + end, b"", 0, 0
                break
            if end > size:
                break  # the rest of the record comes with the next block
            data = buffer[pos + 12 : pos + 12 + length]
            pos = end
            match = simple(data)
            row = _simple(match, prefix) if match is not None else None
            if row is None:
                row = _event(memoryview(data), plugins, prefix)
            if row is not None:
                rows.append(row)
        buffer = buffer[pos:]
        base += pos
        yield rows, base


#: the usual event, read without the general parser: one `simple_value` (PyTorch's, tensorboardX's
#: add_scalar), with a wall time, a step, and a tag of fewer than 128 bytes (`.` any byte, with DOTALL)
_SIMPLE = re.compile(rb"\x09.{8}\x10([\x80-\xff]{0,9}[\x00-\x7f])\x2a(.)\x0a(.)\x0a(.)(.*)\x15(.{4})", re.S)


def _simple(match: re.Match[bytes], prefix: str) -> dict[str, Any] | None:
    """_event of the usual event (a match of _SIMPLE) when every length in it agrees; else None."""
    raw_step, summary, value, size, tag, number = match.groups()
    if not (len(tag) == size[0] and value[0] == len(tag) + 7 and summary[0] == value[0] + 2):
        return None
    step = raw_step[0] if len(raw_step) == 1 else _signed(_varint(memoryview(raw_step), 0)[0])
    return {STEP_KEY: step, prefix + tag.decode("utf-8", errors="replace"): _float32(number)}


def _event(data: memoryview, plugins: dict[str, str], prefix: str) -> dict[str, Any] | None:
    step, values = 0, {}
    try:
        for field, wire, value in _fields(data):
            if field == 2 and wire == 0:
                step = _signed(value)
            elif field == 5 and wire == 2:
                for name, number in _summary(value, plugins):
                    values[prefix + name] = number
    except (ValueError, IndexError, struct.error):
        return None  # not an event clusterrun can read: skipped
    if not values:
        return None
    return {STEP_KEY: step, **values}


def _summary(data: Any, plugins: dict[str, str]) -> Iterator[tuple[str, float | int]]:
    for field, wire, value in _fields(data):
        if field != 1 or wire != 2:
            continue
        tag, number, plugin = "", None, None
        for inner, inner_wire, item in _fields(value):
            if inner == 1 and inner_wire == 2:
                tag = bytes(item).decode("utf-8", errors="replace")
            elif inner == 2 and inner_wire == 5:
                number = _float32(item)
            elif inner == 8 and inner_wire == 2:
                number = _tensor(item)
            elif inner == 9 and inner_wire == 2:
                plugin = _plugin(item)
        if plugin is not None:
            plugins[tag] = plugin
        if tag and number is not None and plugins.get(tag, _SCALARS) == _SCALARS:
            yield tag, number


def _plugin(data: Any) -> str:
    """SummaryMetadata.plugin_data.plugin_name."""
    for field, wire, value in _fields(data):
        if field == 1 and wire == 2:
            for inner, inner_wire, item in _fields(value):
                if inner == 1 and inner_wire == 2:
                    return bytes(item).decode("utf-8", errors="replace")
    return ""


def _tensor(data: Any) -> float | int | None:
    """The number of a TensorProto of one number; None for anything else (a histogram, text)."""
    dtype, dims, numbers, content = 0, [], [], b""
    for field, wire, value in _fields(data):
        if field == 1 and wire == 0:
            dtype = value
        elif field == 2 and wire == 2:
            dims = [
                _dim(item) for inner, inner_wire, item in _fields(value) if inner == 2 and inner_wire == 2
            ]
        elif field == 4 and wire == 2:
            content = bytes(value)
        elif field == 5:  # float_val, packed or not
            numbers += _packed(value, wire, "<f", 5)
        elif field == 6:  # double_val
            numbers += _packed(value, wire, "<d", 1)
        elif field in (7, 10, 13) and wire == 0:  # int_val, int64_val, half_val (unpacked)
            numbers.append(_signed(value))
        elif field in (7, 10) and wire == 2:
            numbers += [_signed(v) for v in _varints(value)]
    if dtype not in _NUMERIC or math.prod(dims) != 1:
        return None
    if content:
        formats = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 4: "<B", 5: "<h", 6: "<b"}
        fmt = formats.get(dtype)
        if fmt is None or len(content) != struct.calcsize(fmt):
            return None
        (number,) = struct.unpack(fmt, content)
        return _float32_text(number) if dtype == 1 else number
    return numbers[0] if len(numbers) == 1 else None


def _dim(data: Any) -> int:
    return next((_signed(v) for f, w, v in _fields(data) if f == 1 and w == 0), 0)


def _packed(value: Any, wire: int, fmt: str, fixed_wire: int) -> list[float]:
    """A repeated float or double field's numbers, packed (wire type 2) or one at a time."""
    if wire not in (fixed_wire, 2):
        return []
    raw, size = bytes(value), struct.calcsize(fmt)
    numbers = [struct.unpack(fmt, raw[i : i + size])[0] for i in range(0, len(raw) - size + 1, size)]
    return [_float32_text(n) for n in numbers] if fmt == "<f" else numbers


def _float32(raw: Any) -> float:
    (number,) = struct.unpack("<f", bytes(raw))
    return _float32_text(number)


def _float32_text(number: float) -> float:
    """The shortest decimal that is the same float32 (0.1 for the float32 nearest 0.1)."""
    if not math.isfinite(number):
        return number
    packed = struct.pack("<f", number)
    for digits in (7, 8, 9):  # (%g drops trailing zeros: 7 digits give 0.1 for the float32 nearest 0.1)
        shorter = float(f"{number:.{digits}g}")
        if struct.pack("<f", shorter) == packed:
            return shorter
    return number


def _fields(data: Any) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: an int for a varint, bytes (a
    memoryview) for a 64-bit, 32-bit or length-delimited value."""
    view = memoryview(data)
    i, end = 0, len(view)
    while i < end:
        key, i = _varint(view, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(view, i)
            yield field, wire, value
        elif wire == 1:
            yield field, wire, view[i : i + 8]
            i += 8
        elif wire == 2:
            length, i = _varint(view, i)
            if i + length > end:
                raise ValueError("cut short")
            yield field, wire, view[i : i + length]
            i += length
        elif wire == 5:
            yield field, wire, view[i : i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
    if i != end:
        raise ValueError("cut short")


def _varint(view: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = view[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _varints(data: Any) -> Iterator[int]:
    view = memoryview(data)
    i = 0
    while i < len(view):
        value, i = _varint(view, i)
        yield value


def _signed(value: int) -> int:
    """A varint read as a signed 64-bit integer (protobuf's int64)."""
    return value - (1 << 64) if value >= 1 << 63 else value
