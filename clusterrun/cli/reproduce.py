"""clusterrun reproduce RUN_ID"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clusterrun.cli.common import registry
from clusterrun.cli.compare import ATOL_HELP, RTOL_HELP, report
from clusterrun.cli.submit import finish
from clusterrun.compare import REPRODUCED
from clusterrun.errors import ExitStatus
from clusterrun.reproduce import prepare_reproduction
from clusterrun.status import wait


def reproduce(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to reproduce.", show_default=False)],
    backend: Annotated[
        str, typer.Option(help="auto (SLURM when sbatch is found, else local), slurm or local.")
    ] = "auto",
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait for both runs, then print the verdict.")
    ] = False,
    rtol: Annotated[float, typer.Option("--rtol", help=RTOL_HELP)] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help=ATOL_HELP)] = 0.0,
    skip_smoke: Annotated[
        str | None,
        typer.Option("--skip-smoke", metavar="REASON", help="Skip the smoke test; the reason is recorded."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Re-run a past run from its record alone (same snapshot, config, seed, resources), then compare."""
    if rtol < 0 or atol < 0:
        raise typer.BadParameter("tolerances must be >= 0")
    reg = registry(ctx)
    prepared = prepare_reproduction(
        reg, run_id, backend, ["clusterrun", *sys.argv[1:]], skip_smoke_reason=skip_smoke
    )
    finish(reg, prepared, dry_run=False, wait_=False, json_=json_, yes=yes)
    if not wait_:
        typer.echo(f"compare when both have ended: clusterrun compare {run_id} {prepared.run.id}", err=True)
        return
    wait(reg, [run_id, prepared.run.id])
    comparison = report(reg, run_id, prepared.run.id, rtol, atol, json_)
    if comparison.verdict != REPRODUCED:
        raise typer.Exit(int(ExitStatus.FAILURE))
