"""clusterrun gc, clusterrun rm RUN_ID"""

from __future__ import annotations

from typing import Annotated

import typer
from tabulate import tabulate

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.output import size
from clusterrun.services.gc import DEFAULT_OLDER_THAN, GcPlan
from clusterrun.services.gc import gc as gc_service
from clusterrun.services.gc import rm as rm_service


def _frees(item_frees: int, files: int, shared: int) -> str:
    text = size(item_frees)
    if shared and shared == files:
        return f"{text} (all {files} files hard links to the snapshot)"
    if shared:
        return f"{text} ({shared} of {files} files hard links)"
    return text


def show(result: GcPlan, command: str, outputs_command: str = "clusterrun gc --outputs") -> None:
    if not result.items:
        typer.echo("nothing to remove")
    else:
        rows = [[i.what, i.run, i.why, _frees(i.frees, i.files, i.shared)] for i in result.items]
        typer.echo(tabulate(rows, headers=["WHAT", "RUN", "WHY", "FREES"], tablefmt="simple"))
        verb = "removed" if result.removed else "would remove"
        typer.echo(f"{verb} {len(result.items)} item(s), freeing {size(result.frees)}")
        if any(i.shared for i in result.items):
            typer.echo(
                "note: working copies are hard links to their snapshot: removing them frees only what "
                "the runs wrote or changed there"
            )
        if not result.removed:
            typer.echo(f"nothing removed: run '{command} --yes' to remove these")
    if result.kept_outputs:
        files = sum(f for _run, f, _size in result.kept_outputs)
        total = sum(b for _run, _files, b in result.kept_outputs)
        typer.echo(
            f"note: kept the working copies of {len(result.kept_outputs)} finished run(s): they hold what "
            f"the runs wrote there ({files} file(s), {size(total)}: checkpoints, results); "
            f"'{outputs_command} --yes' removes them too",
            err=True,
        )
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)


def gc(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove; without it, only show.")] = False,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Dry runs, failed smoke tests, refused submissions and unused snapshots older than this "
            "(1d, 12h, 30m).",
        ),
    ] = DEFAULT_OLDER_THAN,
    keep_failed: Annotated[
        bool,
        typer.Option("--keep-failed", help="Keep failed smoke tests and the working copies of failed runs."),
    ] = False,
    outputs: Annotated[
        bool,
        typer.Option(
            "--outputs",
            help="Also remove the working copies that hold what their runs wrote there (checkpoints, "
            "results), of runs older than --older-than; kept by default.",
        ),
    ] = False,
) -> None:
    """Show what can be removed (dry runs, failed smoke tests, refused submissions, unused snapshots,
    working copies of finished runs) and the disk it frees; remove with --yes.

    A working copy that holds what its run wrote there (checkpoints, results) stays unless --outputs."""
    result = gc_service(
        registry(ctx), older_than=older_than, keep_failed=keep_failed, yes=yes, outputs=outputs
    )
    command = "clusterrun gc" + (f" --older-than {older_than}" if older_than != DEFAULT_OLDER_THAN else "")
    command += " --keep-failed" if keep_failed else ""
    show(result, command + (" --outputs" if outputs else ""), outputs_command=command + " --outputs")


def rm(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run to remove.", show_default=False, autocompletion=complete_runs)
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove; without it, only show.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Remove it even though another run reproduces it.")
    ] = False,
) -> None:
    """Remove one run that has ended (records, artifacts, working copies); shows it first without --yes."""
    result = rm_service(registry(ctx), run_id, yes=yes, force=force)
    show(result, f"clusterrun rm {run_id}" + (" --force" if force else ""))
