"""clusterrun cancel RUN_ID ..."""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import info, registry
from clusterrun.services.cancel import cancel as cancel_runs


def cancel(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Runs to cancel.", show_default=False)],
) -> None:
    """Cancel running or queued runs (one scheduler call per backend); records who cancelled."""
    outcomes = cancel_runs(registry(ctx), run_ids)
    for outcome in outcomes:
        info(f"{outcome.run_id}: {outcome.detail}")
    if not any(o.cancelled for o in outcomes):
        raise typer.Exit(1)
