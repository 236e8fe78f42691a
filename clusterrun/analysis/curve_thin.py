"""A run's metric curves thinned to about THIN_TO points each, for the dashboard, without holding them.

A curve of n points becomes, for each bucket of max(1, 3n // limit) consecutive points, the bucket's
first point and its lowest and highest (the first of each, so spikes survive), plus the curve's last
point. `Thinner` does it a point at a time once n is known; `thinned` gives every curve of a run as
history.load and then a Thinner would, reading the run's files twice a block at a time: once for each
curve's length (metric_fold: for a running job, mostly from what an earlier look kept), once for the
points. A run that logged a million lines took 19 s and 950 MB of the dashboard's build when its whole
history was loaded first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from clusterrun.analysis import history, metric_fold
from clusterrun.records.paths import readable_run_file

THIN_TO = 4000  #: points per curve kept, about

Point = tuple[int, float, float]  # (index in the curve, step, value)


class Thinner:
    """The thinned curve of `n` points, fed one point at a time in order (points past the n-th are
    ignored: a file that grew between the two reads)."""

    def __init__(self, n: int, limit: int = THIN_TO) -> None:
        self.n, self.whole = n, n <= limit
        self.size = max(1, (3 * n) // limit)
        self.steps: list[float] = []
        self.values: list[float] = []
        self.index = 0
        self._first: Point | None = None
        self._low: Point | None = None
        self._high: Point | None = None

    def add(self, step: float, value: float) -> None:
        index = self.index
        if index >= self.n:
            return
        self.index += 1
        if self.whole:
            self.steps.append(step)
            self.values.append(value)
            return
        point = (index, step, value)
        if index % self.size == 0:
            self._flush()
            self._first = self._low = self._high = point
        else:
            assert self._low is not None and self._high is not None
            if value < self._low[2]:
                self._low = point
            if value > self._high[2]:
                self._high = point
        if index == self.n - 1:
            self._flush(point)

    def _flush(self, last: Point | None = None) -> None:
        if self._first is None:
            return
        assert self._low is not None and self._high is not None
        kept = {point[0]: point for point in (self._first, self._low, self._high, last) if point is not None}
        for _index, step, value in sorted(kept.values()):
            self.steps.append(step)
            self.values.append(value)
        self._first = self._low = self._high = None

    def result(self) -> tuple[list[float], list[float]]:
        self._flush()
        return self.steps, self.values


def thin(steps: list[float], values: list[float], limit: int = THIN_TO) -> tuple[list[float], list[float]]:
    """A whole curve thinned (a Thinner fed every point)."""
    thinner = Thinner(len(values), limit)
    for step, value in zip(steps, values, strict=True):
        thinner.add(step, value)
    return thinner.result()


def _feed(
    rows: Iterable[dict[str, Any]], step_key: str, adders: Mapping[str, Callable[[float, float], None]]
) -> None:
    """Every point of the rows, as history.from_rows makes its columns, to its metric's adder (metrics
    without one are counted and skipped). The hot loop of a long run's page: plain types, no calls."""
    counts: dict[str, int] = {}
    isfinite = math.isfinite
    time_key = metric_fold.TIME_KEY
    for row in rows:
        step = row.get(step_key)
        if step is not None and not (type(step) is int or (type(step) is float and isfinite(step))):
            step = None
        for key, value in row.items():
            kind = type(value)
            if kind is float:
                if not isfinite(value):
                    continue
            elif kind is not int:
                continue
            if key in (step_key, time_key):
                continue
            at = counts.get(key, 0)
            counts[key] = at + 1
            add = adders.get(key)
            if add is not None:
                add(step if step is not None else at, value)


def thinned(
    run_dir: Path, sources: history.Sources, limit: int = THIN_TO
) -> dict[str, tuple[list[float], list[float]]]:
    """{metric: (steps, values)} of every curve of history.load(run_dir, sources), thinned, sorted by
    name; a pattern's curve replaces the file's curve of the same name, as in history.load."""
    counts = {name: item.count for name, item in history.file_fold(run_dir, sources).series.items()}
    printed: dict[str, int] = {}
    if sources.patterns:
        printed = {name: item.count for name, item in history.printed_fold(run_dir, sources).series.items()}
    thinners = {name: Thinner(n, limit) for name, n in {**counts, **printed}.items()}
    from_file = {name: thinners[name].add for name in counts if name not in printed}
    path = readable_run_file(run_dir, sources.file)  # the file file_fold read (None: out of the registry)
    if path is not None and from_file:
        _feed(_rows(path), sources.step_key, from_file)
    if printed:
        rows = history.iter_stdout_history_rows(run_dir, sources)
        _feed(rows, sources.step_key, {name: thinners[name].add for name in printed})
    return {name: thinners[name].result() for name in sorted(thinners)}


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    for block in metric_fold.row_blocks(path):
        yield from block
