"""The early-failure watch of `submit` without --wait: the first seconds of the job are watched, and a run
that fails on start (a missing module, a bad path, a refused allocation) is reported at once with its
diagnosis and a non-zero exit, instead of being found an hour later.

On by default on a terminal (`DEFAULT_SECONDS`); without one (scripts, CI, pipes) it is skipped unless
--watch-seconds asks for it; --no-watch always skips it. Ctrl-C stops the watch, never the job.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clusterrun.cli.common import info
from clusterrun.cli.display import display_mode
from clusterrun.cli.progress import RefreshDisplay
from clusterrun.records.models import as_summary
from clusterrun.records.registry import Registry
from clusterrun.services.submit import SubmitResult

if TYPE_CHECKING:  # the watch imports the status service when it runs: a submit without it never does
    from clusterrun.services.status import RunStatus, StatusReport

DEFAULT_SECONDS = 10.0
SHOWN_FAILURES = 5


def watch_seconds(seconds: float | None, no_watch: bool) -> float:
    """How long to watch: none with --no-watch; --watch-seconds when given; else DEFAULT_SECONDS when
    stdin and stderr are a terminal (someone is looking), none otherwise."""
    if no_watch:
        return 0.0
    if seconds is not None:
        return max(0.0, seconds)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    return DEFAULT_SECONDS if interactive else 0.0


def _failed(run: RunStatus) -> bool:
    return run.done and run.summary is not None and not as_summary(run.summary).success


def _diagnosis(summary: dict[str, Any] | None) -> str:
    record = as_summary(summary).diagnosis if summary else None
    return f"{record.category}: {record.evidence} -> {record.fix}" if record else "no diagnosis"


def failure_lines(report: StatusReport, shown: int = SHOWN_FAILURES) -> int:
    """One line on stderr per failed run (state and diagnosis), at most `shown`; returns how many failed."""
    failed = [r for r in report.runs if _failed(r)]
    for run in failed[:shown]:
        info(f"  {run.run_id} {run.state.upper()}: {_diagnosis(run.summary)}")
    if len(failed) > shown:
        info(f"  ... and {len(failed) - shown} more")
    return len(failed)


def watch_start(registry: Registry, result: SubmitResult, seconds: float, quiet: bool) -> SubmitResult:
    """Watch the submitted runs for `seconds`; when one failed, the result carries the runs' states (so
    it renders their results, diagnosis included, and exits 1). Otherwise it is returned unchanged."""
    if seconds <= 0 or result.outcome != "submitted" or result.report is not None:
        return result
    if not quiet:
        info(
            f"watching the start for {seconds:g} s "
            "(--no-watch skips this; Ctrl-C stops watching, not the job)"
        )
    from clusterrun.services.status import wait
    from clusterrun.services.sweeps import sweep_view

    try:
        with RefreshDisplay(display_mode(sys.stderr, quiet), sys.stderr) as display:
            report = wait(
                registry,
                result.run_ids,
                on_refresh=display,
                first_interval=1.0,
                max_interval=2.0,
                timeout=seconds,
            )
    except KeyboardInterrupt:
        info("stopped watching; the job goes on")
        return result
    failed = sum(_failed(r) for r in report.runs)
    if not failed:
        if not quiet:
            states = ", ".join(sorted({r.state.upper() for r in report.runs}))
            info(f"no failure in the first {seconds:g} s ({states})")
        return result
    info(f"{failed} of {len(report.runs)} run(s) failed on start:")
    failure_lines(report)
    view = sweep_view(registry, result.sweep_id, report) if result.sweep_id is not None else None
    return replace(result, report=report, sweep_view=view)
