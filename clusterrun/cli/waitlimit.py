"""The overall --timeout of every wait: `status --watch`, `submit --wait/--follow`, `logs -f`.

The limit itself lives in the service-level wait (services/status.py: `waiting_at_most`), so every way
of waiting (live displays included) honours it; this module is only the option and its check."""

from __future__ import annotations

from typing import Any

import typer

from clusterrun.errors import UsageError

TIMEOUT_HELP = (
    "Stop waiting after SECONDS in all (exit 1; the runs go on). Default: $CLUSTERRUN_WAIT_TIMEOUT, else "
    "no limit (a job no source knows any more still ends the wait: it is `lost` after "
    "$CLUSTERRUN_LOST_AFTER seconds, default 600)."
)


def timeout_option() -> Any:
    return typer.Option("--timeout", metavar="SECONDS", help=TIMEOUT_HELP, show_default=False)


def checked(timeout: float | None, waiting: bool, needs: str) -> float | None:
    """The limit, refused (exit 2) when it is not a positive number or the command does not wait."""
    if timeout is None:
        return None
    if timeout <= 0:
        raise UsageError(
            f"--timeout {timeout:g} is not a positive number of seconds", hint="e.g. --timeout 3600"
        )
    if not waiting:
        raise UsageError(f"--timeout limits a wait: it needs {needs}", hint=f"add {needs}, or drop --timeout")
    return timeout
