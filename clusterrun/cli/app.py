"""Root of the CLI: wiring, and the one place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from clusterrun import __version__
from clusterrun.cli import cancel as cancel_cmd
from clusterrun.cli import compare as compare_cmd
from clusterrun.cli import doctor as doctor_cmd
from clusterrun.cli import export as export_cmd
from clusterrun.cli import gc as gc_cmd
from clusterrun.cli import logs as logs_cmd
from clusterrun.cli import plot as plot_cmd
from clusterrun.cli import reproduce as reproduce_cmd
from clusterrun.cli import show as show_cmd
from clusterrun.cli import site as site_cmd
from clusterrun.cli import status as status_cmd
from clusterrun.cli import submit as submit_cmd
from clusterrun.errors import ClusterrunError, ExitStatus

app = typer.Typer(
    name="clusterrun",
    help="Reproducible-by-default ML experiments on SLURM, or on this machine when there is no SLURM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clusterrun {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            "--runs-dir",
            envvar="CLUSTERRUN_RUNS_DIR",
            help="Run registry (default: runs/ at the top of the current git repository, else ./runs).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = {"runs_dir": runs_dir}


app.command("submit")(submit_cmd.submit)
app.command("status")(status_cmd.status)
app.command("show")(show_cmd.show)
app.command("logs")(logs_cmd.logs)
app.command("cancel")(cancel_cmd.cancel)
app.command("reproduce")(reproduce_cmd.reproduce)
app.command("compare")(compare_cmd.compare)
app.command("doctor")(doctor_cmd.doctor)
app.command("site")(site_cmd.site)
app.command("plot")(plot_cmd.plot)
app.command("export")(export_cmd.export)
app.command("gc")(gc_cmd.gc)
app.command("rm")(gc_cmd.rm)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; ClusterrunError -> 'error: ...' + 'hint: ...' and its exit status.

    Usage errors (unknown option, bad value) are typer's own, printed with the command's usage, exit 2."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="clusterrun", standalone_mode=True)
    except SystemExit as exc:  # standalone mode always ends this way, also for typer.Exit and usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ClusterrunError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        return int(exc.exit_status)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("CLUSTERRUN_DEBUG"):
            traceback.print_exc()
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("hint: set CLUSTERRUN_DEBUG=1 for the traceback, and please report it", err=True)
        return int(ExitStatus.FAILURE)
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
