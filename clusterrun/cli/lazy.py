"""Commands imported when they are used, not when the CLI starts.

Each command's module imports what its command needs (services, pydantic, git, submitit, rich's
markdown: about 0.5 s together). `clusterrun --help` lists every command from the table below without
importing any of them, and `clusterrun status ...` imports the status command's module alone.
A new command is one row here (tests/unit/test_cli_lazy.py checks that every command function of cli/
has one, and that the help listed is the command's own).
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from clusterrun.cli.base import Command, Group, SubmitCommand


@dataclass(frozen=True)
class Lazy:
    module: str  # in clusterrun.cli
    function: str
    cls: type[Command] = Command


COMMANDS: dict[str, Lazy] = {
    "submit": Lazy("submit", "submit", SubmitCommand),
    "status": Lazy("status", "status"),
    "show": Lazy("show", "show"),
    "logs": Lazy("logs", "logs"),
    "cancel": Lazy("cancel", "cancel"),
    "note": Lazy("note", "note"),
    "reproduce": Lazy("reproduce", "reproduce"),
    "compare": Lazy("compare", "compare"),
    "doctor": Lazy("doctor", "doctor"),
    "init": Lazy("init", "init"),
    "site": Lazy("site", "site"),
    "plot": Lazy("plot", "plot"),
    "export": Lazy("export", "export"),
    "gc": Lazy("gc", "gc"),
    "rm": Lazy("gc", "rm"),
}


def listed_help(name: str) -> str:
    """The first paragraph of the command function's docstring (what `--help` lists beside the name),
    read from its source without importing it."""
    spec = COMMANDS[name]
    tree = ast.parse(Path(__file__).with_name(f"{spec.module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == spec.function:
            return " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
    return ""


def load(name: str) -> Any:
    """The real command: its module imported, its click command built by typer as app.command would."""
    spec = COMMANDS[name]
    function = getattr(importlib.import_module(f"clusterrun.cli.{spec.module}"), spec.function)
    single = typer.Typer()
    single.command(name, cls=spec.cls)(function)
    info = single.registered_commands[0]
    return typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode="rich")


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
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
