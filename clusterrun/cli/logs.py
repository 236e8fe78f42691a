"""clusterrun logs RUN_ID [--stderr] [--smoke] [--follow]"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.errors import UsageError
from clusterrun.records.summary import scheduler_folder, scheduler_logs
from clusterrun.services.status import refresh


def _copy(path: Path, offset: int) -> int:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return offset
    if chunk:
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    return offset + len(chunk)


def logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run whose log to print.", show_default=False)],
    stderr: Annotated[bool, typer.Option("--stderr", help="The job's stderr instead of its stdout.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="The smoke test's log instead of the job's.")
    ] = False,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler",
            help="The scheduler's own log (submitit, slurmstepd "
            "messages such as memory or time-limit kills).",
        ),
    ] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
) -> None:
    """Print a run's stdout (or stderr, or the smoke test's, or the scheduler's log)."""
    reg = registry(ctx)
    run = reg.get(run_id)
    suffix = "err" if stderr else "out"
    if scheduler:
        manifest = run.load_manifest()
        job_id = manifest.job_id or ""
        found = [
            p for p in scheduler_logs(scheduler_folder(run, manifest), job_id) if p.suffix == f".{suffix}"
        ]
        if not found:
            raise UsageError(
                f"run {run.id} has no scheduler log yet", hint="was it submitted? see clusterrun show"
            )
        path = found[0]
    else:
        base = run.file("smoke") if smoke else run.path
        path = base / ("stderr.log" if stderr else "stdout.log")
    if not path.exists() and not follow:
        raise UsageError(
            f"{path} does not exist yet", hint=f"the run has not started; try: clusterrun logs {run.id} -f"
        )
    offset = _copy(path, 0)
    if not follow or smoke:
        return
    interval = 0.5
    while True:
        report = refresh(reg, [run.id])
        offset_before = offset
        offset = _copy(path, offset)
        if report.runs[0].done:
            _copy(path, offset)
            return
        interval = 0.5 if offset != offset_before else min(5.0, interval * 1.5)
        time.sleep(interval)
