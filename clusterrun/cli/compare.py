"""clusterrun compare RUN_A RUN_B"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.analysis.compare import REPRODUCED, Comparison
from clusterrun.cli.common import registry, warn
from clusterrun.cli.output import comparison_text, emit_json
from clusterrun.errors import ExitStatus
from clusterrun.records.registry import Registry
from clusterrun.services.reproduce import compare_runs
from clusterrun.services.status import refresh

RTOL_HELP = "Relative tolerance: |a-b| <= atol + rtol*|a| passes (default 0: exact equality)."
ATOL_HELP = "Absolute tolerance (default 0)."


def report(reg: Registry, id_a: str, id_b: str, rtol: float, atol: float, json_: bool) -> Comparison:
    if rtol < 0 or atol < 0:
        raise typer.BadParameter("tolerances must be >= 0")
    for message in refresh(reg, [id_a, id_b]).warnings:
        warn(message)
    comparison = compare_runs(reg, id_a, id_b, rtol=rtol, atol=atol)
    if json_:
        emit_json(comparison.as_record())
    else:
        typer.echo(comparison_text(comparison.as_record()))
    return comparison


def compare(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(help="The reference run.", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="The run to compare with it.", show_default=False)],
    rtol: Annotated[float, typer.Option("--rtol", help=RTOL_HELP)] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help=ATOL_HELP)] = 0.0,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Config, metric, code and environment differences between two runs; exit 1 unless they match."""
    comparison = report(registry(ctx), run_a, run_b, rtol, atol, json_)
    if comparison.verdict != REPRODUCED:
        raise typer.Exit(int(ExitStatus.FAILURE))
