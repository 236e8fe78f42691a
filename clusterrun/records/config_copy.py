"""A run's own copy of the project's settings file (config_file: config/sections.py ConfigFile).

A script configured by a file of its own (`python train.py --config configs/base.yaml`, the file holding
the learning rate, the epochs, the seed) is given, for each run, a copy of that file as the commit has it
(read from the run's snapshot, never the checkout, which may have changed since), with config_file.set
written into it: the run's params and seed. The command passes its path ({config_file}:
<run>/config_file/<the file's own name>), so the params are what the script reads, a sweep over them
sweeps the script's settings, and the seed clusterrun records is the one it uses.

The copy keeps the file's structure and every value `set` does not name; comments and the order of the
keys of YAML are not kept (the file is read and written again), JSON is written indented. A key `set`
names must be in the file already (a misspelt `optim.lrr` would otherwise add a setting nobody reads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from clusterrun.config.models import ExperimentSpec
from clusterrun.config.placeholders import CONFIG_FILE_DIR
from clusterrun.config.render import render_config_file_values
from clusterrun.errors import ConfigError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 4 << 20  #: a settings file larger than this is refused (they are a few KB)


def name(spec: ExperimentSpec) -> str:
    """The copy's path in the run directory (or the smoke test's folder): config_file/<its name>."""
    assert spec.config_file is not None
    return f"{CONFIG_FILE_DIR}/{Path(spec.config_file.path).name}"


def render(spec: ExperimentSpec, code: Path, run_dir: str, smoke: bool = False) -> str:
    """The text of the run's copy: the file as `code` (the snapshot) holds it, config_file.set written
    in (the smoke test's params with `smoke`). ConfigError, with the fix, when the file is missing, not
    a mapping of settings, or lacks a key `set` names."""
    assert spec.config_file is not None
    given = spec.config_file.path
    source = code / spec.cwd / given
    where = given if spec.cwd == "." else f"{spec.cwd}/{given}"
    data = _read(source, where)
    values = render_config_file_values(spec, run_dir, smoke)
    for key, value in values.items():
        _put(data, key, value, where)
    if source.suffix.lower() == ".json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    shown = ", ".join(sorted(values)) or "nothing"  # sorted: a recorded config's order may differ
    head = f"# The run's copy of {where} as its commit has it, {shown} set by clusterrun (config_file)\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def load_yaml_as_scripts_do(text: str) -> Any:
    """YAML as PyYAML's safe_load reads it (YAML 1.1: `yes` is true, `1e-4` is text), which is how the
    script reads its own file: its copy is written from that, so it means to the script what it did."""
    return yaml.load(text, Loader=_LOADER)


def _read(source: Path, where: str) -> dict[str, Any]:
    try:
        if source.is_symlink() or not source.is_file():
            raise ConfigError(
                f"config_file: {where} is not a file of the commit the run uses",
                hint="give the settings file the script reads, relative to the folder the command runs in "
                "(cwd), and commit it",
            )
        if source.stat().st_size > MAX_BYTES:
            raise ConfigError(f"config_file: {where} is larger than {MAX_BYTES >> 20} MB", hint="")
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config_file: cannot read {where}: {exc}", hint="check the file") from None
    try:
        # YAML as the script's own PyYAML reads it (1.1: `yes` is true), so the copy means what it did
        data = json.loads(text) if source.suffix.lower() == ".json" else load_yaml_as_scripts_do(text)
    except (ValueError, yaml.YAMLError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"config_file: {where} does not read as {source.suffix.lstrip('.').upper()}: {problem}",
            hint="fix the file (a run's copy is that file with its params written in)",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config_file: {where} holds {type(data).__name__}, not a mapping of settings",
            hint="config_file names a YAML or JSON file of name: value settings",
        )
    return data


def _put(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set the dotted `key` of `data`; it must exist (a typo would add a setting no script reads)."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            above = ".".join(parts[:depth])
            has = sorted(node) if isinstance(node, dict) else []
            place = f"{above} has" if above else "its top has"
            raise ConfigError(
                f"config_file.set {key}: {where} has no {key}"
                + (f" ({place}: {', '.join(map(str, has[:12]))})" if has else f" ({above} is not a mapping)"),
                hint="set a key the file has (dotted, e.g. optim.lr), or add it to the file and commit",
            )
        if depth == len(parts) - 1:
            if isinstance(node[part], dict | list):
                raise ConfigError(
                    f"config_file.set {key}: in {where} it is a {type(node[part]).__name__}, not one value",
                    hint=f"set the values inside it (e.g. {key}.NAME)",
                )
            node[part] = value
            return
        node = node[part]
