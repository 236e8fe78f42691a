"""The command's arguments against the types its Python script declares (argparse's `type=int`,
`type=float`, `choices=`; click's `type=`, the type of its default, `click.Choice`; typer's `int` and
`float` annotations, the type of its default), read from the script's source in the snapshot, never
by running it.

The promise: a job whose script would refuse its own arguments at its first line is not sent. The
smoke test cannot see it when it sets that very argument (smoke.params: epochs=1), and so `--epochs 2.5`
reached the cluster and failed there with argparse's `invalid int value`. Only what is certain is
refused: an option declared with a builtin type, given as `--flag value` or `--flag=value` in the
command, in a script without sub-commands (whose options may share a flag with other types).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.init.pysource import Option, read_script

#: how each declared type reads a value (argparse calls the type on the text)
_READERS = {"int": int, "float": float}


@dataclass(frozen=True)
class BadArgument:
    """An argument its script's parser refuses: `flag value`, at `index` in the command's argv."""

    script: str  # as the command names it (train.py)
    flag: str
    value: str
    type: str  # int, float: the type refuses it; choices: it is none of them
    index: int  # of the value's token in the argv
    choices: tuple[Any, ...] = ()

    def __str__(self) -> str:
        if self.type == "choices":
            wanted = f"one of {listed(self.choices)} (choices=)"
            return f"{self.script}'s {self.flag} takes {wanted}, not {self.value!r}"
        return (
            f"{self.script}'s {self.flag} takes {article(self.type)} (type={self.type}), not {self.value!r}"
        )


def listed(choices: Sequence[Any]) -> str:
    return ", ".join(str(c) for c in choices)


def article(kind: str) -> str:
    """What a value of this declared type is, in words: 'an integer', 'a number'."""
    return {"int": "an integer", "float": "a number"}.get(kind, kind)


def entry_script(argv: Sequence[str]) -> int | None:
    """The argv position of the Python script the command runs: its first `*.py` token."""
    for position, token in enumerate(argv):
        if token.endswith(".py") and not token.startswith("-"):
            return position
    return None


def _script(root: Path, token: str) -> Path | None:
    path = (root / token).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def _typed_options(path: Path) -> dict[str, Option]:
    info = read_script(path)
    if info.framework not in ("argparse", "click", "typer") or info.subcommands or info.error:
        return {}
    typed: dict[str, Option] = {}
    ambiguous: set[str] = set()  # a flag two parsers of the file declare differently: which one runs?
    for option in info.options:
        if not option.flag.startswith("-"):
            continue
        earlier = typed.get(option.flag)
        if earlier is not None and (earlier.declared, earlier.choices) != (option.declared, option.choices):
            ambiguous.add(option.flag)
        typed[option.flag] = option
    return {
        flag: option
        for flag, option in typed.items()
        if flag not in ambiguous
        and not option.multiple
        and not option.is_flag
        and (option.declared in _READERS or (option.choices is not None and option.declared in ("", "str")))
    }


def _refusal(option: Option, value: str) -> tuple[str, tuple[Any, ...]] | None:
    """Why the option's parser refuses `value` (its type, or choices), None when it takes it."""
    reader = _READERS.get(option.declared)
    try:
        converted: Any = reader(value) if reader is not None else value
    except ValueError:
        return option.declared, ()
    if option.choices is not None and converted not in option.choices:
        return "choices", option.choices
    return None


def bad_arguments(
    root: Path, argv: Sequence[str], cache: dict[str, dict[str, Option]] | None = None
) -> list[BadArgument]:
    """The arguments of `argv` (a rendered command) its script in `root` (the snapshot) would refuse.
    `cache`: the typed options of the scripts already read, by the token naming them (a sweep's members
    run the same one)."""
    position = entry_script(argv)
    if position is None:
        return []
    token = argv[position]
    options = cache.get(token) if cache is not None else None
    if options is None:
        path = _script(root.resolve(), token)
        options = _typed_options(path) if path is not None else {}
        if cache is not None:
            cache[token] = options
    if not options:
        return []
    bad: list[BadArgument] = []
    index = position + 1
    while index < len(argv) and argv[index] != "--":
        token = argv[index]
        flag, equals, inline = token.partition("=")
        option = options.get(flag) if equals else options.get(token)
        if option is None:
            index += 1
            continue
        value_index = index if equals else index + 1
        if value_index >= len(argv):
            break
        value = inline if equals else argv[value_index]
        refused = None if not equals and value.startswith("--") else _refusal(option, value)  # `--a --b`
        if refused is not None:
            bad.append(BadArgument(argv[position], option.flag, value, refused[0], value_index, refused[1]))
        index = value_index + 1
    return bad
