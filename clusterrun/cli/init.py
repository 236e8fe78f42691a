"""clusterrun init [ENTRY | --entry PATH|TARGET] [--name NAME] [--cluster NAME] [--force]"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.common import info
from clusterrun.cli.complete import complete_clusters
from clusterrun.cli.output import emit_json


def init(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[ENTRY]",
            help="The entry point to use, as --entry takes it (src/fit.py, make train...).",
            show_default=False,
        ),
    ] = None,
    entry: Annotated[
        str | None,
        typer.Option(
            "--entry",
            metavar="PATH|TARGET",
            help="The entry point to use (train.py, scripts/train.sh, a Makefile target, a pyproject "
            "script); default: the first found.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The config's name (default: the entry point's).", show_default=False),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Take the resources from this cluster profile (configs/clusters/NAME.yaml).",
            show_default=False,
            autocompletion=complete_clusters,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write it (default: configs/NAME.yaml).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    print_: Annotated[bool, typer.Option("--print", help="Print the config instead of writing it.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="What was found and written, as JSON.")] = False,
) -> None:
    """Write a starter config for this repository, then say what was guessed and what to check.

    Reads its run scripts, Makefile targets and pyproject scripts; a Python entry point's argparse, click
    or typer options, or its Hydra config (from the source, never run), become params, with a smoke
    setting and metrics patterns from its prints. Run in a folder of the repository that has its own
    entry point (a project of a monorepo), it reads that folder, writes its configs/ there and sets
    `cwd:` so the command runs there. An existing file is never overwritten without --force."""
    from clusterrun.errors import UsageError
    from clusterrun.services.init import InitRequest
    from clusterrun.services.init import init as init_service

    if target is not None and entry is not None and target != entry:
        raise UsageError(f"two entry points given: {target!r} and --entry {entry!r}", hint="name one of them")
    entry = entry if entry is not None else target

    report = init_service(InitRequest(Path.cwd(), name, entry, cluster, out, force, dry_run=print_))
    if json_:
        emit_json(report.as_record())
        return
    if print_:
        typer.echo(report.text, nl=False)
    info(f"entry point: {report.entry}")
    for line in report.guessed:
        info(f"  guessed: {line}")
    for line in report.check:
        info(f"  check:   {line}")
    if report.others:
        info("also found:")
        for line in report.others:
            info(f"  {line}")
    if report.written:
        where = _relative(report.path)
        info(f"wrote {where}")
        info(f"next: clusterrun submit {where} --dry-run")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
