"""clusterrun reproduce RUN_ID"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clusterrun.cli.choices import BackendName
from clusterrun.cli.common import BACKEND_HELP, info, registry
from clusterrun.cli.compare import ATOL_HELP, RTOL_HELP, check_tolerances
from clusterrun.cli.complete import complete_targets
from clusterrun.cli.render import RunsFormat, chosen, format_option, present, reviewing
from clusterrun.cli.submit import ask
from clusterrun.cli.waitlimit import checked, timeout_option
from clusterrun.services import reproduce as service
from clusterrun.services.status import waiting_at_most


def reproduce(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(
            help="The run (or sweep) to reproduce.", show_default=False, autocompletion=complete_targets
        ),
    ],
    backend: Annotated[
        BackendName,
        typer.Option(
            help="auto (the backend the original ran on, when it is available here; else as submit "
            "chooses), or one named: " + BACKEND_HELP.split("), ", 1)[-1]
        ),
    ] = "auto",
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait for both runs, then print the verdict.")
    ] = False,
    timeout: Annotated[float | None, timeout_option()] = None,
    rtol: Annotated[float, typer.Option("--rtol", help=RTOL_HELP)] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help=ATOL_HELP)] = 0.0,
    skip_smoke: Annotated[
        str | None,
        typer.Option("--skip-smoke", metavar="REASON", help="Skip the smoke test; the reason is recorded."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    format_: Annotated[RunsFormat | None, format_option("text", "json", "ids")] = None,
) -> None:
    """Re-run a past run from its record alone (same snapshot, config, seed, resources), then compare."""
    check_tolerances(rtol, atol)
    fmt = chosen(format_, json_)
    request = service.ReproduceRequest(
        run_id,
        backend=backend,
        argv=["clusterrun", *sys.argv[1:]],
        skip_smoke_reason=skip_smoke,
        rtol=rtol,
        atol=atol,
    )
    with waiting_at_most(checked(timeout, wait_, "--wait")):
        result = service.reproduce(
            registry(ctx), request, confirm=ask(yes), notify=info, review=reviewing(fmt), wait=wait_
        )
    present(result, fmt)
