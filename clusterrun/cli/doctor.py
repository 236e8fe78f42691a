"""clusterrun doctor [--backend B] [--json]"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.choices import BackendName
from clusterrun.cli.common import BACKEND_HELP, registry
from clusterrun.cli.render import DataFormat, chosen, format_option, present
from clusterrun.services.doctor import run_checks


def doctor(
    ctx: typer.Context,
    backend: Annotated[BackendName, typer.Option(help=BACKEND_HELP)] = "auto",
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    format_: Annotated[DataFormat | None, format_option("text", "json")] = None,
) -> None:
    """Check that this machine can run experiments: git, Python, disk, who may read the registry,
    whether this shell is inside an allocation, then the backend's own checks (for SLURM: the
    controller, accounting, partitions, nodes, GPUs, MaxArraySize)."""
    fmt = chosen(format_, json_)
    present(run_checks(Path.cwd(), registry(ctx).root, backend), fmt)
