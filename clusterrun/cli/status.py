"""clusterrun status [RUN_ID ...] [--watch] [--json]"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry, warn
from clusterrun.cli.output import emit_json, results_block, status_table
from clusterrun.status import StatusReport, refresh, wait


def _show(report: StatusReport, json_: bool, single: bool) -> None:
    for message in report.warnings:
        warn(message)
    if json_:
        emit_json({"runs": [r.as_record() for r in report.runs], "warnings": report.warnings})
        return
    if not report.runs:
        typer.echo("no runs yet; start one with: clusterrun submit configs/examples/quickstart.yaml")
        return
    typer.echo(status_table([r.as_record() for r in report.runs]))
    if single and report.runs[0].summary:
        typer.echo()
        summary = report.runs[0].summary
        typer.echo(results_block(summary, str(summary.get("run_dir", ""))))


def status(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Runs to show (default: all, newest first).", show_default=False),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until every run has ended.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many runs when none are named.")] = 20,
) -> None:
    """Show runs: state, elapsed time, job id, node and key metrics (one scheduler query per refresh)."""
    reg = registry(ctx)
    ids = list(run_ids or [])
    if not ids:
        ids = [r.id for r in list(reg.runs())[:limit]]
    if not ids:
        _show(StatusReport([], [], 0), json_, single=False)
        return
    if watch:

        def show(report: StatusReport) -> None:
            if not json_:
                typer.echo(f"\n--- {len(report.runs)} run(s), {sum(r.done for r in report.runs)} ended ---")
            _show(report, json_, single=len(ids) == 1 and all(r.done for r in report.runs))

        wait(reg, ids, on_refresh=show)
        return
    _show(refresh(reg, ids), json_, single=len(run_ids or []) == 1)
