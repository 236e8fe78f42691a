"""A Hydra entry point (`@hydra.main(config_path=..., config_name=...)`): its primary config's scalar
values become params, passed back as Hydra overrides (`optimizer.lr={lr}`). Read, never run: the YAML
files are loaded as data; the `hydra` section is left to Hydra.

The `defaults` list's config groups (`- optimizer: sgd`, options in `conf/optimizer/*.yaml`): the choice
is a param, passed as `optimizer={optimizer}`, so that it is recorded and can be swept. A group's own
values (`optimizer.lr`) are params only when the group has one option: with several, each option has its
own values (sgd's lr 0.05, adam's 0.001), and a param pinned to the default option's value would
override every other option's, silently (a sweep over `optimizer` would run adam with sgd's lr)."""

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
    #: Hydra before 1.2 (version_base "1.1", or none given) runs the job in its output folder
    chdir: bool = False


@dataclass
class HydraParams:
    """Params from a primary config: name -> value, and each one's Hydra key (dotted)."""

    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # param name -> dotted key in the config
    skipped: list[str] = field(default_factory=list)  # interpolations, lists, nulls: left to the config
    config: Path | None = None  # the file read
    problem: str = ""  # why no params were read
    #: config groups with several options, whose values are left to the chosen option: group -> the
    #: options, and the chosen option's dotted keys
    choices: dict[str, HydraGroup] = field(default_factory=dict)
    #: where the job runs, relative to where it is started: Hydra's output folder when it changes into
    #: it (hydra.job.chdir, or the version's default), as far as it is not named by the time
    #: (`outputs` of outputs/${now:...}); None when it stays where it is started
    runs_in: str | None = None


@dataclass
class HydraGroup:
    """A config group of the primary config's `defaults` list (`- optimizer: sgd`)."""

    group: str  # optimizer (db/engine for a nested group)
    choice: str  # sgd
    options: list[str]  # the group's option files, by name: adam, sgd
    data: dict[str, Any]  # the chosen option's content
    package: str  # where its content goes in the composed config: optimizer (db.engine)
    global_package: bool = False  # `# @package _global_`: its keys are at the top (left to it)

    def leaves(self) -> list[tuple[str, Any]]:
        """The chosen option's values, by their keys dotted from the composed config's top."""
        prefix = "" if self.global_package else self.package + "."
        return [(f"{prefix}{key}", value) for key, value in _leaves(self.data, skip=frozenset())]


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
                base = words.get("version_base")
                old = base is None or (
                    isinstance(base, ast.Constant)
                    and str(base.value).split(".")[:2] in (["1", "0"], ["1", "1"])
                )
                return HydraMain(_text(words.get("config_path")), _text(words.get("config_name")), old)
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
    found.runs_in = _runs_in(data.get("hydra"), main.chdir)
    groups = list(_groups(data.get("defaults"), folder))
    merged: dict[str, Any] = {}
    for group in groups:
        if len(group.options) == 1 and not group.global_package:  # no choice: its values are the run's
            _merge(merged, _nested(group.package, group.data))
        elif len(group.options) > 1:
            found.choices[group.group] = group
    _merge(merged, {k: v for k, v in data.items() if k not in HYDRA_KEYS})  # the primary's win (_self_)
    scalars(merged, found)
    chosen = {}
    for group in found.choices.values():
        name = group.group.replace("/", "_")
        if name in found.values or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            name = f"{name}_choice"
        chosen[name] = group.choice
        found.keys[name] = group.group
    found.values = chosen | found.values  # the choices first, as the defaults list comes first
    return found


def _runs_in(section: Any, chdir: bool) -> str | None:
    """HydraParams.runs_in, from the primary config's `hydra:` section and the version's default."""
    section = section if isinstance(section, dict) else {}
    job = section.get("job") if isinstance(section.get("job"), dict) else {}
    if isinstance(job.get("chdir"), bool):
        chdir = job["chdir"]
    if not chdir:
        return None
    run = section.get("run") if isinstance(section.get("run"), dict) else {}
    folder = str(run.get("dir") or "outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}")
    fixed = []
    for part in folder.split("/"):
        if "$" in part or not part or part in (".", ".."):
            break
        fixed.append(part)
    return "/".join(fixed) if fixed and not folder.startswith("/") else ""


def _groups(defaults: Any, folder: Path) -> Iterator[HydraGroup]:
    """The config groups a `defaults` list chooses an option of (`- optimizer: sgd`), when the option's
    file is in `folder/<group>/`. Left to Hydra: `_self_`, plain config names, `override`/`optional`
    entries, packages (`model@encoder`), Hydra's own groups, null or list choices."""
    if not isinstance(defaults, list):
        return
    for entry in defaults:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        ((group, choice),) = entry.items()
        if (
            not isinstance(group, str)
            or not isinstance(choice, str)
            or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*", group)
            or group.split("/")[0] == "hydra"
            or not re.fullmatch(r"[A-Za-z0-9_.-]+", choice)
        ):
            continue
        where = folder / group
        options = sorted({p.stem for p in where.glob("*.y*ml") if p.suffix in (".yaml", ".yml")})
        if choice not in options:
            continue
        path = next(where / f"{choice}{s}" for s in (".yaml", ".yml") if (where / f"{choice}{s}").is_file())
        try:
            text = path.read_text(errors="replace")
            data = load_yaml(path)
        except (OSError, ClusterrunError):
            continue
        header = re.search(r"^#\s*@package\s+(\S+)", text, re.MULTILINE)
        package = header.group(1) if header and header.group(1) != "_group_" else group.replace("/", ".")
        content = {k: v for k, v in data.items() if k != "defaults"} if isinstance(data, dict) else {}
        yield HydraGroup(
            group,
            choice,
            options,
            content,
            package,
            global_package=package == "_global_",
        )


def _nested(dotted: str, data: dict[str, Any]) -> dict[str, Any]:
    for part in reversed(dotted.split(".")):
        data = {part: data}
    return data


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """`data` merged into `into` (nested mappings merged, the rest replaced), as Hydra composes."""
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


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
