"""A Hydra entry point (`@hydra.main(config_path=..., config_name=...)`): its primary config's scalar
values become params, passed back as Hydra overrides (`optimizer.lr={lr}`). Read, never run: the YAML
file is loaded as data, its `defaults` list and `hydra` section are left to Hydra."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config.yaml12 import load_yaml
from clusterrun.errors import ClusterrunError

#: Keys of a primary config that are Hydra's own, not the experiment's
HYDRA_KEYS = frozenset({"defaults", "hydra"})
MAX_DEPTH = 3
MAX_PARAMS = 40


@dataclass
class HydraMain:
    """Where `@hydra.main` says the primary config is (relative to the script's folder)."""

    config_path: str | None
    config_name: str | None


@dataclass
class HydraParams:
    """Params from a primary config: name -> value, and each one's Hydra key (dotted)."""

    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # param name -> dotted key in the config
    skipped: list[str] = field(default_factory=list)  # interpolations, lists, nulls: left to the config
    config: Path | None = None  # the file read
    problem: str = ""  # why no params were read


def find_main(tree: ast.Module) -> HydraMain | None:
    """`@hydra.main(...)` (or `@main(...)` imported from hydra) on any function, with literal arguments."""
    imported_main = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "hydra"
        and any(a.name == "main" for a in node.names)
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            func = decorator.func
            hydra_main = (
                isinstance(func, ast.Attribute)
                and func.attr == "main"
                and isinstance(func.value, ast.Name)
                and func.value.id == "hydra"
            ) or (imported_main and isinstance(func, ast.Name) and func.id == "main")
            if hydra_main:
                words = {k.arg: k.value for k in decorator.keywords if k.arg}
                return HydraMain(_text(words.get("config_path")), _text(words.get("config_name")))
    return None


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _leaves(
    data: dict[str, Any], prefix: str = "", depth: int = 1, skip: frozenset[str] = HYDRA_KEYS
) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if not isinstance(key, str) or (not prefix and key in skip):
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and depth < MAX_DEPTH:
            yield from _leaves(value, dotted + ".", depth + 1, skip)
        else:
            yield dotted, value


def params(script: Path, main: HydraMain) -> HydraParams:
    """The primary config's scalar values, named by their last key when that is unique (trainer.max_epochs
    -> max_epochs, so that the smoke test finds it), else by the dotted key with underscores."""
    found = HydraParams()
    if not main.config_name:
        found.problem = "@hydra.main names no config_name: its params come from the command line only"
        return found
    folder = script.parent / (main.config_path or ".")
    path = next(
        (
            folder / f"{main.config_name}{s}"
            for s in (".yaml", ".yml")
            if (folder / f"{main.config_name}{s}").is_file()
        ),
        None,
    )
    if path is None:
        found.problem = f"@hydra.main's config {main.config_name} is not in {folder}"
        return found
    try:
        data = load_yaml(path)
    except ClusterrunError as exc:
        found.problem = f"{path.name} could not be read: {exc.message}"
        return found
    found.config = path
    if not isinstance(data, dict):
        found.problem = f"{path.name} is not a mapping"
        return found
    scalars(data, found)
    return found


def scalars(data: dict[str, Any], found: HydraParams, skip: frozenset[str] = HYDRA_KEYS) -> None:
    """A nested config's scalar values into `found` (name -> value, and each one's dotted key), named by
    their last key when that is unique (trainer.max_epochs -> max_epochs, so that the smoke test finds
    it), else by the dotted key with underscores; top-level keys in `skip` are left out."""
    leaves = [
        (key, value)
        for key, value in _leaves(data, skip=skip)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key)
    ]
    last = [key.rsplit(".", 1)[-1] for key, _ in leaves]
    for key, value in leaves:
        usable = isinstance(value, bool | int | float) or (
            isinstance(value, str)
            and "${" not in value
            and not re.search(r"[\s'\"\\,\[\]{}=]", value)
            and value
        )
        if not usable or len(found.values) >= MAX_PARAMS:
            found.skipped.append(key)
            continue
        short = key.rsplit(".", 1)[-1]
        name = short if last.count(short) == 1 else key.replace(".", "_")
        found.values[name] = value
        found.keys[name] = key
