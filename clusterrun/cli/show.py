"""clusterrun show RUN_ID"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.render import DataFormat, chosen, format_option, present
from clusterrun.services.status import describe


def show(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run to show.", show_default=False, autocompletion=complete_runs)
    ],
    json_: Annotated[bool, typer.Option("--json", help="Manifest and summary as JSON.")] = False,
    format_: Annotated[DataFormat | None, format_option("text", "json")] = None,
) -> None:
    """The manifest of a run and, once it has ended, its results, diagnosis and next step."""
    fmt = chosen(format_, json_)
    present(describe(registry(ctx), run_id), fmt)
