"""Load an experiment: config file + cluster profile + overrides + sweep axes -> validated members."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config import profiles
from clusterrun.config.spec import (
    ExperimentSpec,
    Sweep,
    apply_overrides,
    canonical_json,
    load_yaml,
    render_command,
    render_env,
    set_path,
    spec_from_data,
    used_placeholders,
)
from clusterrun.config.sweep import Values, describe, expand
from clusterrun.errors import UsageError

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


def check_members_differ(members: Sequence[Member]) -> list[str]:
    """Refuse a sweep whose members would run the same command with the same environment (and
    resources), naming the axis that changes nothing; members that differ only in their seed, which
    the command does not use, are a warning (the job may read CLUSTERRUN_SEED). Returns the warnings."""
    seen: dict[str, Member] = {}
    warnings: list[str] = []
    for member in members:
        spec = member.spec
        run_dir = "<run_dir>"  # every member gets its own; the same stand-in for all compares the rest
        rendered = [render_command(spec, run_dir), render_env(spec, run_dir), spec.resolved()["resources"]]
        first = seen.setdefault(canonical_json([*rendered, spec.setup]), member)
        differing = [
            axis
            for axis in member.values
            if canonical_json(first.values.get(axis)) != canonical_json(member.values.get(axis))
        ]
        useless = [axis for axis in differing if axis != "seed"]
        if useless:
            reasons = "; ".join(
                _why_the_same(spec, axis, first.values[axis], member.values[axis]) for axis in useless
            )
            raise UsageError(
                f"sweep members {first.index} and {member.index} run the same command with the same "
                f"environment: {reasons}",
                hint="drop that axis, or pass the value on: {name} in the command, or an env entry "
                "such as NAME: '{name}' that your script reads",
            )
        if differing and not warnings:
            warnings.append(
                "sweep members differ only in CLUSTERRUN_SEED; make sure your script reads it, "
                "or add {seed} to the command"
            )
    return warnings


def _why_the_same(spec: ExperimentSpec, axis: str, one: Any, other: Any) -> str:
    head, _, name = axis.partition(".")
    used = used_placeholders(spec.command, spec.env)
    if head == "params" and name not in used:
        return f"{axis} is not used by the command or env"
    if head == "data" and axis not in used:
        return f"{axis} is not used by the command or env"
    if head in ("params", "data"):
        return f"{axis} values {one!r} and {other!r} render the same"
    return f"{axis} does not change the command or env"


def _with_values(data: dict[str, Any], values: Values) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for key, value in values.items():
        set_path(result, key.split("."), value, adds=False, what=f"sweep axis {key!r}")
    return result
