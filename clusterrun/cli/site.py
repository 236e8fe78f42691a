"""clusterrun site [RUN_ID | SWEEP_ID ...] [--out DIR] [--open]"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.common import info, registry, warn_all
from clusterrun.cli.complete import complete_targets
from clusterrun.cli.output import emit_json, manifest_block, results_block
from clusterrun.dashboard.build import Blocks, build
from clusterrun.records.models import as_manifest
from clusterrun.services.status import refresh


def site(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs or sweeps to show (default: every run and sweep).",
            show_default=False,
            autocompletion=complete_targets,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the site (default: site/ inside the run registry).",
            show_default=False,
        ),
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the index in a web browser.")] = False,
    poll: Annotated[
        bool, typer.Option("--poll/--no-poll", help="Ask the scheduler about runs that may still change.")
    ] = True,
    json_: Annotated[bool, typer.Option("--json", help="What was built, as JSON.")] = False,
) -> None:
    """A static dashboard of the runs: index, run, sweep and compare pages with metric curves.

    Plain files that work from file:// with no server and no network; only what changed is made again."""
    reg = registry(ctx)

    def refresh_runs(ids: list[str]) -> list[str]:
        return refresh(reg, ids).warnings

    blocks = Blocks(lambda data: manifest_block(as_manifest(data)), results_block)
    report = build(reg, run_ids or [], out, blocks, refresh_runs if poll else None)
    warn_all(report.warnings)
    if json_:
        emit_json(report.as_record())
    else:
        made = len(report.written)
        typer.echo(
            f"site: {report.runs} run(s), {report.sweeps} sweep(s); {made} file(s) written"
            f"{' (nothing changed)' if not made else ''} in {report.seconds:.2f} s"
        )
        typer.echo(f"open: {report.index.as_uri()}")
    if open_ and not webbrowser.open(report.index.as_uri()):
        info(f"no web browser found here; open {report.index} on a machine with one (copy the folder)")
