"""clusterrun cancel [RUN_ID | SWEEP_ID ...] [--name GLOB] [--state STATES] [--yes]"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from clusterrun.cli.choices import STATE_HELP
from clusterrun.cli.common import info, registry
from clusterrun.cli.complete import complete_states, complete_targets
from clusterrun.cli.warnfold import FOLD_AT, named
from clusterrun.errors import UsageError

if TYPE_CHECKING:
    from clusterrun.services.cancel import CancelOutcome


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
    for line in outcome_lines(outcomes):
        info(line)
    if not any(o.cancelled for o in outcomes):
        raise typer.Exit(1)


def outcome_lines(outcomes: list[CancelOutcome]) -> list[str]:
    """A line per run (`RUN: detail`), or, for FOLD_AT runs or more that share what happened (a sweep's
    members: cancelled by one user on one backend, or not running in one state), one line for them all:
    `cancel SWEEP` of a thousand members printed a thousand lines."""
    groups: dict[tuple[bool, str], list[CancelOutcome]] = {}
    for outcome in outcomes:
        shared = f"{outcome.backend} {outcome.by}" if outcome.cancelled else outcome.detail
        groups.setdefault((outcome.cancelled, shared), []).append(outcome)
    lines: list[str] = []
    for (cancelled, _shared), members in groups.items():
        if len(members) < FOLD_AT:
            lines += [f"{o.run_id}: {o.detail}" for o in members]
            continue
        runs = named([o.run_id for o in members])
        if cancelled:
            jobs = named([o.job_id for o in members])
            lines.append(f"runs {runs}: {members[0].backend} jobs {jobs} cancelled by {members[0].by}")
        else:
            lines.append(f"runs {runs}: {members[0].detail}")
    return lines
