"""What `clusterrun status` lists: the runs named (a sweep stands for its members, ranked), else the
newest runs filtered by name, state and age; brought up to date once, or until every one has ended."""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.records import store
from clusterrun.records.registry import Registry
from clusterrun.services.status import StatusReport, refresh, wait
from clusterrun.services.sweeps import SweepView, sweep_view


@dataclass
class StatusQuery:
    run_ids: list[str] = field(default_factory=list)  # runs or sweeps; none: the newest runs, filtered
    name: str | None = None  # glob over run names, e.g. 'resnet*'
    state: str | None = None  # comma-separated states, e.g. 'failed,timeout'
    since: str | None = None  # '2h', '3d', an ISO date
    limit: int | None = 20  # when no run is named
    sort: str | None = None  # a sweep's ranking metric (default: the sweep's own, else loss)
    mode: str | None = None  # 'min' or 'max' (default: the sweep's own)


@dataclass
class StatusView:
    """The runs of a status query, brought up to date; a sweep's members ranked when one was named."""

    report: StatusReport
    sweep: SweepView | None = None
    single: bool = False  # one run was named and it has ended: its results come with it

    @property
    def warnings(self) -> list[str]:
        return self.sweep.warnings if self.sweep is not None else self.report.warnings

    @property
    def run_ids(self) -> list[str]:
        return self.sweep.run_ids if self.sweep is not None else self.report.run_ids

    @property
    def done(self) -> int:
        return sum(r.done for r in self.report.runs)

    def as_record(self) -> dict[str, Any]:
        return self.sweep.as_record() if self.sweep is not None else self.report.as_record()


def status(
    registry: Registry,
    query: StatusQuery,
    watch: bool = False,
    on_refresh: Callable[[StatusView], None] = lambda _v: None,
) -> StatusView:
    """The query's runs brought up to date (one scheduler query per backend); with `watch`, again and
    again until every one has ended, each view (also an empty one) passed to `on_refresh` as it comes."""
    named = [registry.resolve(text, allow_sweep=True) for text in query.run_ids]  # prefixes, @latest
    sweep_id = named[0] if len(named) == 1 and registry.is_sweep(named[0]) else None
    ids = (
        expand_ids(registry, named)
        if named
        else select(registry, query.name, query.state, query.since, query.limit)
    )
    if not ids:
        empty = StatusView(StatusReport([], [], 0))
        if watch:
            on_refresh(empty)
        return empty

    def view(report: StatusReport) -> StatusView:
        if sweep_id is not None:
            return StatusView(report, sweep_view(registry, sweep_id, report, query.sort, query.mode))
        return StatusView(report, single=len(named) == 1 and all(r.done for r in report.runs))

    if not watch:
        return view(refresh(registry, ids))
    last: list[StatusView] = []

    def refreshed(report: StatusReport) -> None:
        last[:] = [view(report)]
        on_refresh(last[0])

    wait(registry, ids, on_refresh=refreshed)
    return last[0]


def parse_since(text: str) -> float:
    """'90m', '2h', '3d', '1w' or an ISO date -> a POSIX timestamp."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        factor = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
        return time.time() - float(match.group(1)) * factor
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a duration or a date", hint="e.g. --since 2h, 3d, 2026-11-01"
        ) from None


def select(
    registry: Registry,
    name: str | None = None,
    state: str | None = None,
    since: str | None = None,
    limit: int | None = 20,
) -> list[str]:
    """Run ids, newest first, filtered by name (glob), last recorded state and creation time."""
    after = parse_since(since) if since else None
    wanted_states = {s.strip().lower() for s in state.split(",")} if state else None
    out: list[str] = []
    for run in registry.runs():
        if limit is not None and len(out) >= limit:
            break
        if name and not fnmatch.fnmatch(run.id.rsplit("_", 1)[0], name):
            continue
        if wanted_states is None and after is None:
            out.append(run.id)
            continue
        try:
            manifest = run.load_manifest()
        except ClusterrunError:
            continue
        if wanted_states is not None and manifest.state.lower() not in wanted_states:
            continue
        if after is not None:
            try:
                if datetime.fromisoformat(manifest.created).timestamp() < after:
                    continue
            except ValueError:
                continue
        out.append(run.id)
    return out


def expand_ids(registry: Registry, ids: list[str]) -> list[str]:
    """Sweep ids stand for their members."""
    out: list[str] = []
    for run_id in ids:
        if registry.is_sweep(run_id):
            record = store.read_sweep(registry.get(run_id, allow_sweep=True).path)
            out += [m.run_id for m in record.members]
        else:
            out.append(run_id)
    return out
