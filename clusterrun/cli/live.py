"""`status --watch` and `submit --wait` on a terminal: ONE table of runs redrawn in place (rich.live.Live)
with each run's state in colour, why a pending job waits (the scheduler's reason: Priority, Resources,
QOSMaxJobsPerUserLimit...), its elapsed time, and its latest metrics; several runs (a sweep) also get
their counts by state and a progress bar. Elsewhere (a pipe, TERM=dumb, NO_COLOR) progress is plain lines.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from clusterrun.analysis.metrics import format_metrics
from clusterrun.cli.common import info
from clusterrun.cli.display import console
from clusterrun.cli.output import duration, state_label
from clusterrun.cli.warnfold import fold
from clusterrun.scheduler import TERMINAL, reasons

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.live import Live

    from clusterrun.services.status import RunStatus, StatusReport

#: Colours of states: waiting yellow, going cyan, done green, stopped by someone magenta, failed red.
STATE_STYLES = {
    "pending": "yellow",
    "requeued": "yellow",
    "suspended": "yellow",
    "submitting": "yellow",
    "submitted": "yellow",
    "running": "bold cyan",
    "completing": "cyan",
    "configuring": "cyan",
    "completed": "bold green",
    "cancelled": "magenta",
    "unknown": "dim",
}
FAILED_STYLE = "bold red"
ACTIVE_FIRST = {"running": 0, "completing": 0, "pending": 1}  # shown first when rows must be cut


def state_style(state: str) -> str:
    return STATE_STYLES.get(state, FAILED_STYLE if state in TERMINAL else "")


def _elapsed(run: RunStatus, since_refresh: float) -> str:
    seconds = run.elapsed_seconds if run.state != "pending" else None  # a queued job has not started
    if seconds is not None and run.state == "running":
        seconds += since_refresh  # ticks between refreshes
    return duration(seconds)


class RunsView:
    """The renderable: re-rendered by Live several times a second from the last report."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.report: StatusReport | None = None
        self.refreshed = time.monotonic()
        self.waiting: list[str] = []  # why the pending runs wait, a line per reason (once per report)

    def update(self, report: StatusReport) -> None:
        from clusterrun.cli.tables import waiting_lines

        self.report, self.refreshed = report, time.monotonic()
        self.waiting = waiting_lines([r.as_record() for r in report.runs if r.state == "pending"])

    def __rich_console__(self, out: Console, options: ConsoleOptions) -> Any:
        from rich.text import Text

        since = time.monotonic() - self.refreshed
        runs = self.report.runs if self.report is not None else []
        ended = sum(r.done for r in runs)
        head = Text.assemble(
            (self.title + "  " if self.title else "", "bold"),
            f"{len(runs)} run(s), {ended} ended",
            (f"  refreshed {since:.0f} s ago; Ctrl-C stops watching, not the runs", "dim"),
        )
        yield head
        if len(runs) > 1:
            yield from self._counts(runs, ended)
        if runs:
            room = options.max_height - (6 if len(runs) > 1 else 4) - len(self.waiting)
            yield self._table(runs, since, max(3, room))
        for line in self.waiting:
            yield Text(line, style="yellow")
        for warning in fold(self.report.warnings) if self.report is not None else []:
            yield Text(f"warning: {warning}", style="yellow")

    def _counts(self, runs: list[RunStatus], ended: int) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        counts = Counter(r.state for r in runs)
        line = Text()
        for state, n in sorted(counts.items()):
            line.append(f"{state.upper()}={n}  ", style=state_style(state))
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=len(runs), completed=ended, width=40), f"{ended}/{len(runs)} ended")
        yield line
        yield bar

    def _table(self, runs: list[RunStatus], since: float, rows: int) -> RenderableType:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        shown = runs
        if len(runs) > rows:  # what is still going first; the rest counted
            shown = sorted(runs, key=lambda r: ACTIVE_FIRST.get(r.state, 2))[: rows - 1]
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for column in ("RUN ID", "STATE", "REASON", "ELAPSED", "JOB", "NODE", "LATEST METRICS"):
            table.add_column(column, no_wrap=column != "LATEST METRICS", overflow="ellipsis")
        for run in shown:
            table.add_row(
                run.run_id,
                Text(state_label(run.state, run.attempt, run.max_attempts), style=state_style(run.state)),
                Text(_waits_for(run), style="yellow"),
                _elapsed(run, since),
                run.job_id or "-",
                run.node or "-",
                format_metrics(run.shown_metrics, limit=3) or "-",
            )
        if len(shown) < len(runs):
            table.add_row(f"... and {len(runs) - len(shown)} more", "", "", "", "", "", "")
        return table


class LiveRuns:
    """A context in which `update(report)` redraws the one table in place; it is cleared at the end, so
    what the command prints last (the final table, the results) is not printed twice."""

    def __init__(self, stream: IO[str], title: str = "") -> None:
        self.view = RunsView(title)
        self.stream = stream
        self.live: Live | None = None

    def __enter__(self) -> LiveRuns:
        from rich.live import Live

        self.live = Live(self.view, console=console(self.stream), refresh_per_second=4, transient=True)
        self.live.start()
        return self

    def update(self, report: StatusReport) -> None:
        self.view.update(report)
        if self.live is not None:
            self.live.refresh()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _waits_for(run: RunStatus) -> str:
    """The REASON cell: why a pending run waits, in words (scheduler/reasons.py)."""
    if run.state != "pending":
        return "-"
    return reasons.explain(run.reason).words if run.reason else "?"


def state_lines(max_runs: int = 5) -> Callable[[StatusReport], None]:
    """Plain progress for `submit --wait` without a terminal: a line on stderr whenever a run's state
    (or its reason to wait) changes; past `max_runs` runs, a line whenever the counts by state change."""
    seen: dict[str, tuple[str, str]] = {}
    last_counts: list[str] = []

    def refreshed(report: StatusReport) -> None:
        runs = report.runs
        if len(runs) > max_runs:
            counts = "  ".join(f"{s.upper()}={n}" for s, n in sorted(Counter(r.state for r in runs).items()))
            if [counts] != last_counts:
                last_counts[:] = [counts]
                info(f"{sum(r.done for r in runs)}/{len(runs)} ended: {counts}")
            return
        for run in runs:
            now = (run.state, run.reason)
            if seen.get(run.run_id) != now:
                seen[run.run_id] = now
                why = f", {reasons.explain(run.reason).said()}" if run.reason else ""
                where = f" on {run.node}" if run.node and run.state == "running" else ""
                info(f"{run.run_id}: {run.state.upper()}{why}{where}")

    return refreshed
