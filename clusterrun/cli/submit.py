"""clusterrun submit CONFIG [KEY=VALUE ...]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.analysis.estimate import GateDecision
from clusterrun.cli.common import BACKEND_HELP, info, registry
from clusterrun.cli.render import RunsFormat, chosen, format_option, present, reviewing
from clusterrun.services import submit as service
from clusterrun.services.submit import Answer, Confirm


def submit(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Argument(
            help="Experiment config (YAML), e.g. configs/examples/quickstart.yaml.", show_default=False
        ),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Overrides as KEY=VALUE, e.g. params.lr=0.01 resources.mem=8G seed=1. "
            "A new param needs a leading '+'.",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "auto",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Smoke-test and print the manifest and the script; submit nothing."),
    ] = False,
    allow_dirty: Annotated[
        bool,
        typer.Option(
            "--allow-dirty",
            help="Accept uncommitted changes: they are saved as git.patch and applied to the snapshot.",
        ),
    ] = False,
    skip_smoke: Annotated[
        str | None,
        typer.Option("--skip-smoke", metavar="REASON", help="Skip the smoke test; the reason is recorded."),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            metavar="KEY=V1,V2",
            help="A grid axis, e.g. --sweep params.lr=0.1,0.01 "
            "(repeat for more axes); the sweep is ONE job array.",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="A profile in configs/clusters/NAME.yaml.", show_default=False),
    ] = None,
    array_parallelism: Annotated[
        int | None,
        typer.Option(
            "--array-parallelism",
            min=1,
            metavar="N",
            help="Run at most N members of a sweep at once (the array's %N; default: sweep.parallelism).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also submit members identical to a run that already finished.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Submit expensive runs without asking (needed without a terminal)."),
    ] = False,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to end and print its results.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the manifest (and results) as JSON.")] = False,
    format_: Annotated[RunsFormat | None, format_option("text", "json", "ids")] = None,
) -> None:
    """Smoke-test an experiment locally, record everything about it, and submit it."""
    fmt = chosen(format_, json_)
    request = service.SubmitRequest(
        config=config,
        overrides=list(overrides or []),
        backend=backend,
        dry_run=dry_run,
        allow_dirty=allow_dirty,
        skip_smoke_reason=skip_smoke,
        sweep_axes=list(sweep or []),
        cluster=cluster,
        force=force,
        array_parallelism=array_parallelism,
        argv=["clusterrun", *sys.argv[1:]],
    )
    result = service.submit(
        request, registry(ctx), confirm=ask(yes), notify=info, review=reviewing(fmt), wait=wait_
    )
    present(result, fmt)


def ask(yes: bool) -> Confirm:
    """The cost gate at the terminal: say why the submission is expensive, then --yes approves; without a
    terminal it is refused; else the user is asked. Shared by submit and reproduce."""

    def answer(decision: GateDecision) -> Answer:
        info("this submission is expensive: " + "; ".join(decision.reasons))
        if yes:
            return Answer(True, "confirmed with --yes")
        if not sys.stdin.isatty():
            return Answer(False, "refused: confirmation needed and there is no terminal")
        approved = typer.confirm("Submit anyway?", default=False, err=True)
        return Answer(approved, "confirmed at the prompt" if approved else "declined at the prompt")

    return answer
