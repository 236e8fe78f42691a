"""`clusterrun submit` from its parsed request to its output: progress while it works (a spinner during
the smoke test, the live table or the followed logs while it waits), the early-failure watch, then the
result in the chosen format. --quiet keeps only warnings, errors and the run ids (and, when waiting, a
line per failed run on stderr)."""

from __future__ import annotations

import sys

from clusterrun.cli.common import warn_all
from clusterrun.cli.display import Reporter, display_mode
from clusterrun.cli.progress import submit_display
from clusterrun.cli.render import Format, present, reviewing
from clusterrun.cli.startwatch import failure_lines, watch_start
from clusterrun.records.registry import Registry
from clusterrun.services import submit as service
from clusterrun.services.prepare import Prepared
from clusterrun.services.submit import Confirm, SubmitRequest


def _warnings_only(prepared: Prepared) -> None:
    warn_all(prepared.warnings)


def submit_and_show(
    registry: Registry,
    request: SubmitRequest,
    fmt: Format,
    confirm: Confirm,
    *,
    wait: bool = False,
    follow: bool = False,
    quiet: bool = False,
    watch: float = 0.0,
) -> None:
    """Submit (with --follow: and wait, streaming the logs), watch the start when not waiting, present."""
    review = _warnings_only if quiet else reviewing(fmt)
    notify = Reporter(display_mode(sys.stderr, quiet))
    with submit_display(registry, quiet, follow, fmt) as display:
        result = service.submit(
            request,
            registry,
            confirm=confirm,
            notify=notify,
            review=review,
            wait=wait or follow,
            on_refresh=display,
        )
    if not (wait or follow):
        result = watch_start(registry, result, watch, quiet)
    if quiet and (wait or follow) and result.report is not None:
        failure_lines(result.report)
    present(result, "ids" if quiet and fmt == "text" else fmt)
