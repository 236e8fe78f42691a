"""What a run's summary and a status row need of a JSON-lines metrics file, read in bounded memory and
continued from where the last read stopped.

A long training that logs every step writes a metrics.jsonl of a million lines (about 100 MB): parsed
whole into rows, it took 3 s and 600 MB of memory for each status refresh of the running job, and as
much again for its summary; ten million lines would not fit on a login node at all. `read` folds the
file instead, a block of lines at a time (BLOCK bytes; each block parsed in one call into the C parser,
metrics.parse_rows), into a `Fold`:
- the last value of every numeric key, and the keys whose last value was NaN or infinite (what
  metrics.jsonl_last gave when it parsed the whole file);
- per metric (the step and timestamp keys aside), the number of finite points, the lowest and the
  highest value with the step each was first reached at, and the final value (what history.from_rows
  and history.best_values make of the whole file, without keeping the curve).

A process that reads the same file again (a watch of a running job, then its summary as it ends)
continues from the end of the last complete line it folded, when the file is the same file (device and
inode), no shorter, and still holds the same bytes just before that point (TAIL_CHECK of them): a
file that was rewritten rather than appended to is read again from the start. A final line without its
newline yet (a write in progress) is folded into the answer, never into what is kept. Within
`unkept()` nothing is kept in the process: a summary's collection reads the files of a run that has
ended, which this process will not read again (a first status of 10,000 ended runs kept 4,096 folds,
about 4 MB, for nothing).

The fold of a file of CACHE_FROM bytes or more is also kept between processes, in the user's own cache
(usercache.py, `metric-folds/`, one small JSON file per metrics file, named by a digest of its path): a
`clusterrun status` of a running job that logged a million lines reads what was added since the last
one, not the whole file again, and so does the refresh that collects its summary. The cache is a
convenience: an entry that cannot be read, or does not match the file as above, is ignored.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clusterrun import usercache
from clusterrun.analysis import logdir, rowformat, tfevents
from clusterrun.analysis.metrics import non_finite_word, parse_rows
from clusterrun.errors import ClusterrunError
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.paths import open_nofollow

BLOCK = 1 << 20  #: bytes read and parsed at a time (a million-line file: 3.3 s in 28 MB of RSS all told)
TAIL_CHECK = 64  #: bytes before a kept offset that must be unchanged for a read to continue from it
KEEP = 4096  #: files whose fold a process keeps, at most (then it forgets them all and starts again)
CACHE_FROM = 1 << 20  #: files of this many bytes or more have their fold kept between processes
CACHE_DAYS = 30  #: entries of the cache unused this long are removed (now and then, as one is written)
CACHE_VERSION = 1
TIME_KEY = "timestamp"  #: a row's time (history.py): not a metric of its own


@dataclass(slots=True)
class Extremes:
    """One metric's points, folded: how many, the lowest and highest value (and the step each was first
    reached at) and the final value. The step of a point without one is its position in the series,
    as in history.from_rows."""

    count: int
    low: float
    low_step: float
    high: float
    high_step: float
    final: float
    source: str = "file"

    def __len__(self) -> int:
        return self.count

    def best(self, mode: str) -> tuple[float, float] | None:
        """(value, step) of the best value, as history.Series.best: the first point that reached it."""
        if not self.count:
            return None
        return (self.high, self.high_step) if mode == "max" else (self.low, self.low_step)


@dataclass
class Fold:
    step_key: str
    last: dict[str, float | int] = field(default_factory=dict)
    non_finite: dict[str, str] = field(default_factory=dict)
    series: dict[str, Extremes] = field(default_factory=dict)

    def copy(self) -> Fold:
        return Fold(
            self.step_key,
            dict(self.last),
            dict(self.non_finite),
            {name: replace(item) for name, item in self.series.items()},
        )

    def merge(self, other: Fold) -> None:
        """`other`'s points folded in after this fold's (the fold of a later file of a run's)."""
        for key, value in other.last.items():
            self.last[key] = value
            self.non_finite.pop(key, None)
        for key, word in other.non_finite.items():
            self.non_finite[key] = word
            self.last.pop(key, None)
        for name, item in other.series.items():
            mine = self.series.get(name)
            if mine is None:
                self.series[name] = replace(item)
                continue
            mine.count += item.count
            mine.final = item.final
            if item.low < mine.low:
                mine.low, mine.low_step = item.low, item.low_step
            if item.high > mine.high:
                mine.high, mine.high_step = item.high, item.high_step

    def add_text(self, text: str, parse: rowformat.Parser | None = None) -> None:
        """Fold the rows of JSON-lines text (lines that are not a JSON object are skipped), or of the
        format `parse` reads (rowformat.parser: a table's)."""
        self.add_rows((parse or parse_rows)(text))

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """The hot loop of every read: plain types, no calls but the dict's."""
        last, non_finite, series, step_key = self.last, self.non_finite, self.series, self.step_key
        isfinite = math.isfinite
        for row in rows:
            step = row.get(step_key)
            if step is not None and not (type(step) is int or (type(step) is float and isfinite(step))):
                step = None
            for key, value in row.items():
                kind = type(value)
                if kind is int or (kind is float and isfinite(value)):
                    last[key] = value
                    if key in non_finite:
                        del non_finite[key]
                    if key in (step_key, TIME_KEY):
                        continue
                    item = series.get(key)
                    if item is None:
                        at = step if step is not None else 0
                        series[key] = Extremes(1, value, at, value, at, value)
                        continue
                    at = step if step is not None else item.count
                    item.count += 1
                    item.final = value
                    if value < item.low:
                        item.low, item.low_step = value, at
                    elif value > item.high:
                        item.high, item.high_step = value, at
                elif kind is float:  # nan, inf or -inf
                    non_finite[key] = non_finite_word(value) or "nan"
                    last.pop(key, None)


@dataclass
class _Kept:
    identity: tuple[int, int]
    offset: int
    tail: bytes
    fold: Fold
    stored: int = 0  #: the offset of this file's entry in the user's cache (0: none known)

    def to_data(self, key: str) -> dict[str, Any]:
        fold = self.fold
        return {
            "version": CACHE_VERSION,
            "path": key,
            "identity": list(self.identity),
            "offset": self.offset,
            "tail": self.tail.hex(),
            "step_key": fold.step_key,
            "last": fold.last,
            "non_finite": fold.non_finite,
            "series": {
                name: [s.count, s.low, s.low_step, s.high, s.high_step, s.final]
                for name, s in fold.series.items()
            },
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], key: str) -> _Kept | None:
        """The entry, when it is one of this version for this path (else None: it is ignored)."""
        if data.get("version") != CACHE_VERSION or data.get("path") != key:
            return None
        dev, ino = data["identity"]
        fold = Fold(str(data["step_key"]), dict(data["last"]), dict(data["non_finite"]))
        for name, (count, low, low_step, high, high_step, final) in data["series"].items():
            fold.series[str(name)] = Extremes(int(count), low, low_step, high, high_step, final)
        offset = int(data["offset"])
        return cls((int(dev), int(ino)), offset, bytes.fromhex(data["tail"]), fold, stored=offset)


_KEPT: dict[str, _Kept] = {}
_KEEPING = contextvars.ContextVar("metric_fold_keeping", default=True)


@contextlib.contextmanager
def unkept() -> Iterator[None]:
    """Reads within keep nothing in this process (the cache between processes is written as ever)."""
    token = _KEEPING.set(False)
    try:
        yield
    finally:
        _KEEPING.reset(token)


def _cache_file(key: str) -> Path | None:
    directory = usercache.private_dir("metric-folds")
    if directory is None:
        return None
    return directory / (hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")


def _cached(key: str) -> _Kept | None:
    """The fold another process kept of this file (the user's cache), if any."""
    path = _cache_file(key)
    if path is None:
        return None
    try:
        return _Kept.from_data(json.loads(path.read_bytes()), key)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, or not one of ours
        return None


def _keep(key: str, kept: _Kept) -> None:
    """Keep the fold for the next process, once CACHE_FROM bytes or more were read since the entry it
    has (a watch that reads a few new lines each refresh does not rewrite it each time)."""
    if kept.offset - kept.stored < CACHE_FROM:
        return
    path = _cache_file(key)
    if path is None:
        return
    # a full or read-only home: the next process reads the whole file again
    with contextlib.suppress(OSError, ValueError, ClusterrunError):
        write_text_atomic(path, json.dumps(kept.to_data(key)), mode=0o600)
        kept.stored = kept.offset
        if random.random() < 1 / 64:  # now and then: entries of files nobody reads any more go
            _prune(path.parent)


def _prune(directory: Path) -> None:
    cutoff = time.time() - CACHE_DAYS * 86400
    for entry in os.scandir(directory):
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)


def _continued(handle: Any, info: os.stat_result, kept: _Kept | None, step_key: str) -> tuple[Fold, int]:
    """The kept fold and its offset when the file only grew since, else an empty fold from the start
    (then whatever the user's cache holds for the file is stale too)."""
    if (
        kept is not None
        and kept.fold.step_key == step_key
        and kept.identity == (info.st_dev, info.st_ino)
        and info.st_size >= kept.offset
    ):
        start = max(0, kept.offset - TAIL_CHECK)
        handle.seek(start)
        if handle.read(kept.offset - start) == kept.tail:
            return kept.fold.copy(), kept.offset
    handle.seek(0)
    return Fold(step_key), 0


class _Lines:
    """The complete lines from the handle's position on, a block at a time: (text, bytes); then
    `carry` holds the bytes of a last line without its newline."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.carry = handle, b""

    def __iter__(self) -> Iterator[tuple[str, int]]:
        while True:
            block = self.handle.read(BLOCK)
            if not block:
                return
            data = self.carry + block
            cut = data.rfind(b"\n") + 1
            self.carry = data[cut:]
            if cut:
                yield data[:cut].decode("utf-8", errors="replace"), cut


def _parser(path: Path, handle: Any) -> rowformat.Parser:
    """How the file's text becomes rows: parse_rows (JSON lines), or its table's (rowformat.parser)."""
    return rowformat.parser(path, handle) if rowformat.is_table(path) else parse_rows


def row_blocks(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The rows of a JSON-lines file a block at a time (parse_rows of each; the last line too, when it
    reads without its newline), or of a table's; a JSON document's in one block, read whole; none when
    the file cannot be read (never through a symlink)."""
    if tfevents.is_events(path):  # TensorBoard's event files (a file, or the folder they are in)
        yield from tfevents.row_blocks(path)
        return
    folded = logdir.tables(path)
    if folded:  # a folder of tables (Lightning's version_N/metrics.csv), one after the other
        for table in folded:
            yield from row_blocks(table)
        return
    try:
        handle = open_nofollow(path)
    except OSError:
        return
    with handle:
        if rowformat.is_document(path):
            text = rowformat.read_document(handle)
            yield rowformat.document_rows(text) if text is not None else []
            return
        parse = _parser(path, handle)
        lines = _Lines(handle)
        for text, _length in lines:
            yield parse(text)
        if lines.carry.strip():
            yield parse(lines.carry.decode("utf-8", errors="replace"))


def read(path: Path, step_key: str = "step") -> Fold:
    """The fold of a JSON-lines file (an empty one when it cannot be read; never through a symlink)."""
    key = os.fspath(path)
    if tfevents.is_events(path):
        return _events(path, step_key)
    folded = logdir.tables(path)  # a folder of tables: each read (and kept) as the file it is
    if folded:
        fold = Fold(step_key)
        for table in folded:
            fold.merge(read(table, step_key))
        return fold
    if rowformat.is_document(path):
        return _document(path, step_key)
    try:
        with open_nofollow(path) as handle:
            info, before, fold, offset = _resumed(handle, key, step_key)
            started = offset  # > 0: continued from `before`
            parse = _parser(path, handle)  # JSON lines, or a table (its header read here)
            handle.seek(offset)
            lines = _Lines(handle)
            for text, length in lines:
                fold.add_text(text, parse)
                offset += length
            carry = lines.carry
            kept = _kept(handle, info, before, started, offset, fold)
    except OSError:
        return Fold(step_key)
    keeping = _remember(key, kept)
    if not carry.strip():
        return fold.copy() if keeping else fold  # not kept: nobody else holds it
    answer = fold.copy()  # a last line without its newline yet: in the answer, not in what is kept
    answer.add_text(carry.decode("utf-8", errors="replace"), parse)
    return answer


def _resumed(handle: Any, key: str, step_key: str) -> tuple[os.stat_result, _Kept | None, Fold, int]:
    """The open file's stat, the fold kept of it (in this process, else in the user's cache for a big
    file), and the fold and offset to read on from (_continued)."""
    info = os.fstat(handle.fileno())
    before = _KEPT.get(key)
    if before is None and info.st_size >= CACHE_FROM:
        before = _cached(key)
    fold, offset = _continued(handle, info, before, step_key)
    return info, before, fold, offset


def _kept(
    handle: Any, info: os.stat_result, before: _Kept | None, started: int, offset: int, fold: Fold
) -> _Kept:
    """What is kept of a file read up to `offset` (from `started`, continuing `before` when > 0)."""
    handle.seek(max(0, offset - TAIL_CHECK))
    tail = handle.read(min(offset, TAIL_CHECK))
    stored = before.stored if before is not None and started else 0
    return _Kept((info.st_dev, info.st_ino), offset, tail, fold, stored)


def _remember(key: str, kept: _Kept) -> bool:
    """Keep `kept` in this process (unless within unkept()) and, for a big file, in the user's cache;
    whether it is kept in the process (then its fold must not be handed out as it is)."""
    keeping = _KEEPING.get()
    if keeping:
        if len(_KEPT) >= KEEP:
            _KEPT.clear()
        _KEPT[key] = kept
    else:  # what a watch kept of it while the run went on is not needed either
        _KEPT.pop(key, None)
    _keep(key, kept)
    return keeping


def _events(path: Path, step_key: str) -> Fold:
    """The fold of TensorBoard's event files at `path` (a file, or their folder: tfevents.py), each
    continued from where the last read of it stopped, as a JSON-lines file's is (an event file is only
    ever appended to): a status of a running job that logged a million scalars reads what was added."""
    fold = Fold(step_key)
    for file, prefix in tfevents.prefixed(tfevents.event_files(path)):
        fold.merge(_event_file(file, prefix, step_key))
    return fold


def _event_file(path: Path, prefix: str, step_key: str) -> Fold:
    key = f"{os.fspath(path)}\0{prefix}"  # (its tags' prefix depends on the folder read)
    try:
        with open_nofollow(path) as handle:
            info, before, fold, offset = _resumed(handle, key, step_key)
            started = offset
            handle.seek(offset)
            for rows, after in tfevents.chunks(handle, prefix):
                fold.add_rows(rows)
                offset = after  # just after the last complete record
            kept = _kept(handle, info, before, started, offset, fold)
    except OSError:
        return Fold(step_key)
    return fold.copy() if _remember(key, kept) else fold


def _document(path: Path, step_key: str) -> Fold:
    """The fold of a JSON document (rowformat.document_rows), read whole each time: a script rewrites it
    whole, and it is small (nothing is kept of it)."""
    fold = Fold(step_key)
    for rows in row_blocks(path):
        fold.add_rows(rows)
    return fold


def forget() -> None:
    """Drop every fold this process keeps (tests: as if another process read next)."""
    _KEPT.clear()
