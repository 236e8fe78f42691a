"""clusterrun plot RUN_ID|SWEEP_ID [METRIC] [--metric NAME]"""

from __future__ import annotations

import sys
from typing import Annotated

import plotext
import typer

from clusterrun.cli.common import registry
from clusterrun.cli.complete import complete_targets
from clusterrun.cli.output import emit_json
from clusterrun.dashboard.curves import Curve, curves
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
    named: Annotated[
        str | None,
        typer.Argument(metavar="[METRIC]", help="The metric, as --metric gives it.", show_default=False),
    ] = None,
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
    if named is not None and metric is not None and named != metric:
        raise UsageError(
            f"two metrics given: {named} and --metric {metric}", hint="give one: clusterrun plot RUN METRIC"
        )
    found = curves(registry(ctx), target, metric or named)
    if json_:
        emit_json({"metric": found.metric, "mode": found.mode, "curves": [c.__dict__ for c in found.curves]})
        return
    colour = sys.stdout.isatty()  # in a pipe or a file: no colours, so the curves differ by marker
    plotext.clear_figure()
    plotext.theme("pro" if colour else "clear")
    plotext.plotsize(width or min(120, plotext.terminal_width() or 100), height)
    drawn = [c for c in found.curves if c.values]
    if drawn and all(len(c.values) == 1 for c in drawn):  # one value each (a results file): no curves
        typer.echo(_ranked(found.metric, found.mode, target, drawn, width or plotext.terminal_width() or 100))
        return
    for index, curve in enumerate(drawn):
        label = ("* " if curve.best else "") + curve.label
        marker = "braille" if colour else MARKERS[index % len(MARKERS)]
        plotext.plot(curve.steps, curve.values, label=label, marker=marker)
    plotext.xlabel("step")
    if log_y and all(v > 0 for c in found.curves for v in c.values):
        plotext.yscale("log")
    plotext.title(f"{found.metric} ({found.mode}) · {target}")
    typer.echo(plotext.build())
    best = next((c for c in found.curves if c.best), None)
    if best is not None:
        typer.echo(f"best final {found.metric}: {best.values[-1]:.6g} ({best.run_id}, {best.label})")


def _ranked(metric: str, mode: str, target: str, drawn: list[Curve], width: int) -> str:
    """A metric each run logged once (a final result): the runs best first, each with its value and a
    bar from the worst value to the best (no curve to draw)."""
    ordered = sorted(drawn, key=lambda c: c.values[0], reverse=mode == "max")
    values = [c.values[0] for c in ordered]
    low, high = min(values), max(values)
    labels = [("* " if c.best else "  ") + c.label for c in ordered]
    shown = [f"{v:.6g}" for v in values]
    left = max(len(x) for x in labels) + max(len(x) for x in shown) + 4
    room = max(10, min(width, 120) - left)
    lines = [f"{metric} ({mode}) · {target}: one value per run, best first"]
    for label, text, value in zip(labels, shown, values, strict=True):
        worst = high if mode == "min" else low
        share = 1.0 if high == low else abs(value - worst) / (high - low)
        bar = "█" * max(1, round(share * room))
        lines.append(f"{label:<{max(len(x) for x in labels)}}  {text:>{max(len(x) for x in shown)}}  {bar}")
    lines.append(f"(bars from the worst value, {values[-1]:.6g}, to the best, {values[0]:.6g})")
    return "\n".join(lines)
