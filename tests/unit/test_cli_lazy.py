"""cli/lazy.py: `clusterrun --help` lists every command without importing its module, and each row of
the table is what the command itself says (its one-line help, its click class)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.cli import lazy

CLI = Path(lazy.__file__).parent


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(lazy.COMMANDS))
def test_each_row_matches_its_command(name: str) -> None:
    command = lazy.load(name)
    spec = lazy.COMMANDS[name]
    assert command.name == name
    assert type(command) is spec.cls
    assert _first_paragraph(command.help or "") == lazy.listed_help(name)


def test_every_command_function_of_the_cli_is_in_the_table() -> None:
    """A function of cli/ taking a typer.Context and typer options that is not in the table would be a
    command nobody can run."""
    listed = {(spec.module, spec.function) for spec in lazy.COMMANDS.values()}
    for path in CLI.glob("*.py"):
        if path.stem == "app":  # the root's callback (--runs-dir, --version), not a command
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.args.args:
                continue
            annotations = [ast.unparse(a.annotation) for a in node.args.args if a.annotation is not None]
            first_is_context = annotations[:1] == ["typer.Context"]
            has_options = any("typer.Option(" in a or "typer.Argument(" in a for a in annotations)
            if first_is_context and has_options:
                assert (path.stem, node.name) in listed, f"{path.stem}.{node.name} is not in COMMANDS"


def _imported_after(args: list[str]) -> set[str]:
    code = (
        "import sys\nfrom clusterrun.cli.app import main\n"
        f"code = main({args!r})\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('clusterrun.cli.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_help_imports_no_command_and_a_command_imports_only_its_own() -> None:
    modules = {f"clusterrun.cli.{spec.module}" for spec in lazy.COMMANDS.values()}
    assert not _imported_after(["--help"]) & modules
    imported = _imported_after(["logs", "--help"]) & modules
    assert "clusterrun.cli.logs" in imported and "clusterrun.cli.submit" not in imported


def test_a_commands_help_paragraphs_are_one_line_each_so_the_terminal_wraps_them() -> None:
    """typer's rich help keeps a docstring paragraph's line breaks, then wraps each line again: a
    ragged 'argparse, click' / 'or typer options' in `init --help`."""
    for name in lazy.COMMANDS:
        help_text = lazy.load(name).help or ""
        for paragraph in help_text.split("\n\n"):
            assert "\n" not in paragraph, (name, paragraph)
    assert lazy.reflowed("One.\n\n    Two\n    lines.\n\n    Three.") == "One.\n\nTwo lines.\n\nThree."


IMPORT_WORK = """
import sys, pydantic
import clusterrun.cli.submit, clusterrun.cli.status

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

built = sorted(m.__qualname__ for m in set(models(pydantic.BaseModel))
               if m.__module__.startswith("clusterrun.") and m.__pydantic_complete__)
print("built:", *built)
print("fixes:", *sorted(m for m in sys.modules if m.startswith("clusterrun.diagnose.fixes")))
"""


def test_importing_the_busiest_commands_validates_nothing_and_leaves_the_fixes_for_later() -> None:
    """Import time is every command's start-up: no model's schema is built at import (a model validated
    at import built its schema, ~15 ms), and the fixes of a diagnosis wait for a run that needs one."""
    out = subprocess.run([sys.executable, "-c", IMPORT_WORK], capture_output=True, text=True, check=True)
    lines = dict(line.split(":", 1) for line in out.stdout.splitlines())
    assert lines["built"].split() == []
    assert lines["fixes"].split() == []
