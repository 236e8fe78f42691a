"""clusterrun export [RUN_ID | SWEEP_ID ...] --to csv|jsonl|mlflow [--uri URI] [--out FILE]"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.common import info, registry
from clusterrun.cli.complete import complete_targets
from clusterrun.cli.output import emit_json
from clusterrun.errors import UsageError
from clusterrun.export import mlflow as mlflow_export
from clusterrun.export import tables
from clusterrun.records.jsonio import write_text_atomic


class Target(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    mlflow = "mlflow"


def export(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs or sweeps to export (default: every run).",
            show_default=False,
            autocompletion=complete_targets,
        ),
    ] = None,
    to: Annotated[
        Target,
        typer.Option(
            "--to",
            help="csv or jsonl (params and final metrics, one row "
            "per run), or mlflow (params, metric history, tags).",
        ),
    ] = Target.csv,
    uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow tracking URI (default: a file: store in mlruns/ inside the run registry).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the CSV/JSON lines here (default: stdout).", show_default=False),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="For mlflow: what was exported, as JSON.")] = False,
) -> None:
    """Export runs: a CSV or JSON-lines table for pandas, or runs in an MLflow tracking store (idempotent)."""
    reg = registry(ctx)
    if to is Target.mlflow:
        if out is not None:
            raise UsageError("--out is for csv and jsonl", hint="give MLflow's store with --uri")
        report = mlflow_export.export(reg, run_ids or [], uri)
        if json_:
            emit_json(report.as_record())
            return
        typer.echo(
            f"mlflow: {len(report.exported)} run(s) exported, {len(report.existing)} already there, "
            f"to {report.uri}"
        )
        return
    if uri is not None:
        raise UsageError("--uri is for --to mlflow", hint="use --out FILE for csv and jsonl")
    table = tables.rows(reg, run_ids or [])
    text = tables.to_csv(table) if to is Target.csv else tables.to_jsonl(table)
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.is_dir():
        raise UsageError(
            f"--out {out} is a directory", hint=f"name a file, e.g. --out {out / f'runs.{to.value}'}"
        )
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: the directory {out.parent} does not exist", hint="create it first")
    write_text_atomic(out, text)
    info(f"wrote {len(table)} run(s) to {out}")
