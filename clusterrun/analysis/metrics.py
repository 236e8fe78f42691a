"""Read metrics a run produced: a JSON-lines file the job writes, and regexes over its stdout (and over
its stderr for a regex stdout never matched: the logging module's default stream)."""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterrun.analysis import logdir, rowformat, tfevents
from clusterrun.analysis.rowformat import json_rows
from clusterrun.records.paths import open_nofollow, readable_run_file

if TYPE_CHECKING:
    from clusterrun.analysis.metric_fold import Fold

MAX_LOG_BYTES = 64 * 1024 * 1024  # never read more than this much of a log for metrics
#: of stderr, read for patterns stdout never matched: progress bars (tqdm redraws its line on stderr)
#: make it large, and the last values are at its end
MAX_STDERR_BYTES = 8 * 1024 * 1024


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None


def non_finite_word(value: Any) -> str | None:
    """'nan', 'inf' or '-inf' for a float that is not finite; None for anything else."""
    if not isinstance(value, float) or math.isfinite(value):
        return None
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


#: The last values of a run's metrics (finite numbers) and the metrics whose last value was not finite
#: (name -> 'nan', 'inf' or '-inf'): a training that diverged; such a metric's earlier finite value is
#: not its last one, so it is not among the values.
Last = tuple[dict[str, float | int], dict[str, str]]


def from_jsonl(path: Path) -> dict[str, float | int]:
    """Last value of every numeric key; a truncated final line (job killed mid-write) is skipped."""
    return jsonl_last(path)[0]


def parse_rows(text: str) -> list[dict[str, Any]]:
    """The objects of JSON-lines text (rowformat.json_rows); lines that are not a JSON object are skipped."""
    return json_rows(text)


def jsonl_last(path: Path) -> Last:
    """from_jsonl, with the keys whose last number was NaN or infinite (Python's json writes them).
    Every line is read (a metric may be logged once, early), a block at a time and continued from the
    last read in this process when the file only grew (analysis/metric_fold.py): a status refresh of a
    running job that logged a million lines holds a few MB, not 600, and reads only the new lines."""
    from clusterrun.analysis import metric_fold  # here: metric_fold builds on this module

    fold = metric_fold.read(path)
    return fold.last, fold.non_finite


def log_tail(path: Path, max_bytes: int = MAX_LOG_BYTES) -> str:
    """The last `max_bytes` of a log ('' when it cannot be read; never through a symlink)."""
    try:
        with open_nofollow(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                handle.seek(size - max_bytes)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


#: The number group of a metric pattern (`loss=([0-9.eE+-]+)`, init's and the docs'), and the one it is
#: read as: nan and inf too, which a diverged training prints (`loss=nan`): said, not silently skipped.
PLAIN_NUMBER = "([0-9.eE+-]+)"
NUMBER = r"(nan\b|-?inf\b|[0-9.eE+-]+)"


def patterns_last(log: Path, patterns: Mapping[str, str], max_bytes: int = MAX_LOG_BYTES) -> Last:
    """The last match of each pattern's first group, as a number, over the last `max_bytes` of the log;
    and the patterns whose last match was nan or inf (a number group written as PLAIN_NUMBER is read as
    NUMBER). The log is read from its end, as far back as each pattern needs (analysis/log_scan.py)."""
    from clusterrun.analysis import log_scan  # here: a status row with no patterns never needs it

    if not patterns:
        return {}, {}
    compiled = {name: re.compile(pattern.replace(PLAIN_NUMBER, NUMBER)) for name, pattern in patterns.items()}
    values = log_scan.last_values(log, compiled, max_bytes, _read_number)
    found = {name: value for name, value in values.items() if math.isfinite(value)}
    non_finite = {name: non_finite_word(v) or "nan" for name, v in values.items() if not math.isfinite(v)}
    return found, non_finite


def _read_number(text: str | None) -> float | None:
    """A group's text as a number; None when it is not one (or the group did not take part)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def printed_last(output_dir: Path, patterns: Mapping[str, str], stdout: str = "stdout.log") -> Last:
    """patterns_last over the run's stdout.log (or a rank's, `stdout.rank<R>.log`); a pattern that
    matches nothing there is read over its stderr.log (`stderr.rank<R>.log`): `logging.info("loss=%.3f",
    ...)` writes to stderr unless told otherwise, and a pattern never finds a value in both (stdout's
    wins)."""
    if not patterns:
        return {}, {}
    out = readable_run_file(output_dir, stdout)
    found, non_finite = patterns_last(out, patterns) if out else ({}, {})
    rest = {name: p for name, p in patterns.items() if name not in found and name not in non_finite}
    stderr = "stderr" + stdout.removeprefix("stdout")
    err = readable_run_file(output_dir, stderr) if rest else None
    if err is not None:
        more, more_non_finite = patterns_last(err, rest, MAX_STDERR_BYTES)
        found.update(more)
        non_finite.update(more_non_finite)
    return found, non_finite


def collect(output_dir: Path, metrics_file: str, patterns: Mapping[str, str]) -> dict[str, float | int]:
    """The run's metrics; a file that leads out of the registry (records/paths.py) counts as empty."""
    return collect_last(output_dir, metrics_file, patterns)[0]


def collect_last(
    output_dir: Path,
    metrics_file: str,
    patterns: Mapping[str, str],
    fold: Fold | None = None,
) -> Last:
    """collect(), with the metrics whose last value was not finite (the patterns' word wins, as their
    values do). `fold`: the metrics file's fold when the caller has read it already (metric_fold.read of
    the file readable_run_file allows; a summary reads it once for these and for the history)."""
    if fold is not None:
        values, non_finite = dict(fold.last), dict(fold.non_finite)
    else:
        jsonl = readable_run_file(output_dir, metrics_file)
        values, non_finite = jsonl_last(jsonl) if jsonl else ({}, {})
    printed, printed_non_finite = printed_last(output_dir, patterns)
    for name in printed:
        non_finite.pop(name, None)
    for name in printed_non_finite:
        values.pop(name, None)
    values.update(printed)
    non_finite.update(printed_non_finite)
    return dict(sorted(values.items())), dict(sorted(non_finite.items()))


#: Printed or logged names that count progress rather than measure it: shown after the measures.
COUNTERS = frozenset({"step", "steps", "global_step", "epoch", "iteration", "iter"})


def format_metrics(values: Mapping[str, Any], limit: int = 4) -> str:
    """`loss=0.01 acc=0.9 (+2)`: the measures first, then counters (step=200), at most `limit`."""
    shown = []
    ordered = sorted(values.items(), key=lambda item: item[0] in COUNTERS)  # stable: measures in order
    for key, value in ordered[:limit]:
        shown.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    more = len(values) - limit
    return " ".join(shown) + (f" (+{more})" if more > 0 else "")


#: The last stdout lines looked at for printed metrics, and the longest line read as one.
PRINTED_LINES = 2000
_PRINTED_MAX = 10_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
#: Words that name a measure (a metric's name, or its last `_` part: val_loss, train_acc).
METRIC_WORDS = re.compile(
    r"(loss|acc|accuracy|f1|auc|bleu|rouge|ppl|perplexity|err|error|mse|mae|rmse|psnr|ssim|reward|return|"
    r"score|precision|recall|iou|map|top1|top5|wer|cer|lr|nll|kl|elbo)",
    re.I,
)
#: `loss 0.4321`, `loss: 0.43`, `val_acc=0.81` in a text line: a name, then a number with a point or an
#: exponent (`error 404` is not a measure).
_TEXT_METRIC = re.compile(
    r"(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_]*)\s*[=:]?\s*([-+]?[0-9]*\.[0-9]+(?:[eE][-+]?[0-9]+)?|"
    r"[-+]?[0-9]+[eE][-+]?[0-9]+)(?![0-9A-Za-z_])"
)


def sounds_like_metric(name: str) -> bool:
    """`loss`, `val_acc`, `eval_loss`: the name, or its last `_` part, is a metric's word."""
    last = re.split(r"[_/]", name.lower())[-1]  # (TensorBoard's tags: train/loss)
    return bool(METRIC_WORDS.fullmatch(name.lower()) or METRIC_WORDS.fullmatch(last))


def printed_names(stdout: str) -> list[str]:
    """The names of the numbers printed as one JSON object (or Python dict) a line, in order of first
    appearance: `{"step": 3, "loss": 0.5}`, `{'eval_loss': 0.25}` (what Hugging Face's Trainer prints;
    transformers 5 prints its numbers as text, `{'loss': '0.6931'}`, read as numbers too);
    and in text lines, measures by name (sounds_like_metric) with a decimal number after them:
    `epoch 3 | loss 0.4321 | val_acc: 0.81`. Read as literals only (json, ast.literal_eval): nothing is
    executed."""
    names: list[str] = []
    for line in stdout.splitlines()[-PRINTED_LINES:]:
        text = line.strip()
        if len(text) > _PRINTED_MAX:
            continue
        if not (text.startswith("{") and text.endswith("}")):
            for match in _TEXT_METRIC.finditer(text):
                if sounds_like_metric(match.group(1)) and match.group(1) not in names:
                    names.append(match.group(1))
            continue
        try:
            record = json.loads(text)
        except ValueError:
            try:
                record = ast.literal_eval(text)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
        if not isinstance(record, dict):
            continue
        for key, value in record.items():
            if (
                isinstance(key, str)
                and _NAME.fullmatch(key)
                and (_number(value) is not None or _number_text(value))
                and key not in names
            ):
                names.append(key)
    return names


def _number_text(value: Any) -> bool:
    """A number written as text: transformers 5's Trainer logs `{'loss': '0.6931', 'epoch': '1'}`."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def metric_table(path: Path) -> list[str]:
    """The header of the table (.csv, .tsv: analysis/rowformat.py) at `path`, or the names of the numbers
    of the JSON document (.json: a script's results file) there, when one of them is a metric's
    (sounds_like_metric), or the tags of a TensorBoard event file's first scalars: metrics the command
    wrote to a file of its own; [] otherwise."""
    if tfevents.MARK in path.name:
        first = next(iter(tfevents.row_blocks(path)), [])
        names = list(dict.fromkeys(k for row in first for k in row if k != tfevents.STEP_KEY))
        return names if any(sounds_like_metric(name) for name in names) else []
    if rowformat.is_table(path):
        names = rowformat.header(path)
        return names if any(sounds_like_metric(name) for name in names) else []
    if not rowformat.is_document(path) or _SETTINGS.search(path.stem):
        return []
    names = _document_numbers(path)  # a dump of the settings (args.json: lr=0.001) is not a result
    return names if any(sounds_like_metric(name) and not _RATE.search(name) for name in names) else []


#: JSON files of settings rather than results (vars(args), a model's config.json), by their name.
_SETTINGS = re.compile(r"config|args|arguments|hparams|h?params|settings|options|opts", re.I)
_RATE = re.compile(r"(^|_)(lr|learning_rate)$", re.I)
_RESULTS_NAME = re.compile(r"result|metric|score|eval|summary", re.I)


def metrics_files_first(paths: Iterable[str]) -> list[str]:
    """`paths`, those named like results (results.json, metrics.csv, eval_scores.json) first."""
    return sorted(paths, key=lambda p: not _RESULTS_NAME.search(Path(p).name))


def unread_metrics_file(
    paths: Iterable[str], locate: Callable[[str], Path | None], read: Iterable[str]
) -> tuple[str, list[str], list[str]]:
    """The first of the files a command wrote (`paths`, results-named first; `locate` gives each one's
    path, None for one not to look at) that holds metrics (metric_table) not all among `read` (the
    names read already): (its path as given, its metric names, all its names); ('', [], []) if none."""
    known = set(read)
    for given in metrics_files_first(paths):
        where = locate(given)
        header = metric_table(where) if where is not None else []
        names = [n for n in header if sounds_like_metric(n)]
        if names and not set(names) <= known:
            return _events_folder(given, paths), names, header
    return "", [], []


def metrics_file_kind(path: str, where: Path | None = None) -> str:
    """What unread_metrics_file found, in words: 'a file of metrics' (a JSON document), 'a table of
    metrics', 'TensorBoard event files' (the folder they are in), or 'tables of metrics' (a log folder
    of them: `where`, the folder on disk, tells the two kinds of folder apart)."""
    if rowformat.is_document(path):
        return "a file of metrics"
    if rowformat.is_table(path):
        return "a table of metrics"
    return (
        "tables of metrics"
        if where is not None and logdir.is_table_folder(where)
        else "TensorBoard event files"
    )


def _events_folder(given: str, paths: Iterable[str]) -> str:
    """What metrics.file names for a file of metrics the command wrote: a TensorBoard event file's
    folder (each run's file has its own name), the writer's, above the folders `add_scalars` makes in it
    (tb/, not tb/loss/train/); and for it or a table, the folder above one named for this run, which
    the next run's is not named by (Hydra's outputs/2026-12-08/00-21-33/tb/, SummaryWriter()'s
    runs/Dec08_00-27-15_node/, Lightning's lightning_logs/version_0/: every event file or table below
    it is read, analysis/tfevents.py, analysis/logdir.py); else `given`."""
    events = tfevents.MARK in Path(given).name
    if events:
        folders = {str(Path(p).parent) for p in paths if tfevents.MARK in Path(p).name}
        mine = str(Path(given).parent)
        given = min((f for f in folders if mine == f or mine.startswith(f + "/")), key=len, default=mine)
    elif not rowformat.is_table(given):
        return given
    parts = given.split("/")
    cut = next(
        (n for n, part in enumerate(parts[:-1] if not events else parts) if n and _PER_RUN.search(part)), None
    )
    return "/".join(parts[:cut]) if cut is not None else given


#: a folder named for one run: by its date or time, or a version number
_PER_RUN = re.compile(r"^version_\d+$|(19|20)\d\d-?[01]\d-?[0-3]\d|\d\d[-:_]\d\d[-:_]\d\d")


def _document_numbers(path: Path) -> list[str]:
    """The names of a JSON document's numbers (rowformat.document_rows), in their order."""
    try:
        with open_nofollow(path) as handle:
            text = rowformat.read_document(handle)
    except OSError:
        return []
    names: dict[str, None] = {}
    for row in rowformat.document_rows(text or ""):
        names.update((key, None) for key, value in row.items() if _number(value) is not None)
    return list(names)


#: metric names that are times or rates of time (fit_seconds, train_runtime, samples_per_second)
_TIMING = re.compile(
    r"(^|_)(seconds?|secs?|time|times|runtime|elapsed|duration|walltime|latency|per_second|per_sec|"
    r"throughput)$|runtime|per_second",
    re.IGNORECASE,
)


def timing_names(names: Iterable[str]) -> list[str]:
    """The metrics among `names` that are times (fit_seconds, train_runtime, samples_per_second): they
    differ between identical runs, so a config lists them under metrics.ignore."""
    return [name for name in names if _TIMING.search(name)]


def printed_pattern(name: str) -> str:
    """A metrics.patterns regex for a name printed as above: its value after the quoted key, in JSON or a
    Python dict or a text line (`loss 0.5`, `loss: -0.5`) alike, its sign kept, and not another name that
    ends with it (eval_loss is not loss) or is a dotted name's part (`x.loss`)."""
    return rf"(?<![\w.]){re.escape(name)}\W+?([-+]?[0-9.][-+0-9.eE]*)"
