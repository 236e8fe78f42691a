"""clusterrun note RUN_ID ["text"] [--tag T ...]"""

from __future__ import annotations

from typing import Annotated

import typer

from clusterrun.cli.common import info, registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.output import emit_json


def note(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run to annotate.", show_default=False, autocompletion=complete_runs)
    ],
    text: Annotated[str | None, typer.Argument(help="The note (quote it).", show_default=False)] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="TAG", help="Add a tag (repeat for more).", show_default=False),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="The run's tags and notes, as JSON.")] = False,
) -> None:
    """Add a note or tags to a run (its notes.jsonl; the manifest is not rewritten).

    Shown by show and status; found with status --tag T and --where 'note~TEXT'."""
    from clusterrun.services.notes import add

    noted = add(registry(ctx), run_id, text or "", list(tag or []))
    if json_:
        emit_json(noted.as_record())
        return
    what = (["a note"] if text and text.strip() else []) + (["tag(s)"] if tag else [])
    tags = f"; tags: {', '.join(noted.tags)}" if noted.tags else ""
    info(f"{noted.run_id}: added {' and '.join(what)}; {len(noted.texts)} note(s){tags}")
