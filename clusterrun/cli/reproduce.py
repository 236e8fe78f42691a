"""clusterrun reproduce RUN_ID"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from tabulate import tabulate

from clusterrun.analysis.compare import REPRODUCED
from clusterrun.cli.common import info, registry
from clusterrun.cli.compare import ATOL_HELP, RTOL_HELP, report
from clusterrun.cli.output import emit_json
from clusterrun.cli.submit import finish
from clusterrun.errors import ExitStatus
from clusterrun.services.reproduce import compare_runs, prepare_reproduction
from clusterrun.services.status import wait


def reproduce(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run (or sweep) to reproduce.", show_default=False)],
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
    finish(reg, prepared, dry_run=False, wait_=False, json_=json_, yes=yes, then_more=wait_)
    pairs = [(str(m.plan.extra["reproduces"]), m.run.id) for m in prepared.members]
    if not wait_:
        if len(pairs) == 1:
            info(f"compare when both have ended: clusterrun compare {pairs[0][0]} {pairs[0][1]}")
        return
    wait(reg, [run for pair in pairs for run in pair])
    if len(pairs) == 1:
        comparison = report(reg, pairs[0][0], pairs[0][1], rtol, atol, json_)
        if comparison.verdict != REPRODUCED:
            raise typer.Exit(int(ExitStatus.FAILURE))
        return
    verdicts = [compare_runs(reg, original, new, rtol=rtol, atol=atol) for original, new in pairs]
    if json_:
        emit_json({"verdicts": [c.as_record() for c in verdicts]})
    else:
        typer.echo(
            tabulate(
                [[c.run_a, c.run_b, c.verdict, c.reason] for c in verdicts],
                headers=["ORIGINAL", "REPRODUCED BY", "VERDICT", "WHY"],
                tablefmt="simple",
            )
        )
    bad = [c for c in verdicts if c.verdict != REPRODUCED]
    typer.echo(
        f"{'DIVERGED' if bad else REPRODUCED}: {len(verdicts) - len(bad)} of {len(verdicts)} members "
        f"reproduced" + (f"; see clusterrun compare {bad[0].run_a} {bad[0].run_b}" if bad else "")
    )
    if bad:
        raise typer.Exit(int(ExitStatus.FAILURE))
