"""clusterrun compare RUN_A RUN_B"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.render import DataFormat, chosen, format_option, present
from clusterrun.services.compare import compare as compare_service

RTOL_HELP = "Relative tolerance: |a-b| <= atol + rtol*|a| passes (default 0: exact equality)."
ATOL_HELP = "Absolute tolerance (default 0)."


def check_tolerances(rtol: float, atol: float) -> None:
    if rtol < 0 or atol < 0:
        raise typer.BadParameter("tolerances must be >= 0")


def compare(
    ctx: typer.Context,
    run_a: Annotated[
        str, typer.Argument(help="The reference run.", show_default=False, autocompletion=complete_runs)
    ],
    run_b: Annotated[
        str,
        typer.Argument(help="The run to compare with it.", show_default=False, autocompletion=complete_runs),
    ],
    rtol: Annotated[float, typer.Option("--rtol", help=RTOL_HELP)] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help=ATOL_HELP)] = 0.0,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    format_: Annotated[DataFormat | None, format_option("text", "json")] = None,
) -> None:
    """Config, metric, code and environment differences between two runs; exit 1 unless they match."""
    check_tolerances(rtol, atol)
    fmt = chosen(format_, json_)
    present(compare_service(registry(ctx), run_a, run_b, rtol, atol), fmt)
