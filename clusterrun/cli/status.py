"""clusterrun status [RUN_ID | SWEEP_ID ...] [--watch] [--json | --format F] [filters]"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.cli.render import Format, chosen, format_option, present, watching
from clusterrun.services.listing import StatusQuery
from clusterrun.services.listing import status as status_service


def status(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Runs or sweeps to show (default: the newest runs).", show_default=False),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until every run has ended.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    format_: Annotated[Format | None, format_option("text", "json", "ids", "csv")] = None,
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
    fmt = chosen(format_, json_)
    query = StatusQuery(
        list(run_ids or []), name, state, since, limit, sort=sort, mode="max" if maximize else None
    )
    view = status_service(registry(ctx), query, watch=watch, on_refresh=watching(fmt))
    if not watch:  # --watch rendered every refresh as it came
        present(view, fmt)
