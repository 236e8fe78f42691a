"""The click classes under the typer app: flags without a `<bool>` type in --help, and `submit`'s `--`
(everything after it is the command of an ad-hoc run, never parsed as clusterrun's options)."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from clusterrun.cli.helpcost import defer_coercion, import_rich_utils

#: ctx.meta key of the argv given after `--` (submit).
COMMAND_KEY = "clusterrun.command"


def _plain_flags(params: list[Any]) -> list[Any]:
    """A flag takes no value: show no type for it (typer shows `<bool>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class OptionAsValue(typer.BadParameter):
    """An option that takes a value was given another option of the command as its value
    (`--skip-smoke --dry-run`: click reads `--dry-run` as the reason, and the submission is real)."""

    def __init__(self, ctx: Any, param: Any, value: str) -> None:
        name = param.opts[0]
        super().__init__(f"{name} takes a value, but the next word is the option {value}", ctx=ctx)
        self.hint = f"give {name} its value first, e.g. {name} {_example(param)} {value}"

    def format_message(self) -> str:
        return self.message


def _example(param: Any) -> str:
    metavar = str(param.metavar or param.name or "VALUE").strip("<>").upper()
    return "'no GPU here'" if metavar == "REASON" else metavar


def refuse_options_as_values(command: Any, ctx: Any) -> None:
    """OptionAsValue when a value-taking option's value is one of the command's own options."""
    options = [p for p in command.get_params(ctx) if getattr(p, "param_type_name", "") == "option"]
    names = {name for param in options for name in (*param.opts, *param.secondary_opts)}
    for param in options:
        if param.is_flag or param.count:
            continue
        value = ctx.params.get(param.name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, str) and item in names:
                raise OptionAsValue(ctx, param, item)


class Command(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        refuse_options_as_values(self, ctx)
        return rest

    def get_params(self, ctx: Any) -> list[Any]:
        return defer_coercion(_plain_flags(super().get_params(ctx)))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import_rich_utils()
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return defer_coercion(_plain_flags(super().get_params(ctx)))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import_rich_utils()
        super().format_help(ctx, formatter)


class SubmitCommand(Command):
    """`clusterrun submit [OPTIONS] -- COMMAND ...`: the tail after the first `--` is kept whole in
    ctx.meta (so `--lr 0.1` belongs to the user's script, not to clusterrun)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            at = args.index("--")
            ctx.meta[COMMAND_KEY] = args[at + 1 :]
            args = args[:at]
        return super().parse_args(ctx, args)
