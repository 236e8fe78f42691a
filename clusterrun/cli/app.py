"""Root of the CLI: wiring, and the one place where errors become messages and exit codes."""

from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from typer import TyperException

from clusterrun import __version__, envknobs
from clusterrun.cli.lazy import LazyGroup
from clusterrun.cli.startup import collection_paused
from clusterrun.cli.usage import usage_error
from clusterrun.errors import ClusterrunError, DiskFull, ExitStatus

app = typer.Typer(
    name="clusterrun",
    help="Reproducible-by-default ML experiments on SLURM, or on this machine when there is no SLURM.",
    no_args_is_help=True,
    add_completion=True,
    cls=LazyGroup,  # the commands (cli/lazy.py's table) are imported when used, not at start
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
    envknobs.check_all()  # a bad tuning variable is refused before the command does anything
    ctx.obj = {"runs_dir": runs_dir}


# The commands: one row each in cli/lazy.py's COMMANDS (module, function, one-line help, click class),
# so `clusterrun --help` imports none of them and `clusterrun status` imports only its own.


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; ClusterrunError -> 'error: ...' + 'hint: ...' and its exit status.

    Usage errors (unknown option, bad value, missing argument) take the same one-line form, exit 2."""
    return _main(argv)


def _main(argv: list[str] | None) -> int:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="clusterrun", standalone_mode=False)
    except SystemExit as exc:  # shell completion ends this way
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except TyperException as exc:  # click's usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments at all: the help was printed
            return int(ExitStatus.USAGE)
        message, hint = usage_error(exc)
        return _report(message, hint, int(getattr(exc, "exit_code", ExitStatus.USAGE)))
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        typer.echo("aborted", err=True)
        return 130
    except ClusterrunError as exc:
        return _report(exc.message, exc.hint, int(exc.exit_status))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: one line, the traceback only on request
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # not raised as DiskFull
            full = DiskFull(exc.filename or "the run registry")
            return _report(full.message, full.hint, int(full.exit_status))
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:  # an id or path typed too long
            name = str(exc.filename or "")
            shown = name if len(name) <= 60 else name[:30] + "..." + name[-20:]
            hint = "run ids and file names are at most 255 characters; copy them from 'clusterrun status'"
            return _report(f"name too long: {shown} ({len(name)} characters)", hint, int(ExitStatus.USAGE))
        if os.environ.get("CLUSTERRUN_DEBUG"):
            traceback.print_exc()
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("hint: set CLUSTERRUN_DEBUG=1 for the traceback, and please report it", err=True)
        return int(ExitStatus.FAILURE)
    return code if isinstance(code, int) else 0


def _report(message: str, hint: str, status: int) -> int:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return status


def entry() -> None:
    """The `clusterrun` process: the collector paused until the command's modules are imported and
    their objects frozen (cli/startup.py). Only here, where the process is clusterrun's own: a caller of
    main() in its own process (tests, scripts) keeps its collector as it was."""
    with collection_paused():
        code = main()
    sys.exit(code)


if __name__ == "__main__":
    entry()
