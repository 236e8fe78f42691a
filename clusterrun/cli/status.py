"""clusterrun status [RUN_ID | SWEEP_ID ...] [--watch] [--json | --format F] [filters] [--disk]"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.choices import STATE_HELP
from clusterrun.cli.complete import complete_states, complete_targets, complete_where_keys
from clusterrun.cli.formats import Format, chosen, format_option
from clusterrun.cli.waitlimit import checked, timeout_option
from clusterrun.errors import UsageError

WHERE_HELP = (
    "Only runs where KEY OP VALUE holds (repeat: all must hold). KEY: params.X, metrics.X (or just X), "
    "data.X, resources.X, state, name, tag, note, elapsed...; OP: < <= > >= == != ~ (regex) !~. "
    "E.g. 'params.lr<0.05', 'val_loss<1.2', 'note~diverged'."
)


def status(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs or sweeps to show (default: the newest runs).",
            show_default=False,
            autocompletion=complete_targets,
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Refresh until every run has ended (on a terminal: one table redrawn in place).",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="With --watch: print only the final table.")
    ] = False,
    timeout: Annotated[float | None, timeout_option()] = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    format_: Annotated[Format | None, format_option("text", "json", "ids", "csv")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Only runs whose name matches (glob, e.g. 'resnet*').", show_default=False),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(help=STATE_HELP, show_default=False, autocompletion=complete_states),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only runs created since (e.g. 2h, 3d, 2026-11-01).", show_default=False),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="KEY OP VALUE",
            help=WHERE_HELP,
            show_default=False,
            autocompletion=complete_where_keys,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Only runs with this tag (repeat: all of them).", show_default=False
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="KEY,KEY",
            help="Show these columns after the run id, e.g. state,params.lr,val_loss (keys as for --where).",
            show_default=False,
            autocompletion=complete_where_keys,
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            help="Order by this key (as for --where; -KEY or --desc: descending). For a sweep: the metric "
            "that ranks members.",
            show_default=False,
            autocompletion=complete_where_keys,
        ),
    ] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    maximize: Annotated[bool, typer.Option("--max", help="For a sweep: higher is better.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many runs when none are named.")] = 20,
    disk: Annotated[
        bool,
        typer.Option(
            "--disk",
            help="Disk used by each run (work, artifacts, logs, records) and by their snapshots, "
            "counted once.",
        ),
    ] = False,
) -> None:
    """Show runs (or a sweep's members): state, elapsed, job id, node, key metrics; one scheduler query.

    Filter with --name, --state, --since, --tag and --where; choose --columns; order with --sort."""
    import sys

    from clusterrun.cli.common import registry  # here, not at the top: `status --help` stays light
    from clusterrun.cli.display import Reporter, display_mode
    from clusterrun.cli.progress import StatusWatch
    from clusterrun.cli.render import present
    from clusterrun.services.listing import StatusQuery
    from clusterrun.services.listing import status as status_service
    from clusterrun.services.query import split_list
    from clusterrun.services.status import waiting_at_most

    fmt = chosen(format_, json_)
    if limit < 1:
        raise UsageError(f"--limit {limit} shows nothing", hint="give a number of runs, e.g. --limit 50")
    if disk and (watch or fmt in ("csv",)):
        raise UsageError("--disk shows sizes once, as text, json or ids", hint="drop --watch or --format csv")
    query = StatusQuery(
        list(run_ids or []),
        name,
        state,
        since,
        limit,
        sort=sort,
        mode="max" if maximize else None,
        where=list(where or []),
        tags=list(tag or []),
        columns=split_list([columns] if columns else []),
        descending=desc,
        # a table of runs shows a few fields of each summary; JSON and one run's results need it whole
        summaries=fmt == "json" or bool(run_ids),
        table=fmt == "text",
    )
    reg = registry(ctx)
    wait_limit = checked(timeout, watch, "--watch")
    # live on a terminal, else every refresh or (--quiet) none
    # a bar on a terminal (stderr) while many runs are read or recorded, e.g. the first look at a sweep
    notify = Reporter(display_mode(sys.stderr, quiet))
    with waiting_at_most(wait_limit), StatusWatch(fmt, quiet) as watcher:
        view = status_service(reg, query, watch=watch, on_refresh=watcher, notify=notify)
    if disk:
        from clusterrun.services.disk import disk_usage

        present(disk_usage(reg, view.run_ids), fmt)
    elif not watch or watcher.final:  # plain --watch rendered every refresh as it came
        present(view, fmt)
