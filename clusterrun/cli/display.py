"""How progress reaches a person: drawn live on a terminal, as plain lines otherwise, not at all with
--quiet. The live parts use rich, imported only when something is drawn (`clusterrun --help` stays fast).

    live   a terminal (a tty; TERM is not `dumb`; NO_COLOR is not set): spinners and tables redrawn in place
    plain  a pipe, a file, TERM=dumb or NO_COLOR: one line per event, no escape codes
    quiet  --quiet: only warnings, errors and the final result
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from clusterrun.cli.common import info
from clusterrun.services import no_step

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Mode = Literal["live", "plain", "quiet"]
TAIL_BYTES = 4096  # read from the end of a log for its last line
COUNT_AFTER = 0.5  #: seconds a counted batch runs before its bar is drawn: a quick one draws nothing
COUNT_EVERY = 0.1  #: seconds between redraws of a bar


def can_redraw(stream: IO[str]) -> bool:
    """A terminal that takes cursor movement and colour: a tty, TERM not `dumb`, NO_COLOR unset."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        tty = False
    return tty and os.environ.get("TERM", "") != "dumb" and not os.environ.get("NO_COLOR")


def display_mode(stream: IO[str], quiet: bool = False) -> Mode:
    if quiet:
        return "quiet"
    return "live" if can_redraw(stream) else "plain"


def console(stream: IO[str]) -> Console:
    """A rich console on `stream` (a terminal: can_redraw said so)."""
    from rich.console import Console

    return Console(file=stream, force_terminal=True, highlight=False)


def last_line(paths: Sequence[Path]) -> str:
    """The last non-empty line written to the most recently changed of `paths` ('' when none)."""
    found: list[tuple[float, Path]] = []
    for path in paths:
        try:
            found.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _mtime, path in sorted(found, reverse=True):
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - TAIL_BYTES))
                chunk = handle.read()
        except OSError:
            continue
        for raw in reversed(chunk.decode("utf-8", "replace").splitlines()):
            line = "".join(c for c in raw.rsplit("\r", 1)[-1] if c.isprintable()).strip()
            if line:
                return line
    return ""


class _Spinning:
    """A spinner, the step's message and elapsed time, and the last line its logs got (re-read at every
    redraw)."""

    def __init__(self, message: str, logs: Sequence[Path]) -> None:
        from rich.spinner import Spinner

        self.message, self.logs = message.removesuffix(" ...").removesuffix("..."), logs
        self.started = time.monotonic()
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        self.spinner.update(text=Text.assemble(self.message, ("  " + f"{elapsed:.1f} s", "cyan")))
        line = last_line(self.logs)
        if not line:
            return self.spinner
        return Group(self.spinner, Text("  " + line, style="dim", no_wrap=True, overflow="ellipsis"))


@contextmanager
def spinner(stream: IO[str], message: str, logs: Sequence[Path] = ()) -> Iterator[None]:
    """A spinner with the elapsed time and the last log line while the block runs; then one line."""
    from rich.live import Live

    view = _Spinning(message, logs)
    out = console(stream)
    with Live(view, console=out, refresh_per_second=8, transient=True):
        yield
    out.print(f"{view.message}: done after {time.monotonic() - view.started:.1f} s", style="dim")


class _Counting:
    """A batch's bar (message, bar, done/total, elapsed) on a terminal, drawn once the batch has run
    COUNT_AFTER seconds and redrawn at most every COUNT_EVERY seconds, by the step itself: no thread
    (services/fanout.py forks only while this process runs no other thread). Then one line."""

    def __init__(self, stream: IO[str], message: str, total: int) -> None:
        self.stream, self.message, self.total = stream, message, total
        self.started = time.monotonic()
        self.drawn = self.started
        self.bar: Any = None  # rich's Progress, made when first drawn (rich is imported then)
        self.task: Any = None
        self.done = 0  # the most items said done so far

    def __enter__(self) -> Callable[[int], None]:
        return self.step

    def step(self, done: int) -> None:
        # never drawn going back: a forked worker that failed has its share done again in this process
        # (services/fanout.py), and its count starts over; the bar waits for the redone items instead
        done = self.done = max(done, self.done)
        now = time.monotonic()
        if now - self.drawn < COUNT_EVERY or now - self.started < COUNT_AFTER:
            return
        self.drawn = now
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn(self.message.replace("{", "{{").replace("}", "}}"), markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console(self.stream),
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.task = self.bar.add_task("", total=self.total, completed=min(done, self.total))
            self.bar.start()  # its first frame: the count so far
            return
        self.bar.update(self.task, completed=min(done, self.total))
        self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        if self.bar is None:
            return
        self.bar.stop()
        if exc[0] is None:
            seconds = time.monotonic() - self.started
            self.bar.console.print(f"{self.message}: done after {seconds:.1f} s", style="dim")


class Reporter:
    """The CLI's Notify (services/__init__.py): messages go to stderr, long steps get a spinner there on
    a terminal and long batches a bar, and --quiet silences all three."""

    def __init__(self, mode: Mode, stream: IO[str] | None = None) -> None:
        import sys

        self.mode, self.stream = mode, stream or sys.stderr

    def __call__(self, message: str) -> None:
        if self.mode != "quiet":
            info(message)

    def activity(self, message: str, logs: Sequence[Path] = ()) -> AbstractContextManager[Any]:
        if self.mode == "live":
            return spinner(self.stream, message, logs)
        self(message)
        return nullcontext()

    def counting(self, message: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        """A batch of `total` items: a bar on a terminal once it takes a moment; nothing otherwise."""
        if self.mode == "live":
            return _Counting(self.stream, message, total)
        return nullcontext(no_step)
