"""The `Next:` line of a failed run whose fix names a change of config (`resources.mem=9G or more`,
`a lower learning rate, params.lr=0.05`): the submit command that makes it, with the run's own config
file, overrides and swept values, instead of the fix's text a second time (the Diagnosis line above it
already says it, and why)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterrun.config.yaml12 import load_yaml
from clusterrun.errors import ClusterrunError
from clusterrun.records.models import Manifest
from clusterrun.records.registry import ADHOC_DIR

#: A KEY=VALUE of a config section in a fix's text; its value ends at a space, comma, semicolon or bracket.
_SECTIONS = "params|resources|data|smoke|env|requeue"
_OVERRIDE = re.compile(rf"(?<![\w.])((?:{_SECTIONS})(?:\.[A-Za-z0-9_]+)+)=([^\s,;()]+)")
#: Where a fix's first suggestion ends and its alternatives begin.
_ALTERNATIVES = re.compile(r";|, or ")


def fix_overrides(fix: str, config: Mapping[str, Any]) -> list[str]:
    """The overrides a fix's first suggestion names, each a change from `config` (the run's resolved
    config): 'the job has no GPU (resources.gpus=0): request one with resources.gpus=1' says what the run
    had, then what it needs; placeholders ('resources.partition=...') are not values."""
    first = _ALTERNATIVES.split(fix, maxsplit=1)[0]
    found: dict[str, str] = {}
    for key, raw in _OVERRIDE.findall(first):
        value = raw.rstrip(".:")
        if not value or "..." in raw:
            continue
        known, current = _current(config, key)
        if known and value == current:
            continue
        found[key if known else f"+{key}"] = value  # a key the config lacks is added: +KEY=VALUE
    return [f"{key}={value}" for key, value in found.items()]


def _current(config: Mapping[str, Any], key: str) -> tuple[bool, str | None]:
    """Whether the config has `key`, and its value as text (None for a mapping, list or null)."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, None if node is None or isinstance(node, Mapping | list) else str(node)


#: Diagnoses with nothing in the run to fix: their next step is the same run again, and why.
AS_IT_WAS = {
    "cancelled": "the same run again, if the cancel was not intended",
    "node_failure": "the same run again: the node failed, not the run",
}


def next_command(manifest: Manifest, category: str, fix: str) -> tuple[str, str]:
    """What a failed run's `Next:` gives: (the command that applies its fix, ""), or for a run with
    nothing to fix (AS_IT_WAS) (the same submission again, why); ("", "") when there is no command."""
    command = again_command(manifest, fix)
    if command or category not in AS_IT_WAS:
        return command, ""
    same = again_command(manifest, fix, unchanged=True)
    return (same, AS_IT_WAS[category]) if same else ("", "")


def again_command(manifest: Manifest, fix: str, *, unchanged: bool = False) -> str:
    """`clusterrun submit CONFIG OVERRIDES... FIX` for the run's config with the fix applied (an ad-hoc
    run, `submit -- COMMAND`: its own command line, the fix before the --); "" when the fix names no
    change (unless `unchanged`: then the submission as it was), or the run has no config file."""
    if not manifest.config_file:
        return ""
    changes = fix_overrides(fix, manifest.config.model_dump())
    if not changes and not unchanged:
        return ""
    changed = {_key(change) for change in changes}
    member = bool(manifest.sweep or manifest.sweep_values)
    # a sweep's member is submitted again alone: its own values, without the axes that made the sweep
    swept = [f"{key}={_value(value)}" for key, value in manifest.sweep_values.items() if key not in changed]
    if member and _config_sweeps(manifest):
        swept.insert(0, "sweep=null")
    if Path(manifest.config_file).parent.name == ADHOC_DIR and "--" in manifest.argv[1:]:
        # `submit [OPTIONS] -- COMMAND`: the same command line, the change among the options
        cut = manifest.argv.index("--", 1)
        options = [w for w in manifest.argv[1:cut] if not (member and _sweeps(w))]
        words = [*options, *swept, *changes, *manifest.argv[cut:]]
        return "clusterrun " + " ".join(shlex.quote(word) for word in words)
    kept = [o for o in manifest.overrides if _key(o) not in changed and not (member and _sweeps(o))]
    words = [manifest.config_file, *kept, *swept, *changes]
    return "clusterrun submit " + " ".join(shlex.quote(word) for word in words)


def _key(override: str) -> str:
    """The key an override sets: `+params.x=1` -> params.x, `~sweep` -> sweep."""
    return override.lstrip("+~").split("=", 1)[0]


def _sweeps(override: str) -> bool:
    """Whether an override makes (or changes) a sweep: `sweep.grid.params.lr=[...]`, `~sweep`."""
    key = _key(override)
    return key == "sweep" or key.startswith("sweep.")


def _config_sweeps(manifest: Manifest) -> bool:
    """Whether the run's config file defines a sweep (a member submitted again alone then needs
    `sweep=null`): the file as it is in the checkout, else as the run's snapshot holds it; False when
    neither can be read (the command needs the file all the same)."""
    candidates = [Path(manifest.git.root) / manifest.config_file] if manifest.git.root else []
    if manifest.snapshot.path:
        candidates.append(Path(manifest.snapshot.path) / manifest.config_file)
    for path in candidates:
        try:
            data = load_yaml(path)  # (as submit reads a config file)
        except ClusterrunError:
            continue
        return bool(data.get("sweep"))
    return False


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
