"""Commands imported when they are used, not when the CLI starts.

Each command's module imports what its command needs (services, pydantic, git, submitit, rich's
markdown: about 0.5 s together). `clusterrun --help` lists every command from the table below without
importing any of them, and `clusterrun status ...` imports the status command's module alone.
A new command is one row here (tests/unit/test_cli_lazy.py checks that every command function of cli/
has one, and that the help listed is the command's own).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

import typer

from clusterrun.cli.base import Command, Group, SubmitCommand
from clusterrun.cli.startup import imports_done


@dataclass(frozen=True)
class Lazy:
    module: str  # in clusterrun.cli
    function: str
    cls: type[Command]
    help: str  # the first paragraph of the function's docstring: what `clusterrun --help` lists


# fmt: off
COMMANDS: dict[str, Lazy] = {
    "submit": Lazy(
        "submit", "submit", SubmitCommand,
        "Smoke-test an experiment locally, record everything about it, and submit it.",
    ),
    "status": Lazy(
        "status", "status", Command,
        "Show runs (or a sweep's members): state, elapsed, job id, node, key metrics; one scheduler query.",
    ),
    "show": Lazy(
        "show", "show", Command,
        "The manifest of a run and, once it has ended, its results, diagnosis and next step.",
    ),
    "logs": Lazy(
        "logs", "logs", Command,
        "Print a run's stdout (or stderr, or the smoke test's, or the scheduler's log).",
    ),
    "cancel": Lazy(
        "cancel", "cancel", Command,
        "Cancel running or queued runs (one scheduler call per backend); records who cancelled.",
    ),
    "note": Lazy(
        "note", "note", Command,
        "Add a note or tags to a run (its notes.jsonl; the manifest is not rewritten).",
    ),
    "reproduce": Lazy(
        "reproduce", "reproduce", Command,
        "Re-run a past run from its record alone (same snapshot, config, seed, resources), then compare.",
    ),
    "compare": Lazy(
        "compare", "compare", Command,
        "Config, metric, code and environment differences between two runs; exit 1 unless they match.",
    ),
    "doctor": Lazy(
        "doctor", "doctor", Command,
        "Check that this machine can run experiments: git, Python, disk, who may read the registry, "
        "whether this shell is inside an allocation, then the backend's own checks (for SLURM: the "
        "controller, accounting, partitions, nodes, GPUs, MaxArraySize).",
    ),
    "init": Lazy(
        "init", "init", Command,
        "Write a starter config for this repository, then say what was guessed and what to check.",
    ),
    "site": Lazy(
        "site", "site", Command,
        "A static dashboard of the runs: index, run, sweep and compare pages with metric curves.",
    ),
    "plot": Lazy(
        "plot", "plot", Command,
        "Draw a metric's curves in the terminal: one run, or every member of a sweep (the best marked *).",
    ),
    "export": Lazy(
        "export", "export", Command,
        "Export runs: a CSV or JSON-lines table for pandas, or runs in an MLflow tracking store "
        "(idempotent).",
    ),
    "gc": Lazy(
        "gc", "gc", Command,
        "Show what can be removed (dry runs, failed smoke tests, refused submissions, unused snapshots, "
        "working copies of finished runs) and the disk it frees; remove with --yes.",
    ),
    "rm": Lazy(
        "gc", "rm", Command,
        "Remove one run that has ended (records, artifacts, working copies); shows it first without --yes.",
    ),
}
# fmt: on


def listed_help(name: str) -> str:
    """What `clusterrun --help` lists beside the command: its row's copy of the first paragraph of the
    command function's docstring (tests/unit/test_cli_lazy.py checks the copy against the function)."""
    return COMMANDS[name].help


def load(name: str) -> Any:
    """The real command: its module imported, its click command built by typer as app.command would."""
    spec = COMMANDS[name]
    function = getattr(importlib.import_module(f"clusterrun.cli.{spec.module}"), spec.function)
    single = typer.Typer()
    single.command(name, cls=spec.cls)(function)
    info = single.registered_commands[0]
    command = typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode="rich")
    command.help = reflowed(command.help)
    return command


def reflowed(text: str | None) -> str | None:
    """A docstring's paragraphs each on one line: typer's rich help keeps a paragraph's line breaks and
    then wraps it to the terminal, which left ragged half-lines ("argparse, click" / "or typer options")."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


class LazyGroup(Group):
    """The root group: COMMANDS listed in its help without importing them, each loaded when used."""

    _listing = False  # inside format_help: the table's one-line helps stand for the commands

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in COMMANDS if name not in eager)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        if self._listing:
            return Command(cmd_name, help=listed_help(cmd_name))
        command = load(cmd_name)
        imports_done()  # the garbage collector resumes, without the imports' objects (cli/startup.py)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
