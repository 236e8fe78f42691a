"""clusterrun show RUN_ID"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import registry, warn
from clusterrun.cli.output import emit_json, manifest_block, results_block
from clusterrun.services.status import refresh


def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to show.", show_default=False)],
    json_: Annotated[bool, typer.Option("--json", help="Manifest and summary as JSON.")] = False,
) -> None:
    """The manifest of a run and, once it has ended, its results, diagnosis and next step."""
    reg = registry(ctx)
    report = refresh(reg, [run_id])
    for message in report.warnings:
        warn(message)
    run = reg.get(run_id)
    manifest = run.manifest()
    status = report.runs[0]
    if json_:
        emit_json({"manifest": manifest, "summary": status.summary})
        return
    typer.echo(manifest_block(manifest))
    if manifest.get("reproduces"):
        typer.echo(
            f"Reproduces: {manifest['reproduces']}   Compare: clusterrun compare {manifest['reproduces']} "
            f"{run.id}"
        )
    if status.summary:
        typer.echo(results_block(status.summary, str(run.path)))
    else:
        typer.echo(f"State: {status.state.upper()}   (follow it: clusterrun status {run.id} --watch)")
