"""Load an experiment: config file + cluster profile + overrides + sweep axes -> validated members."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun import profiles
from clusterrun.config import ExperimentSpec, Sweep, apply_overrides, load_yaml, set_path, spec_from_data
from clusterrun.errors import UsageError
from clusterrun.sweep import Values, describe, expand

MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class Member:
    index: int
    values: Values  # the swept keys and their values for this member
    spec: ExperimentSpec  # fully resolved, without the sweep section


@dataclass
class Experiment:
    base: ExperimentSpec  # the config with overrides, sweep section included
    profile: profiles.ClusterProfile
    sweep: Sweep | None
    members: list[Member]
    sweep_axes: list[str] = field(default_factory=list)  # the swept keys, in order

    @property
    def is_sweep(self) -> bool:
        return bool(self.sweep_axes)


def load_experiment(
    path: Path,
    overrides: Sequence[str] = (),
    cli_axes: Sequence[str] = (),
    cluster: str | None = None,
    cwd: Path | None = None,
) -> Experiment:
    raw = apply_overrides(load_yaml(path), overrides)
    source = str(path) + (" (with overrides)" if overrides else "")
    name = cluster or raw.get("cluster")
    profile = profiles.DEFAULT
    if name:
        profile = profiles.load_profile(str(name), profiles.search_dirs(path, cwd or Path.cwd()))
        raw = profiles.apply_profile(raw, profile)
    base = spec_from_data(raw, source)
    values_list = expand(base.sweep, list(cli_axes))
    if len(values_list) > MAX_MEMBERS:
        raise UsageError(
            f"the sweep has {len(values_list)} members", hint=f"at most {MAX_MEMBERS} per submission"
        )
    members = []
    single: dict[str, Any] = {k: v for k, v in raw.items() if k != "sweep"}
    for index, values in enumerate(values_list):
        data = _with_values(single, values)
        where = f"{source} (sweep member {index}: {describe(values)})" if values else source
        members.append(Member(index, values, spec_from_data(data, where)))
    axes = list(values_list[0]) if values_list and values_list[0] else []
    return Experiment(base, profile, base.sweep, members, axes)


def _with_values(data: dict[str, Any], values: Values) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for key, value in values.items():
        set_path(result, key.split("."), value, adds=False, what=f"sweep axis {key!r}")
    return result
