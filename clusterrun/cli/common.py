"""Small helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import typer

from clusterrun.cli.warnfold import fold
from clusterrun.records.registry import Registry
from clusterrun.scheduler import backend_help

#: --backend's help: auto and the registered backends, in the order auto tries them.
BACKEND_HELP = backend_help()


def registry(ctx: typer.Context) -> Registry:
    runs_dir: Path | None = (ctx.obj or {}).get("runs_dir")
    return Registry.default(runs_dir)


def info(message: str) -> None:
    """Progress and warnings go to stderr, so stdout stays clean for --json and piping."""
    typer.echo(message, err=True)


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def warn_all(messages: Iterable[str]) -> None:
    """Each warning on its line, those about many runs with one cause as one line (cli/warnfold.py)."""
    for message in fold(messages):
        warn(message)
