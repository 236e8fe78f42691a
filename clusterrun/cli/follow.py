"""`submit --wait --follow` and `logs -f`: a job's stdout and stderr on the terminal as they are written.

A background thread copies every complete new line of the followed files (a line redrawn with carriage
returns, a progress bar, as its last state): the job's stdout to our stdout,
its stderr to our stderr, each stderr line prefixed `[stderr] ` (red on a terminal); with several runs
(a sweep) each line also starts with `[run_id] `. The caller waits for the runs to end (the services' wait,
which also records their states); `stop()` then copies what is left, the last partial line included.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from clusterrun.cli.display import can_redraw
from clusterrun.records.logtext import terminal_lines
from clusterrun.records.registry import Registry
from clusterrun.services.status import RunStatus, wait

INTERVAL = 0.2  # seconds between looks at the files
STDERR_PREFIX = "[stderr] "
_RED, _RESET = "\x1b[31m", "\x1b[0m"


@dataclass
class Followed:
    """One file copied line by line to `out`, each line with `prefix` (coloured when `colour`)."""

    path: Path
    out: IO[str]
    prefix: str = ""
    colour: str = ""
    offset: int = 0
    partial: bytes = b""

    def poll(self, final: bool = False) -> int:
        """Copy the complete lines written since the last look (all that is left when `final`)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:  # not written yet
            chunk = b""
        self.offset += len(chunk)
        data = self.partial + chunk
        cut = len(data) if final else data.rfind(b"\n") + 1
        self.partial = data[cut:]
        text = data[:cut].decode("utf-8", "replace")
        # as a terminal shows them: a progress bar redrawn with carriage returns is its last state
        lines = terminal_lines(text.removesuffix("\n")) if text else []
        if lines:
            start, end = (self.colour, _RESET) if self.colour else ("", "")
            self.out.write("".join(f"{start}{self.prefix}{line}{end}\n" for line in lines))
            self.out.flush()
        return len(lines)


def run_logs(
    run_dir: Path, run_prefix: str = "", out: IO[str] | None = None, err: IO[str] | None = None
) -> list[Followed]:
    """A run's stdout.log (to `out`) and stderr.log (to `err`, prefixed) as followed files."""
    out, err = out or sys.stdout, err or sys.stderr
    colour = _RED if can_redraw(err) else ""
    return [
        Followed(run_dir / "stdout.log", out, run_prefix),
        Followed(run_dir / "stderr.log", err, run_prefix + STDERR_PREFIX, colour),
    ]


class Tail:
    """Follow files in a background thread until `stop()` (or the end of a `with` block)."""

    def __init__(self, files: list[Followed], interval: float = INTERVAL) -> None:
        self.files, self.interval = files, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clusterrun-follow", daemon=True)
        self._lock = threading.Lock()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self, final: bool = False) -> int:
        with self._lock:
            return sum(f.poll(final) for f in self.files)

    def start(self) -> Tail:
        self.poll()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and copy everything that is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll(final=True)

    def __enter__(self) -> Tail:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def following(run_dirs: list[Path], out: IO[str] | None = None) -> Tail:
    """A Tail of these runs' stdout (to `out`, default stdout) and stderr (with `[run_id] ` before each
    line when there are several)."""
    several = len(run_dirs) > 1
    files = [f for d in run_dirs for f in run_logs(d, f"[{d.name}] " if several else "", out=out)]
    return Tail(files)


def follow_run(registry: Registry, run_id: str, files: list[Followed]) -> RunStatus:
    """Copy `files` as they grow until the run has ended (its states recorded, its summary collected, as
    `status` does); then what is left. Returns the run's last status."""
    with Tail(files):
        report = wait(registry, [run_id], first_interval=1.0, max_interval=5.0)
    return report.runs[0]
