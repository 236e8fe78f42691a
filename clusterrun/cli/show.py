"""clusterrun show RUN_ID"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.render import DataFormat, Format, chosen, format_option, present
from clusterrun.records import store
from clusterrun.records.registry import Registry
from clusterrun.services.status import describe


def show(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(help="The run (or sweep) to show.", show_default=False, autocompletion=complete_runs),
    ],
    json_: Annotated[bool, typer.Option("--json", help="Manifest and summary as JSON.")] = False,
    format_: Annotated[DataFormat | None, format_option("text", "json")] = None,
) -> None:
    """The manifest of a run and, once it has ended, its results, diagnosis and next step.

    A sweep: its manifest (what the members share, each one's values), then its members ranked."""
    fmt = chosen(format_, json_)
    reg = registry(ctx)
    resolved = reg.resolve(run_id, allow_sweep=True)
    if reg.is_sweep(resolved):
        _show_sweep(reg, resolved, fmt)
        return
    present(describe(reg, run_id), fmt)


def _show_sweep(reg: Registry, sweep_id: str, fmt: Format) -> None:
    """The sweep's manifest block (text only), then the table `clusterrun status SWEEP_ID` shows."""
    from clusterrun.cli.output import sweep_block
    from clusterrun.services.listing import StatusQuery
    from clusterrun.services.listing import status as status_service

    if fmt == "text":
        record = store.read_sweep(reg.root / sweep_id)
        if record.members:
            first = reg.get(record.members[0].run_id).load_manifest()
            typer.echo(sweep_block(record, first))
    present(status_service(reg, StatusQuery([sweep_id])), fmt)
