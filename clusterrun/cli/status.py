"""clusterrun status [RUN_ID | SWEEP_ID ...] [--watch] [--json] [filters]"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry, warn
from clusterrun.cli.output import emit_json, results_block, status_table, sweep_table
from clusterrun.records.registry import Registry
from clusterrun.services.status import StatusReport, expand_ids, refresh, select, sweep_view, wait


def _show(report: StatusReport, json_: bool, single: bool) -> None:
    for message in report.warnings:
        warn(message)
    if json_:
        emit_json({"runs": [r.as_record() for r in report.runs], "warnings": report.warnings})
        return
    if not report.runs:
        typer.echo("no runs match; start one with: clusterrun submit configs/examples/quickstart.yaml")
        return
    typer.echo(status_table([r.as_record() for r in report.runs]))
    if single and report.runs[0].summary:
        typer.echo()
        summary = report.runs[0].summary
        typer.echo(results_block(summary, str(summary.get("run_dir", ""))))


def _show_sweep(
    reg: Registry, sweep_id: str, report: StatusReport, json_: bool, sort: str | None, maximize: bool
) -> None:
    view = sweep_view(reg, sweep_id, report, sort=sort, mode="max" if maximize else None)
    for message in view.warnings:
        warn(message)
    if json_:
        emit_json(view.as_record())
    else:
        typer.echo(sweep_table(view))


def status(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Runs or sweeps to show (default: the newest runs).", show_default=False),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until every run has ended.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    name: Annotated[
        str | None,
        typer.Option(help="Only runs whose name matches (glob, e.g. 'resnet*').", show_default=False),
    ] = None,
    state: Annotated[
        str | None, typer.Option(help="Only runs in these states (e.g. failed,timeout).", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only runs created since (e.g. 2h, 3d, 2026-11-01).", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs when none are named.")] = 20,
    sort: Annotated[
        str | None, typer.Option(help="For a sweep: the metric that ranks members.", show_default=False)
    ] = None,
    maximize: Annotated[bool, typer.Option("--max", help="For a sweep: higher is better.")] = False,
) -> None:
    """Show runs (or a sweep's members): state, elapsed, job id, node, key metrics; one scheduler query."""
    reg = registry(ctx)
    named = list(run_ids or [])
    sweep_id = named[0] if len(named) == 1 and reg.is_sweep(named[0]) else None
    ids = expand_ids(reg, named) if named else select(reg, name, state, since, limit)
    if not ids:
        _show(StatusReport([], [], 0), json_, single=False)
        return

    def show(report: StatusReport) -> None:
        if sweep_id is not None:
            _show_sweep(reg, sweep_id, report, json_, sort, maximize)
        else:
            _show(report, json_, single=len(named) == 1 and all(r.done for r in report.runs))

    if watch:

        def show_progress(report: StatusReport) -> None:
            if not json_:
                typer.echo(f"\n--- {len(report.runs)} run(s), {sum(r.done for r in report.runs)} ended ---")
            show(report)

        wait(reg, ids, on_refresh=show_progress)
        return
    show(refresh(reg, ids))
