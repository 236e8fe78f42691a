"""clusterrun plot RUN_ID|SWEEP_ID [--metric NAME]"""

from __future__ import annotations

import sys
from typing import Annotated

import plotext
import typer

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_targets
from clusterrun.cli.output import emit_json
from clusterrun.dashboard.curves import curves
from clusterrun.errors import UsageError

MARKERS = ("•", "x", "+", "o", "#", "=", "~", "%")  # not "*": it marks the best member's label


def plot(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="A run, or a sweep (every member).", show_default=False, autocompletion=complete_targets
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", "-m", help="The metric (default: the sweep's, else loss).", show_default=False
        ),
    ] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="A logarithmic y axis.")] = False,
    width: Annotated[
        int | None, typer.Option(help="Columns (default: the terminal's).", show_default=False)
    ] = None,
    height: Annotated[int, typer.Option(help="Rows.")] = 20,
    json_: Annotated[bool, typer.Option("--json", help="The curves as JSON instead of a plot.")] = False,
) -> None:
    """Draw a metric's curves in the terminal: one run, or every member of a sweep (the best marked *)."""
    if height < 5 or (width is not None and width < 20):
        raise UsageError("the plot needs at least 20 columns and 5 rows", hint="e.g. --width 100 --height 20")
    found = curves(registry(ctx), target, metric)
    if json_:
        emit_json({"metric": found.metric, "mode": found.mode, "curves": [c.__dict__ for c in found.curves]})
        return
    colour = sys.stdout.isatty()  # in a pipe or a file: no colours, so the curves differ by marker
    plotext.clear_figure()
    plotext.theme("pro" if colour else "clear")
    plotext.plotsize(width or min(120, plotext.terminal_width() or 100), height)
    for index, curve in enumerate(c for c in found.curves if c.values):
        label = ("* " if curve.best else "") + curve.label
        marker = "braille" if colour else MARKERS[index % len(MARKERS)]
        plotext.plot(curve.steps, curve.values, label=label, marker=marker)
    if log_y and all(v > 0 for c in found.curves for v in c.values):
        plotext.yscale("log")
    plotext.title(f"{found.metric} ({found.mode}) · {target}")
    plotext.xlabel("step")
    typer.echo(plotext.build())
    best = next((c for c in found.curves if c.best), None)
    if best is not None:
        typer.echo(f"best final {found.metric}: {best.values[-1]:.6g} ({best.run_id}, {best.label})")
