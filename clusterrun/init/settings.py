"""A script's own settings file (`--config configs/base.yaml`), read for init and ad-hoc runs: its scalar
settings become params written into each run's copy of the file (config_file: records/config_copy.py),
its seed the run's seed; secret-looking settings never become params."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterrun.config.placeholders import BUILTIN_PLACEHOLDERS
from clusterrun.config.redact import is_secret_name, secret_in_value
from clusterrun.init.guess import SEED_OPTIONS
from clusterrun.records import config_copy

#: Settings of a file that become params, at most (a bigger file's others keep their values).
SETTINGS_PARAMS = 40
SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class Settings:
    """What a settings file gives a config: its config_file section, the params it adds (name -> value,
    and name -> the dotted key it is written to), the seed it holds, the secret-looking keys left out."""

    path: str
    set: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    seed_key: str = ""
    secrets: list[str] = field(default_factory=list)

    @property
    def config_file(self) -> dict[str, Any]:
        return {"path": self.path, "set": self.set}

    def shown(self) -> str:
        """'lr=optim.lr, epochs=train.epochs ...' (the first eight)."""
        text = ", ".join(f"{name}={key}" for name, key in list(self.keys.items())[:8])
        return (text + (" ..." if len(self.keys) > 8 else "")) or "none"


def from_file(root: Path, given: str, taken: set[str], seeded: bool) -> Settings | None:
    """The settings of the YAML or JSON file `given` (relative to `root`, where the command runs); None
    when it is not one: no such file, not a mapping, no scalar setting. `taken`: param names in use
    already (a setting that would take one keeps its value); `seeded`: the seed is known already."""
    path = root / given
    if path.suffix.lower() not in SUFFIXES or not path.is_file():
        return None
    data = read_settings(path)
    if not isinstance(data, dict) or not data:
        return None
    leaves = [(key, value) for key, value in _leaves(data) if _scalar(value)]
    if not leaves:
        return None
    found = Settings(given)
    found.secrets = [
        key
        for key, value in leaves
        if is_secret_name(key.rsplit(".", 1)[-1]) or (isinstance(value, str) and secret_in_value(value))
    ]
    leaves = [(key, value) for key, value in leaves if key not in found.secrets]
    names = leaf_names([key for key, _ in leaves])
    for key, value in leaves:
        if (
            key.rsplit(".", 1)[-1] in SEED_OPTIONS
            and type(value) is int
            and not seeded
            and found.seed is None
        ):
            found.seed, found.seed_key = value, key
            found.set[key] = "{seed}"
            continue
        name = names[key]
        if len(found.keys) >= SETTINGS_PARAMS or name in taken or name in BUILTIN_PLACEHOLDERS:
            continue
        found.keys[name] = key
        found.params[name] = value
        found.set[key] = f"{{{name}}}"
    return found


def read_settings(path: Path) -> Any:
    """A JSON or YAML file's data (YAML as the script's own PyYAML reads it, `yes` true, as the run's
    copy is written); None when it is not one or cannot be read."""
    try:
        text = path.read_text(errors="replace")
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return config_copy.load_yaml_as_scripts_do(text)
    except (OSError, ValueError, yaml.YAMLError):
        return None


def settings_files(root: Path) -> list[str]:
    """The project's own settings files in its configs/ (YAML or JSON mappings that are not clusterrun
    configs), relative to `root`."""
    found = []
    for path in sorted((root / "configs").glob("*")):
        if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        data = read_settings(path)
        if isinstance(data, dict) and data and "command" not in data:
            found.append(path.relative_to(root).as_posix())
    return found


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _leaves(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A mapping's values by dotted key, nested mappings walked (lists are values of their own)."""
    found: list[tuple[str, Any]] = []
    for key, value in data.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
            continue
        if isinstance(value, dict):
            found += _leaves(value, f"{prefix}{key}.")
        else:
            found.append((f"{prefix}{key}", value))
    return found


#: Last keys that say little alone (optimizer.name, scheduler.type): named with the key above them.
_GENERIC = frozenset({"name", "type", "kind", "mode", "path", "dir", "id", "value", "size", "version"})


def leaf_names(keys: list[str]) -> dict[str, str]:
    """A param name for each dotted key: its last part, or as many parts as make it unique (optim_lr
    beside sched_lr), `-` as `_`."""
    names: dict[str, str] = {}
    for key in keys:
        parts = key.replace("-", "_").split(".")
        first = 2 if parts[-1].lower() in _GENERIC and len(parts) > 1 else 1  # optimizer.name: optimizer_name
        for size in range(first, len(parts) + 1):
            name = "_".join(parts[-size:])
            clash = [k for k in keys if k != key and "_".join(k.replace("-", "_").split(".")[-size:]) == name]
            if not clash:
                break
        names[key] = name
    return names
