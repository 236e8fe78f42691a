"""A submitted config that is itself uncommitted: the edits, as the overrides that say the same.

Every run records its whole resolved config, so a value changed in the config file needs no commit to
be reproducible: `submit CONFIG params.lr=0.2` is recorded exactly as an edited file would be. When the
only uncommitted change of a refused submit is the config it submits, the refusal names those overrides.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from clusterrun.config.overrides import parse_override_full
from clusterrun.config.yaml12 import yaml_load
from clusterrun.errors import ClusterrunError
from clusterrun.inputs.gitstate import COMMIT_OR_ALLOW, GitState, committed_text

_SCALARS = (str, int, float, bool)
MAX_SUGGESTED = 4


def dirty_config_hint(state: GitState, config: Path, typed: str, overrides: Sequence[str] = ()) -> str | None:
    """The refusal's hint when the submitted config is among the uncommitted files: its edits as
    overrides when the other files are clean and the overrides say it exactly, else a general line.
    `typed`: the config's path as the user gave it; `overrides`: the submit's own (kept in the line)."""
    relative = relative_config(config, state.root)
    if relative is None or relative not in state.dirty_files:
        return None
    others = [f for f in state.dirty_files if f != relative]
    commit = COMMIT_OR_ALLOW
    committed = committed_text(state.root, relative) if not others else None
    try:
        current = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    tokens = edits_as_overrides(committed, current) if committed is not None and current else None
    given = {_key(text) for text in overrides}  # what the command line sets wins over the file anyway
    tokens = [t for t in tokens or [] if _key(shlex.split(t)[0]) not in given]
    if tokens:
        restore = f"git checkout {shlex.quote(typed)}"
        line = shlex.join(["clusterrun", "submit", typed, *overrides]) + " " + " ".join(tokens)
        return (
            f"the change is in the config you submit: give it on the command line instead, recorded in "
            f"full with the run ({restore} && {line}); or {commit}"
        )
    return (
        f"{typed} is the config you submit: a changed value can be given on the command line instead "
        f"(KEY=VALUE, e.g. params.lr=0.01), recorded in full with the run; or {commit}"
    )


def _key(override: str) -> str:
    """`++params.lr=0.2` -> `params.lr`."""
    return override.split("=", 1)[0].lstrip("+~")


def relative_config(config: Path, root: str) -> str | None:
    """The config's path in the repository (as git names it), or None when it lies outside."""
    try:
        return config.resolve().relative_to(Path(root).resolve()).as_posix()
    except (OSError, ValueError):
        return None


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(data, dict) and data and all(isinstance(k, str) for k in data):
        for key, value in data.items():
            yield from _leaves(value, (*prefix, key))
    else:
        yield prefix, data


def _token(path: tuple[str, ...], value: Any, added: bool) -> str | None:
    """`params.lr=0.2` (`++params.new=1` for a key the committed file lacks), when that text parses back
    to exactly this key and value; else None (a list, a text with a comma, a key of the sweep...)."""
    if not path or path[0] == "sweep" or not isinstance(value, _SCALARS):
        return None
    raw = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True)
    raw = raw.removesuffix("\n").removesuffix("\n...")
    text = ("++" if added else "") + ".".join(path) + "=" + raw
    try:
        parsed = parse_override_full(text)
    except ClusterrunError:
        return None
    if parsed.path != list(path) or type(parsed.value) is not type(value) or parsed.value != value:
        return None
    return shlex.quote(text)


def edits_as_overrides(committed_text: str, current_text: str) -> list[str] | None:
    """The overrides that turn the committed config into the current one: None when there are none that
    say it exactly (a key removed, a list changed, more than MAX_SUGGESTED values, unreadable YAML)."""
    try:
        before, after = yaml_load(committed_text), yaml_load(current_text)
    except yaml.YAMLError:
        return None
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    old, new = dict(_leaves(before)), dict(_leaves(after))
    if set(old) - set(new):
        return None
    changed = [
        (path, value)
        for path, value in new.items()
        if path not in old or type(old[path]) is not type(value) or old[path] != value
    ]
    if not changed or len(changed) > MAX_SUGGESTED:
        return None
    tokens = [_token(path, value, path not in old) for path, value in changed]
    return None if None in tokens else [t for t in tokens if t is not None]
