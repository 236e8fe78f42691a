"""stdout.times: when the job printed what (the timestamps of stdout-pattern metrics).

While the command runs, a thread of the job wrapper samples the size of stdout.log and appends
`UNIX_TIME SIZE` when it grew: by then the log held SIZE bytes. The command's output still goes straight
to the file (no pipe that could block it or lose its last lines). Samples are 0.25 s apart at first and
sparser as the run gets long (elapsed / 1000, at most 10 s), so a week-long run writes a few MB at most.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

FIRST_INTERVAL = 0.25
MAX_INTERVAL = 10.0


def interval(elapsed: float) -> float:
    return min(MAX_INTERVAL, max(FIRST_INTERVAL, elapsed / 1000.0))


class StdoutClock:
    """Sample `log`'s size into `out` until stop(); never raises into the job (sampling is best effort)."""

    def __init__(self, log: Path, out: Path) -> None:
        self.log = log
        self.out = out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="clusterrun-stdout-times", daemon=True)
        self._last = -1

    def start(self) -> StdoutClock:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> None:
        try:
            size = os.stat(self.log).st_size
            if size != self._last:
                with open(self.out, "a", encoding="ascii") as handle:
                    handle.write(f"{time.time():.3f} {size}\n")
                self._last = size
        except OSError:
            pass

    def _loop(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(interval(time.monotonic() - started)):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
