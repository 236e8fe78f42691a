"""clusterrun cancel [RUN_ID | SWEEP_ID ...] [--name GLOB] [--state STATES] [--yes]"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clusterrun.cli.choices import STATE_HELP
from clusterrun.cli.common import info, registry
from clusterrun.cli.complete import complete_states, complete_targets
from clusterrun.errors import UsageError


def cancel(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs to cancel (a sweep id: all its members).",
            show_default=False,
            autocompletion=complete_targets,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="Every active run whose name matches (glob), like scancel -n.",
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            "-t",
            help=STATE_HELP.replace("Only runs", "Every active run") + " Like scancel -t.",
            show_default=False,
            autocompletion=complete_states,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Cancel the runs --name/--state chose without asking.")
    ] = False,
) -> None:
    """Cancel running or queued runs (one scheduler call per backend); records who cancelled.

    Runs named by id are cancelled at once; runs chosen by --name or --state are listed first and
    cancelled after a yes at the prompt (or with --yes)."""
    from clusterrun.services.cancel import cancel as cancel_runs
    from clusterrun.services.cancel import matching

    reg = registry(ctx)
    ids = list(run_ids or [])
    if not ids and name is None and state is None:
        raise UsageError(
            "which runs? name them, or choose them with --name or --state",
            hint="e.g. clusterrun cancel RUN_ID, clusterrun cancel --name 'resnet*', "
            "clusterrun cancel --state pending",
        )
    if name is not None or state is not None:
        chosen = matching(reg, name, state, among=ids or None)
        if not chosen:
            info(
                "no active run matches"
                + (f" --name {name}" if name else "")
                + (f" --state {state}" if state else "")
            )
            raise typer.Exit(1)
        info(f"{len(chosen)} run(s) to cancel:")
        for run_id in chosen:
            info(f"  {run_id}")
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "not cancelled: confirmation needed and there is no terminal",
                    hint="pass --yes to cancel them",
                )
            if not typer.confirm("Cancel them?", default=False, err=True):
                info("nothing cancelled")
                raise typer.Exit(1)
        ids = chosen
    outcomes = cancel_runs(reg, ids)
    for outcome in outcomes:
        info(f"{outcome.run_id}: {outcome.detail}")
    if not any(o.cancelled for o in outcomes):
        raise typer.Exit(1)
