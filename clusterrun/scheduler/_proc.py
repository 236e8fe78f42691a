"""The one helper through which clusterrun runs SLURM's commands."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from clusterrun.errors import SchedulerUnavailable

DEFAULT_TIMEOUT = 60.0


class CommandTimeout(SchedulerUnavailable):
    """A scheduler command that did not answer in time (it was stopped); `seconds` is the limit, `stderr`
    what it had written there by then (sbatch says so while it retries a job the controller refused)."""

    def __init__(self, message: str, hint: str, seconds: float, stderr: str = "") -> None:
        super().__init__(message, hint)
        self.seconds = seconds
        self.stderr = stderr


def run(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a scheduler command, never through a shell; a missing or hanging command is 'unavailable'."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise SchedulerUnavailable(
            f"'{argv[0]}' is not installed or not on PATH",
            hint="run on a SLURM login node, or use --backend local",
        ) from None
    except subprocess.TimeoutExpired as exc:
        said = exc.stderr or b""
        raise CommandTimeout(
            f"'{' '.join(argv[:2])}' did not answer within {timeout:.0f} s",
            hint="the SLURM controller may be down or overloaded; try again later",
            seconds=timeout,
            stderr=said.decode(errors="replace") if isinstance(said, bytes) else said,
        ) from None
