"""The click classes under the typer app: flags without a `<bool>` type in --help, and `submit`'s `--`
(everything after it is the command of an ad-hoc run, never parsed as clusterrun's options)."""

from __future__ import annotations

from typing import Any

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


class Command(TyperCommand):
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
