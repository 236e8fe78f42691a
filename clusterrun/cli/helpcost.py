"""What `--help` and parsing need of typer, without what they do not use (half of `clusterrun --help`).

typer renders help with `typer.rich_utils`, which imports `rich.markdown` (markdown-it, pygments) and
`rich.traceback` at its top although it uses them only for `rich_markup_mode="markdown"` and pretty
tracebacks: neither is on here (cli/lazy.py builds commands in "rich" mode; app.py turns pretty
exceptions off). `import_rich_utils` imports it with those two modules standing in as placeholders whose
classes load the real ones on first use, and takes the placeholders out again, so a later
`import rich.markdown` anywhere gets the real module. The rendered help is the same text
(tests/unit/test_cli_helpcost.py compares it with typer's own, byte for byte).

typer also builds a pydantic TypeAdapter for every parameter it processes, even one whose value is
None (an option not given): `clusterrun status --help` imported pydantic for the root's `--help` flag.
`defer_coercion` gives each parameter a stand-in that answers None as typer would and builds typer's
coercion only for a real value.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: The modules typer.rich_utils imports but help rendering never uses, with the names it takes from them.
UNUSED_BY_HELP: dict[str, tuple[str, ...]] = {
    "rich.markdown": ("Markdown",),
    "rich.traceback": ("Traceback",),
}


class _Deferred(type):
    """A placeholder class: calling it, or any attribute of it, is the real class's."""

    _module: str

    def real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.real(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.real())


def _placeholder(module: str, names: tuple[str, ...]) -> types.ModuleType:
    stand_in = types.ModuleType(module, "placeholder while typer.rich_utils is imported (cli/helpcost.py)")
    for name in names:
        setattr(stand_in, name, _Deferred(name, (), {"_module": module}))
    return stand_in


def import_rich_utils() -> None:
    """Import typer.rich_utils (typer's help renderer) without the modules it never uses here."""
    if "typer.rich_utils" in sys.modules:
        return
    placed = {}
    for module, names in UNUSED_BY_HELP.items():
        if module not in sys.modules:
            placed[module] = sys.modules[module] = _placeholder(module, names)
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:  # no rich: typer renders plain help without it
        pass
    finally:
        for module, stand_in in placed.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


class _Unbuilt:
    """typer's coercion of one parameter, built when a value needs it: None (not given) is answered as
    typer's RuntimeParam.coerce answers it, without building a pydantic TypeAdapter."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if (param.multiple or param.nargs == -1) else None
        param._runtime_param = None  # typer builds its own from here on
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


_UNBUILT = _Unbuilt()


def defer_coercion(params: list[Any]) -> list[Any]:
    """Each typer parameter not yet coerced gets the stand-in (see _Unbuilt)."""
    for param in params:
        if getattr(param, "_runtime_param", False) is None:
            param._runtime_param = _UNBUILT
    return params
