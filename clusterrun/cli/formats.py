"""The output formats a command offers (--format, --json), apart from their rendering (render.py), so
that defining a command, and `clusterrun CMD --help`, import none of the rendering's dependencies."""

from __future__ import annotations

from typing import Any, Literal

import typer

from clusterrun.errors import UsageError

Format = Literal["text", "json", "ids", "csv"]  # status offers all four
RunsFormat = Literal["text", "json", "ids"]  # submit, reproduce
DataFormat = Literal["text", "json"]  # show, compare, doctor

FORMAT_HELP = {
    "text": "text (blocks and tables)",
    "json": "json (as --json)",
    "ids": "ids (run ids, one a line, for piping)",
    "csv": "csv (one row per run, a column per metric)",
}


def format_help(*formats: str) -> str:
    return "Output: " + ", ".join(FORMAT_HELP[f] for f in formats) + "."


def format_option(*formats: str) -> Any:
    """The shared --format option of a command offering these formats (its type: a Literal of them)."""
    return typer.Option("--format", help=format_help(*formats), show_default=False)


def chosen(fmt: Format | None, json_: bool) -> Format:
    """The format from --format and --json (its shorthand); they must not disagree."""
    if json_ and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} disagree", hint="give one of them")
    return "json" if json_ else (fmt or "text")
