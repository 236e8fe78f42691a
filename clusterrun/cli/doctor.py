"""clusterrun doctor [--backend B] [--json]"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from clusterrun.cli.common import registry
from clusterrun.cli.output import emit_json
from clusterrun.errors import ExitStatus
from clusterrun.services.doctor import DoctorReport, run_checks


def report_table(report: DoctorReport) -> str:
    rows = [[c.name, c.status.upper(), c.detail, c.fix or "-"] for c in report.checks]
    return tabulate(
        rows,
        headers=["CHECK", "STATUS", "DETAIL", "FIX"],
        tablefmt="simple",
        maxcolwidths=[None, None, 60, 50],
    )


def verdict(report: DoctorReport) -> str:
    failed = [c.name for c in report.checks if c.status == "fail"]
    warned = [c.name for c in report.checks if c.status == "warn"]
    if failed:
        return f"blocked: fix {', '.join(failed)} before submitting (backend: {report.backend})"
    tail = f"; warnings: {', '.join(warned)}" if warned else ""
    return f"ready: nothing blocks submission (backend: {report.backend}){tail}"


def doctor(
    ctx: typer.Context,
    backend: Annotated[
        str, typer.Option(help="auto (SLURM when sbatch is found, else local), slurm or local.")
    ] = "auto",
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check that this machine can run experiments: git, Python, disk, SLURM, partitions, nodes, GPUs."""
    report = run_checks(Path.cwd(), registry(ctx).root, backend)
    if json_:
        emit_json(report.as_record())
    else:
        typer.echo(report_table(report))
        typer.echo()
        typer.echo(verdict(report))
    if report.blocking:
        raise typer.Exit(int(ExitStatus.FAILURE))
