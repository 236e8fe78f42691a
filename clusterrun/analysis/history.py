"""Metric history: every value a run logged, per step, read from the run directory (format version 1).

The history of a run is the rows of JSON-lines files, read the same way (site/run-directory.md):

- `metrics.jsonl` (the config's `metrics.file`), written by the job and kept exactly as written. Each line
  is one object; every finite number in it (not a boolean) is a value of the metric named by its key. The
  key `step` (the config's `estimate.step_metric`) is the line's step; a line without one takes its index
  among the lines holding that metric (0, 1, ...). A `timestamp` key (Unix seconds), when present, is the
  line's time. Neither is a metric curve of its own. A truncated last line (a job killed mid-write) is
  skipped.
- `stdout_metrics.jsonl`, written by the job as it ends, else by the status that records the end (computed
  from `stdout.log` on the fly while it runs): one line per match of a `metrics.patterns` regex, `{"step":
  S, "timestamp": T, NAME: VALUE}`. The value is the pattern's group named `value`, else its first group not
  named `step`; the step is the pattern's `(?P<step>...)` group, else the last match of a pattern named
  `step` on or before the match's line, else the match's index (0, 1, ...); the timestamp comes from
  `stdout.times`. A pattern that matches nothing in `stdout.log` is read over `stderr.log` the same way
  (where Python's logging module writes unless told otherwise), without timestamps.
- `stdout.times`, written by the job wrapper while the command runs: lines `UNIX_TIME SIZE`, "by then
  stdout.log held SIZE bytes"; a byte of the log was printed at the time of the first line whose SIZE
  is past it (sampled every 0.25 s, less often as the run gets long).

A metric found both in the file and through a pattern takes the pattern's values (as the summary does).
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import json
import math
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.analysis import logdir, metric_fold, rowformat, tfevents
from clusterrun.analysis.metric_fold import TIME_KEY, Extremes, Fold
from clusterrun.analysis.metrics import MAX_STDERR_BYTES, parse_rows, sounds_like_metric
from clusterrun.analysis.patterns import finditer
from clusterrun.analysis.tfevents import files_signature
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.paths import open_nofollow, read_text, readable_run_file, run_file

FORMAT_VERSION = 1
STDOUT_HISTORY = "stdout_metrics.jsonl"
STDOUT_TIMES = "stdout.times"
DEFAULT_STEP_KEY = "step"
MAX_LOG_BYTES = 64 * 1024 * 1024  # never read more than this much of stdout.log for metrics

#: Metric names where higher is better, unless the sweep's `mode` says otherwise for its metric.
_HIGHER_IS_BETTER = re.compile(
    r"(^|[_/.-])(acc|accuracy|auc|auroc|f1|precision|recall|score|reward|return|bleu|rouge|iou|map|top\d|"
    r"throughput|samples_per_s|tokens_per_s|r2|psnr|ssim|dice|hit|ndcg|mrr)($|[_/.@-])",
    re.I,
)


@dataclass
class Series:
    """One metric's values in the order they were logged, with their steps and times (None if unknown)."""

    name: str
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)
    source: str = ""  # "file" (the job's JSON lines) or "stdout" (patterns)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def final(self) -> float | None:
        return self.values[-1] if self.values else None

    def best(self, mode: str) -> tuple[float, float] | None:
        """(value, step) of the best value: the lowest for mode 'min', the highest for 'max'."""
        if not self.values:
            return None
        pick = max if mode == "max" else min
        index = pick(range(len(self.values)), key=self.values.__getitem__)
        return self.values[index], self.steps[index]


@dataclass
class History:
    series: dict[str, Series]

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.series.values())

    def names(self) -> list[str]:
        return sorted(self.series)


def metric_mode(name: str, sweep_metric: str | None = None, sweep_mode: str | None = None) -> str:
    """'max' or 'min': the sweep's mode for the sweep's metric, else guessed from the name (acc, f1,
    reward... are maximised; loss, error, perplexity, anything else minimised)."""
    if sweep_metric and name == sweep_metric and sweep_mode in ("min", "max"):
        return str(sweep_mode)
    return "max" if _HIGHER_IS_BETTER.search(name) else "min"


_HELD_OUT = re.compile(r"^(?:final_|best_)?(?:val|valid|validation|eval|dev|test)(?:[_/.-]|$)", re.I)


def default_metric(names: Sequence[str]) -> str | None:
    """The metric that ranks a sweep whose config names none: a held-out loss (`val_loss`, `eval_loss`,
    `final_val_loss`: what a sweep is usually chosen by), else a held-out score (`val_acc`, `test_acc`),
    else another held-out measure (`val_error`, `eval_mse`; not `eval_runtime`), else `loss`, else the
    first metric found. The training loss ranks a sweep by how well it fits, not how well it generalises:
    it comes after anything measured on held-out data."""
    seen = list(dict.fromkeys(names))
    held_out = [n for n in seen if _HELD_OUT.search(n)]
    for candidates in (
        [n for n in held_out if "loss" in n.lower()],
        [n for n in held_out if metric_mode(n) == "max"],
        [n for n in held_out if sounds_like_metric(n)],
        [n for n in seen if n == "loss"],
        seen,
    ):
        if candidates:
            return candidates[0]
    return None


def ranking(
    metric: str | None,
    mode: str | None,
    names: Sequence[str],
    sort: str | None = None,
    sort_mode: str | None = None,
) -> tuple[str | None, str]:
    """The metric that ranks a sweep and which end of it is best: `sort`/`sort_mode` (asked for now),
    else the sweep's own `metric`/`mode`, else default_metric of the `names` its members logged; a
    mode nobody gave follows the metric's name (val_acc is maximised), never a default 'min'."""
    chosen = sort or metric or default_metric(names)
    given = sort_mode or (mode if chosen == metric else None)
    return chosen, given if given in ("min", "max") else metric_mode(chosen or "")


def is_json_lines(path: Path) -> bool:
    """Whether a metrics file is JSON lines (not a table, a JSON document, TensorBoard's event files or
    a folder of tables)."""
    return not (
        rowformat.is_table(path)
        or rowformat.is_document(path)
        or tfevents.MARK in path.name
        or os.path.isdir(path)
    )


def source_files(path: Path) -> list[Path]:
    """The files a metrics file stands for: itself, or a log folder's event files or tables."""
    if tfevents.is_events(path):
        return tfevents.event_files(path)
    return logdir.tables(path) or [path]


def source_size(path: Path) -> int:
    """The bytes of a metrics file, or of the event files or tables in a log folder."""
    files = source_files(path)
    total = 0
    for file in files:
        with contextlib.suppress(OSError):
            total += file.stat().st_size
    return total


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file (lines that are not a JSON object are skipped), or the rows of
    a table (.csv, .tsv) or of a JSON document (.json: analysis/rowformat.py), or the scalars of
    TensorBoard's event files (a file, or the folder they are in: analysis/tfevents.py)."""
    if tfevents.MARK in path.name or os.path.isdir(path):  # event files, or a log folder: as folded
        return [row for block in metric_fold.row_blocks(path) for row in block]
    try:
        text = read_text(path)  # never through a symlink planted in the run directory
    except OSError:
        return []
    if rowformat.is_table(path):
        return rowformat.whole_table(path, text)
    if rowformat.is_document(path):
        return rowformat.document_rows(text)
    return parse_rows(text)


def _finite(value: Any) -> bool:
    """A number that is a metric value: an int or a finite float (booleans are not numbers here)."""
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def from_rows(
    rows: Iterable[Mapping[str, Any]], step_key: str = DEFAULT_STEP_KEY, source: str = "file"
) -> dict[str, Series]:
    """Columns per metric. The loop is the hot path of every history read: plain types, no calls."""
    columns: dict[str, tuple[list[float], list[float], list[float | None]]] = {}
    isfinite = math.isfinite
    for row in rows:
        step = row.get(step_key)
        if step is not None and not _finite(step):
            step = None
        when = row.get(TIME_KEY)
        if when is not None and not _finite(when):
            when = None
        for key, value in row.items():
            kind = type(value)
            if kind is float:
                if not isfinite(value):
                    continue
            elif kind is not int:
                continue
            if key in (step_key, TIME_KEY):
                continue
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [], [])
            column[0].append(step if step is not None else len(column[1]))
            column[1].append(value)
            column[2].append(when)
    return {
        str(key): Series(str(key), steps, values, times, source)
        for key, (steps, values, times) in columns.items()
    }


# ------------------------------------------------------------------------------------------ stdout


def read_times(path: Path) -> tuple[list[int], list[float]]:
    """stdout.times as (sizes, times), sizes non-decreasing."""
    sizes: list[int] = []
    times: list[float] = []
    try:
        text = read_text(path)
    except OSError:
        return sizes, times
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            when, size = float(parts[0]), int(parts[1])
        except ValueError:
            continue
        if not sizes or size > sizes[-1]:
            sizes.append(size)
            times.append(when)
    return sizes, times


def _read_log(path: Path, max_bytes: int = MAX_LOG_BYTES) -> tuple[bytes, int]:
    """The last `max_bytes` of the log and the byte offset they start at."""
    try:
        with open_nofollow(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - max_bytes)
            handle.seek(start)
            return handle.read(), start
    except OSError:
        return b"", 0


def _value_group(pattern: re.Pattern[str]) -> int | str | None:
    names = pattern.groupindex
    if "value" in names:
        return "value"
    step_group = names.get("step")
    for index in range(1, pattern.groups + 1):
        if index != step_group:
            return index
    return None


def stdout_rows(
    log: Path,
    patterns: Mapping[str, str],
    times_file: Path | None = None,
    step_key: str = DEFAULT_STEP_KEY,
    max_bytes: int = MAX_LOG_BYTES,
) -> list[dict[str, Any]]:
    """One row per pattern match over a log (stdout.log), in the order printed (see the module's
    docstring)."""
    return list(iter_stdout_rows(log, patterns, times_file, step_key, max_bytes))


def iter_stdout_rows(
    log: Path,
    patterns: Mapping[str, str],
    times_file: Path | None = None,
    step_key: str = DEFAULT_STEP_KEY,
    max_bytes: int = MAX_LOG_BYTES,
) -> Iterator[dict[str, Any]]:
    """stdout_rows, one at a time: each pattern's matches are walked as the rows are asked for, in the
    order printed (a log of a million matches is never a million rows at once)."""
    if not patterns:
        return
    data, start = _read_log(log, max_bytes)
    if not data:
        return
    sizes, times = read_times(times_file) if times_file is not None else ([], [])
    # decode piecewise at the sampled sizes, so a character offset maps back to the time it was printed
    cuts = [size - start for size in sizes if 0 < size - start < len(data)] + [len(data)]
    pieces: list[str] = []
    char_ends: list[int] = []
    cut_times: list[float | None] = []
    previous = 0
    sample = 0
    for cut in cuts:
        piece = data[previous:cut].decode("utf-8", errors="replace")
        pieces.append(piece)
        char_ends.append((char_ends[-1] if char_ends else 0) + len(piece))
        while sample < len(sizes) and sizes[sample] - start < cut:
            sample += 1
        cut_times.append(times[sample] if sample < len(sizes) else None)
        previous = cut
    del data
    text = "".join(pieces)
    del pieces

    def time_at(offset: int) -> float | None:
        index = bisect.bisect_right(char_ends, offset)
        return cut_times[index] if index < len(cut_times) else None

    compiled = {name: re.compile(pattern) for name, pattern in patterns.items()}
    step_marks: tuple[list[int], list[float]] = ([], [])
    if step_key in compiled:
        group = _value_group(compiled[step_key])
        for match in finditer(compiled[step_key], text):
            value = _number_text(match.group(group)) if group is not None else None
            if value is not None:
                step_marks[0].append(match.start())
                step_marks[1].append(value)

    def matches(name: str, pattern: re.Pattern[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        group = _value_group(pattern)
        has_step_group = "step" in pattern.groupindex
        index = 0
        for match in finditer(pattern, text):
            value = _number_text(match.group(group)) if group is not None else None
            if value is None:
                continue
            step: float | None = _number_text(match.group("step")) if has_step_group else None
            if step is None and step_marks[0]:
                line_end = text.find("\n", match.end())
                at = bisect.bisect_left(step_marks[0], len(text) if line_end < 0 else line_end) - 1
                step = step_marks[1][at] if at >= 0 else None
            row = {
                step_key: step if step is not None else index,
                TIME_KEY: time_at(match.start()),
                name: value,
            }
            yield match.start(), row
            index += 1

    # in the order printed; matches at one place in the order of the patterns (as a stable sort put them)
    streams = [matches(name, pattern) for name, pattern in compiled.items() if name != step_key]
    for _position, row in heapq.merge(*streams, key=lambda item: item[0]):
        yield row


def printed_rows(
    run_dir: Path, patterns: Mapping[str, str], step_key: str = DEFAULT_STEP_KEY
) -> list[dict[str, Any]]:
    """stdout_rows of a run directory's stdout.log (timed by its stdout times), then, for the patterns
    that matched nothing there, of its stderr.log (where the logging module writes; untimed): the rows
    metrics.collect_last's values are the last of."""
    return list(iter_printed_rows(run_dir, patterns, step_key))


def iter_printed_rows(
    run_dir: Path, patterns: Mapping[str, str], step_key: str = DEFAULT_STEP_KEY
) -> Iterator[dict[str, Any]]:
    """printed_rows, one at a time."""
    seen: set[str] = set()
    for row in iter_stdout_rows(run_dir / "stdout.log", patterns, run_dir / STDOUT_TIMES, step_key):
        seen.update(row)
        yield row
    rest = {name: p for name, p in patterns.items() if name not in seen and name != step_key}
    if not rest:
        return
    if step_key in patterns:  # the steps printed beside them, on stderr too
        rest[step_key] = patterns[step_key]
    yield from iter_stdout_rows(run_dir / "stderr.log", rest, None, step_key, MAX_STDERR_BYTES)


def _number_text(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def jsonl_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as JSON lines (sorted keys), as stdout_metrics.jsonl holds them."""
    return "".join(jsonl_lines(rows))


def jsonl_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """jsonl_text, a line at a time."""
    encode = json.JSONEncoder(sort_keys=True, allow_nan=False).encode
    for row in rows:
        yield encode(row) + "\n"


# ------------------------------------------------------------------------------------------ a run


@dataclass(frozen=True)
class Sources:
    """Where a run's metrics are: from its resolved config (manifest['config'])."""

    file: str = "metrics.jsonl"
    patterns: Mapping[str, str] = field(default_factory=dict)
    step_key: str = DEFAULT_STEP_KEY

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sources:
        metrics = config.get("metrics") or {}
        estimate = config.get("estimate") or {}
        return cls(
            file=str(metrics.get("file") or "metrics.jsonl"),
            patterns=dict(metrics.get("patterns") or {}),
            step_key=str(estimate.get("step_metric") or DEFAULT_STEP_KEY),
        )


def iter_stdout_history_rows(run_dir: Path, sources: Sources) -> Iterator[dict[str, Any]]:
    """stdout_history_rows one at a time: stdout_metrics.jsonl read a block at a time once written,
    else the rows found in the logs now."""
    written = run_dir / STDOUT_HISTORY
    if written.is_file():
        for block in metric_fold.row_blocks(written):
            yield from block
    else:
        yield from iter_printed_rows(run_dir, sources.patterns, sources.step_key)


def stdout_history_rows(run_dir: Path, sources: Sources) -> list[dict[str, Any]]:
    """The patterns' rows: stdout_metrics.jsonl once written, else computed from the logs now
    (printed_rows)."""
    written = run_dir / STDOUT_HISTORY
    if written.is_file():
        return read_rows(written)
    return printed_rows(run_dir, sources.patterns, sources.step_key)


#: A job writes its stdout_metrics.jsonl as it ends unless its stdout.log is larger than this: scanning
#: gigabytes of log would hold the job's allocation (the first `status` that records the end writes it then).
JOB_SCAN_LIMIT = 64 * 1024 * 1024


def write_stdout_history(run_dir: Path, config: Mapping[str, Any]) -> Fold | None:
    """stdout_metrics.jsonl from the config's patterns (a run's resolved config as JSON data), unless the
    config has none or the file is there already (a record is never rewritten). The rows are written as
    they are found and folded meanwhile (metric_fold.Fold: a summary's best values without reading the
    file back); the fold when it was written, else None."""
    sources = Sources.from_config(config)
    if not sources.patterns:
        return None
    target = run_file(run_dir, STDOUT_HISTORY)
    if target.exists():
        return None
    fold = Fold(sources.step_key)
    write_text_atomic(
        target, jsonl_lines(_folding(fold, iter_printed_rows(run_dir, sources.patterns, sources.step_key)))
    )
    return fold


def _folding(fold: Fold, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rows, passed on as they come and folded into `fold` meanwhile (a few thousand at a time)."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        yield row
        if len(batch) >= 4096:
            fold.add_rows(batch)
            batch = []
    fold.add_rows(batch)


def printed_fold(run_dir: Path, sources: Sources) -> Fold:
    """The fold of the patterns' rows: stdout_metrics.jsonl's once written (read a block at a time), else
    the rows found in the logs now."""
    written = run_dir / STDOUT_HISTORY
    if written.is_file():
        return metric_fold.read(written, sources.step_key)
    fold = Fold(sources.step_key)
    for _row in _folding(fold, iter_printed_rows(run_dir, sources.patterns, sources.step_key)):
        pass
    return fold


def load(run_dir: Path, sources: Sources) -> History:
    """Every metric of a run, per step, from its files (nothing is executed; missing files are empty)."""
    metrics_file = readable_run_file(run_dir, sources.file)  # none when it leads out of the registry
    series = from_rows(read_rows(metrics_file), sources.step_key, "file") if metrics_file else {}
    if sources.patterns:
        rows = stdout_history_rows(run_dir, sources)
        series.update(from_rows(rows, sources.step_key, "stdout"))
    return History(dict(sorted(series.items())))


def file_fold(run_dir: Path, sources: Sources) -> Fold:
    """The fold of a run's metrics file (metric_fold.read); empty when it leads out of the registry."""
    path = readable_run_file(run_dir, sources.file)
    return metric_fold.read(path, sources.step_key) if path else Fold(sources.step_key)


def summary_series(
    run_dir: Path, sources: Sources, fold: Fold, printed: Fold | None = None
) -> dict[str, Extremes]:
    """What best_values needs of every metric of a run, as `load` would find them: sources.file's series
    as `fold` holds them (metric_fold.read: the curve is not kept, only its extremes), then the
    patterns' as `printed` does (write_stdout_history's, else printed_fold)."""
    series = dict(fold.series)
    if sources.patterns:
        series.update((printed or printed_fold(run_dir, sources)).series)
    return dict(sorted(series.items()))


# ------------------------------------------------------------------------------------------ cache

CACHE_MAGIC = b"CRHIST1\n"


def _signature(run_dir: Path, sources: Sources) -> str:
    """What a cached history was read from: the files' sizes and mtimes, and how they were read."""
    names = [sources.file]
    if sources.patterns:
        names += [STDOUT_HISTORY, "stdout.log", STDOUT_TIMES, "stderr.log"]
    stats: list[list[Any]] = []
    for name in names:
        try:
            info = (run_dir / name).stat()
            stats.append([name, info.st_size, info.st_mtime_ns])
        except OSError:
            stats.append([name, None, None])
    if os.path.isdir(run_dir / sources.file):  # (a folder's mtime does not change as its files grow)
        stats.append([sources.file, files_signature(source_files(run_dir / sources.file))])
    how = [sources.step_key, sorted(sources.patterns.items()), FORMAT_VERSION]
    return json.dumps([stats, how], sort_keys=True)


def _encode(loaded: History, signature: str) -> bytes:
    header: dict[str, Any] = {"signature": signature, "series": []}
    blobs = []
    for series in loaded.series.values():
        header["series"].append({"name": series.name, "n": len(series), "source": series.source})
        blobs.append(array("d", series.steps).tobytes())
        blobs.append(array("d", series.values).tobytes())
        blobs.append(array("d", [math.nan if t is None else t for t in series.times]).tobytes())
    head = json.dumps(header).encode()
    return CACHE_MAGIC + len(head).to_bytes(8, "little") + head + b"".join(blobs)


def _decode(data: bytes, signature: str) -> History | None:
    if not data.startswith(CACHE_MAGIC):
        return None
    at = len(CACHE_MAGIC)
    size = int.from_bytes(data[at : at + 8], "little")
    header = json.loads(data[at + 8 : at + 8 + size])
    if header.get("signature") != signature:
        return None
    at += 8 + size
    series: dict[str, Series] = {}
    for item in header["series"]:
        columns = []
        for _ in range(3):
            column = array("d")
            column.frombytes(data[at : at + 8 * item["n"]])
            at += 8 * item["n"]
            columns.append(column.tolist())
        steps, values, times = columns
        series[item["name"]] = Series(
            item["name"], steps, values, [None if t != t else t for t in times], item["source"]
        )
    return History(series)


def load_cached(run_dir: Path, sources: Sources, cache_dir: Path) -> History:
    """`load`, through a binary copy in `cache_dir` that is used while the run's files are unchanged
    (a history of 100,000 points reads in a few ms instead of a few hundred). The cache is a convenience:
    any problem with it falls back to reading the files."""
    signature = _signature(run_dir, sources)
    path = cache_dir / f"{run_dir.name}.hist"
    try:
        cached = _decode(path.read_bytes(), signature)
    except (OSError, ValueError, KeyError, TypeError):
        cached = None
    if cached is not None:
        return cached
    loaded = load(run_dir, sources)
    if _signature(run_dir, sources) == signature:  # unchanged while read: worth keeping
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(_encode(loaded, signature))
            os.replace(tmp, path)
        except OSError:
            pass
    return loaded


def best_values(
    history: History | Mapping[str, Series | Extremes],
    ignore: Iterable[str] = (),
    sweep_metric: str | None = None,
    sweep_mode: str | None = None,
) -> dict[str, dict[str, Any]]:
    """{name: {"mode", "value", "step", "final", "points"}} for every metric not ignored (of a loaded
    history, or of summary_series)."""
    skipped = set(ignore)
    out: dict[str, dict[str, Any]] = {}
    found = history.series if isinstance(history, History) else history
    for name, series in found.items():
        if name in skipped or not len(series):
            continue
        mode = metric_mode(name, sweep_metric, sweep_mode)
        best = series.best(mode)
        assert best is not None
        out[name] = {
            "mode": mode,
            "value": best[0],
            "step": _plain(best[1]),
            "final": series.final,
            "points": len(series),
        }
    return out


def _plain(number: float) -> float | int:
    """2.0 -> 2 (steps and counts read as integers in JSON), other floats unchanged."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number
