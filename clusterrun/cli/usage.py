"""click's usage errors (unknown option or command, bad value, missing argument) in clusterrun's own
form: one `error:` line and one `hint:` line naming the fix (did you mean ...? or the usage), exit 2."""

from __future__ import annotations

import difflib
import re
from typing import Any

from typer import TyperException


def _sentence(text: str) -> str:
    """click's 'Invalid value for ...: x.' -> 'invalid value for ...: x', on one line."""
    text = " ".join(text.split()).rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _options(ctx: Any) -> list[str]:
    names: list[str] = []
    for param in ctx.command.get_params(ctx):
        names += [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
    return [n for n in names if n.startswith("-")]


def _commands(ctx: Any) -> list[str]:
    listing = getattr(ctx.command, "list_commands", None)
    return list(listing(ctx)) if listing is not None else []


def usage_error(exc: TyperException) -> tuple[str, str]:
    """(message, hint) for one of click's usage errors."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "clusterrun"
    help_hint = f"see: {path} -h"
    own_hint = getattr(exc, "hint", "")  # an error of ours (cli/base.py OptionAsValue) knows the fix
    if own_hint:
        return _sentence(exc.format_message()), f"{own_hint}; {help_hint}"
    option = getattr(exc, "option_name", None)
    if option is not None and ctx is not None and type(exc).__name__ == "NoSuchOption":
        options = _options(ctx)
        meant = _OTHER_OPTIONS.get((ctx.command.name or "", option))
        if meant is not None and meant.split()[0] in options:
            return f"{path} has no option {option}", f"did you mean {meant}? {help_hint}"
        return f"{path} has no option {option}", _guess(option, options) + help_hint
    message = _sentence(exc.message if type(exc).__name__ == "NoSuchOption" else exc.format_message())
    message = message.replace("Value error, ", "")
    missing = re.search(r"no such command '([^']*)'", message, re.I)
    if missing and ctx is not None:
        name = missing.group(1)
        commands = _commands(ctx)
        other = _OTHER_NAMES.get(name.lower()) if path == "clusterrun" else None
        if other is not None and other.split()[0] in commands:
            return f"{path} has no command {name!r}", f"use: clusterrun {other}; {help_hint}"
        return f"{path} has no command {name!r}", _guess(name, commands) + help_hint
    choice = re.search(r"'([^']*)' is not one of ((?:'[^']*'(?:, )?)+)", message)
    if choice:
        return message, _guess(choice.group(1), re.findall(r"'([^']*)'", choice.group(2))) + help_hint
    if message.startswith("missing ") and ctx is not None:
        usage = " ".join(ctx.get_usage().split()).removeprefix("Usage: ")
        return message, f"usage: {usage}; {help_hint}"
    return message, help_hint


#: the names other tools (sbatch/squeue, dora, SEML, docker, git) give what a clusterrun command does
_OTHER_NAMES = {
    "wait": "status --watch RUN_ID",
    "watch": "status --watch RUN_ID",
    "ls": "status",
    "list": "status",
    "ps": "status",
    "queue": "status",
    "info": "show RUN_ID",
    "describe": "show RUN_ID",
    "inspect": "show RUN_ID",
    "log": "logs RUN_ID",
    "tail": "logs RUN_ID --follow",
    "kill": "cancel RUN_ID",
    "stop": "cancel RUN_ID",
    "run": "submit CONFIG",
    "launch": "submit CONFIG",
    "sweep": "submit CONFIG --sweep params.KEY=V1,V2",
    "rerun": "reproduce RUN_ID",
    "diff": "compare RUN_A RUN_B",
    "clean": "gc",
}


#: an option a command does not have, as another command (or habit) names what it has: spelling alone
#: guessed `submit --watch` as --no-watch, the opposite of what was meant
_OTHER_OPTIONS = {
    ("submit", "--watch"): "--wait (a live table until the runs end; --follow streams their output)",
    ("reproduce", "--watch"): "--wait",
}


def _guess(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
    return f"did you mean {close[0]}? " if close else ""
