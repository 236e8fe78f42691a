"""The command's arguments against the types its Python script declares (argparse's `type=int`,
`type=float`), read from the script's source in the snapshot, never by running it.

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

from clusterrun.init.pysource import Option, read_script

#: how each declared type reads a value (argparse calls the type on the text)
_READERS = {"int": int, "float": float}


@dataclass(frozen=True)
class BadArgument:
    """An argument its script's parser refuses: `flag value`, at `index` in the command's argv."""

    script: str  # as the command names it (train.py)
    flag: str
    value: str
    type: str  # int, float
    index: int  # of the value's token in the argv

    def __str__(self) -> str:
        return (
            f"{self.script}'s {self.flag} takes {_article(self.type)} (type={self.type}), not {self.value!r}"
        )


def _article(kind: str) -> str:
    return {"int": "an integer", "float": "a number"}.get(kind, kind)


def _entry(argv: Sequence[str]) -> int | None:
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
    if info.framework != "argparse" or info.subcommands or info.error:
        return {}
    return {
        option.flag: option
        for option in info.options
        if option.flag.startswith("-") and option.declared in _READERS and not option.multiple
    }


def _refused(option: Option, value: str) -> bool:
    try:
        _READERS[option.declared](value)
    except ValueError:
        return True
    return False


def bad_arguments(
    root: Path, argv: Sequence[str], cache: dict[str, dict[str, Option]] | None = None
) -> list[BadArgument]:
    """The arguments of `argv` (a rendered command) its script in `root` (the snapshot) would refuse.
    `cache`: the typed options of the scripts already read, by the token naming them (a sweep's members
    run the same one)."""
    position = _entry(argv)
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
        if not (not equals and value.startswith("--")) and _refused(option, value):  # `--a --b`: not ours
            bad.append(BadArgument(argv[position], option.flag, value, option.declared, value_index))
        index = value_index + 1
    return bad
