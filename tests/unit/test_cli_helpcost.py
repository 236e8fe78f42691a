"""cli/helpcost.py: `--help` renders exactly what typer renders, without importing what it never uses
(rich.markdown, rich.traceback, pydantic), and a parameter's coercion is still typer's own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from clusterrun.cli import base, lazy
from clusterrun.cli.helpcost import UNUSED_BY_HELP

HEAVY = ("pydantic", "rich.markdown", "rich.traceback", "markdown_it", "pygments")

# the help as typer renders it when typer.rich_utils is imported the ordinary way (everything real)
TYPERS_OWN = """
import io, contextlib, sys
import rich.markdown, rich.traceback, typer.rich_utils
from clusterrun.cli.app import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    main(sys.argv[1:])
sys.stdout.write(out.getvalue())
"""
OURS = """
import io, contextlib, json, sys
from clusterrun.cli.app import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    main(sys.argv[1:])
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(code: str, args: list[str], **env: str) -> str:
    environ = dict(os.environ, COLUMNS="100", TERM="xterm-256color", **env)
    environ.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=environ
    ).stdout


@pytest.mark.parametrize(
    "args", [["--help"], ["status", "--help"], ["submit", "--help"], ["gc", "--help"], ["logs", "-h"]]
)
@pytest.mark.parametrize("force_color", ["", "1"])
def test_help_is_typers_own_without_the_heavy_imports(args: list[str], force_color: str) -> None:
    env = {"FORCE_COLOR": force_color} if force_color else {}
    ours = json.loads(_run(OURS, args, **env))
    assert ours["help"] == _run(TYPERS_OWN, args, **env)
    assert "Usage: clusterrun" in re.sub(r"\x1b\[[0-9;]*m", "", ours["help"])
    if force_color:
        assert "\x1b[" in ours["help"]  # the styled rendering was compared, not only the plain one
    if args == ["--help"] or args[0] == "status":
        loaded = [m for m in ours["modules"] if m.split(".")[0] in HEAVY or m in HEAVY]
        assert not loaded, f"--help imported {loaded[:5]}"


def test_the_placeholders_are_gone_after_the_help_and_the_real_modules_load() -> None:
    code = """
import io, contextlib, sys
from clusterrun.cli.app import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["--help"])
left = [m for m in ("rich.markdown", "rich.traceback") if m in sys.modules]
import typer.rich_utils as ru
from rich.markdown import Markdown
from rich.traceback import Traceback
md = ru.Markdown("# title")  # typer's name for it stands for the real class
try:
    raise ValueError("x")
except ValueError as exc:
    tb = ru.Traceback.from_exception(type(exc), exc, exc.__traceback__)
print(left, type(md) is Markdown, isinstance(md, ru.Markdown), type(tb) is Traceback)
"""
    assert _run(code, []).split() == ["[]", "True", "True", "True"]
    assert set(UNUSED_BY_HELP) == {"rich.markdown", "rich.traceback"}


def test_values_are_still_coerced_and_checked_by_typer() -> None:
    """The stand-in answers only None: a given value goes through typer's (pydantic) coercion, so a bad
    one is still refused as typer refuses it."""
    code = """
import sys
from clusterrun.cli.app import main
sys.exit(main(sys.argv[1:]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code, "status", "--limit", "lots"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid value for '--limit'") and "integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_given_values_are_converted_and_absent_ones_are_typers_defaults() -> None:
    command = lazy.load("status")
    given = command.make_context("status", ["--limit", "3", "--state", "failed", "a", "b"])
    assert given.params["limit"] == 3 and given.params["run_ids"] == ["a", "b"]
    absent = command.make_context("status", [])
    assert absent.params["limit"] == 20 and absent.params["watch"] is False


def _parsed(name: str, args: list[str]) -> object:
    try:
        return lazy.load(name).make_context(name, list(args)).params
    except Exception as exc:  # a required argument missing: the same refusal both ways
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("name", list(lazy.COMMANDS))
def test_every_command_parses_as_with_typers_own_coercion(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no arguments (every option absent: what the stand-in answers), each command's parameters
    are what typer's own coercion makes of them."""
    args = ["x", "y"] if name in ("compare",) else ["x"] if name in ("note", "reproduce", "rm") else []
    ours = _parsed(name, args)
    monkeypatch.setattr(base, "defer_coercion", lambda params: params)
    assert ours == _parsed(name, args)
