"""What a command shows while it waits for runs (`submit --wait`, `status --watch`), by display mode:

    live    the one table of live.py, redrawn in place (on stderr for submit, stdout for status)
    plain   submit: a line per state change (live.state_lines); status: each refresh printed (watching)
    quiet   nothing until the end
    follow  (submit --wait --follow) the runs' stdout and stderr as they are written (follow.py)

A display starts at the first refresh, so nothing is drawn while the smoke test and the manifest print.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING

from clusterrun.cli.display import Mode, display_mode
from clusterrun.cli.render import Format, watching
from clusterrun.records.registry import Registry

if TYPE_CHECKING:  # imported when a display needs them: rich's live table, the log tail
    from clusterrun.cli.follow import Tail
    from clusterrun.cli.live import LiveRuns
    from clusterrun.services.listing import StatusView
    from clusterrun.services.status import StatusReport


class RefreshDisplay:
    """Called with every refresh of a wait; closed (a `with` block) when the wait is over."""

    def __init__(
        self,
        mode: Mode,
        stream: IO[str],
        registry: Registry | None = None,
        follow: bool = False,
        logs_to: IO[str] | None = None,
    ) -> None:
        self.mode, self.stream, self.registry, self.follow = mode, stream, registry, follow
        self.logs_to = logs_to  # where a followed job's stdout goes (default: stdout)
        self.live: LiveRuns | None = None
        self.tail: Tail | None = None
        self.lines: Callable[[StatusReport], None] | None = None  # plain: made at the first refresh

    def __call__(self, report: StatusReport) -> None:
        if self.follow and self.registry is not None:
            if self.tail is None:
                from clusterrun.cli.follow import following

                runs = [self.registry.get(i).path for i in report.run_ids]
                self.tail = following(runs, self.logs_to).start()
        elif self.mode == "live":
            if self.live is None:
                from clusterrun.cli.live import LiveRuns

                self.live = LiveRuns(self.stream).__enter__()
            self.live.update(report)
        elif self.mode == "plain":
            if self.lines is None:  # a submit that does not wait never imports the display
                from clusterrun.cli.live import state_lines

                self.lines = state_lines()
            self.lines(report)

    def close(self) -> None:
        if self.tail is not None:
            self.tail.stop()
            self.tail = None
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def __enter__(self) -> RefreshDisplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class StatusWatch:
    """`status --watch`: a live table on a terminal in text format; else each refresh as before (every
    format); --quiet: nothing until the end. `final` says whether the caller still has to print the end."""

    def __init__(self, fmt: Format, quiet: bool) -> None:
        live = fmt == "text" and display_mode(sys.stdout, quiet) == "live"
        self.mode: Mode = "quiet" if quiet else ("live" if live else "plain")
        self.display = RefreshDisplay("live", sys.stdout) if self.mode == "live" else None
        self.plain = watching(fmt) if self.mode == "plain" else None

    @property
    def final(self) -> bool:
        """The last view must still be presented (it was not printed at every refresh)."""
        return self.mode != "plain"

    def __call__(self, view: StatusView) -> None:
        if self.display is not None:
            self.display(view.report)
        elif self.plain is not None:
            self.plain(view)

    def __enter__(self) -> StatusWatch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.display is not None:
            self.display.close()


def submit_display(registry: Registry, quiet: bool, follow: bool, fmt: Format = "text") -> RefreshDisplay:
    """What `submit --wait` shows while it waits: progress on stderr (stdout keeps the results); a followed
    job's stdout on stdout in text, else on stderr (stdout stays one JSON document, or the ids)."""
    logs_to = sys.stdout if fmt == "text" and not quiet else sys.stderr
    return RefreshDisplay(display_mode(sys.stderr, quiet), sys.stderr, registry, follow, logs_to)
