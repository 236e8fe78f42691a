"""Load an experiment in ONE pass: config file + overrides + cluster profile + sweep axes -> members.

The pass, in order (each step a helper below this module; none of them calls back up):
  1. yaml12.load_yaml         the file, a mapping of raw data
  2. overrides.apply_overrides the command line's KEY=VALUE on the raw data
  3. profiles                 the cluster profile (--cluster, else the config's `cluster:`), defaults under it
  4. models.spec_from_data    validate: the base spec, sweep section included
  5. sweep.expand             the members' values (config axes x --sweep axes)
  6. sweep.apply_values       each member's raw data, validated into its own spec
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config import profiles
from clusterrun.config.alike import share_model
from clusterrun.config.models import ExperimentSpec, canonical_json, spec_from_data
from clusterrun.config.overrides import apply_overrides
from clusterrun.config.placeholders import used_placeholders
from clusterrun.config.render import render_command, render_config_file_values, render_env
from clusterrun.config.sections import Sweep
from clusterrun.config.sweep import Values, apply_values, describe, expand
from clusterrun.config.yaml12 import load_yaml
from clusterrun.errors import ConfigError, UsageError


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
    source = _source(path, overrides)
    raw = _raw(path, overrides)  # 1-2
    name = cluster or raw.get("cluster")  # 3
    profile = profiles.DEFAULT
    if name:
        profile = profiles.load_profile(str(name), profiles.search_dirs(path, cwd or Path.cwd()))
        raw = profiles.apply_profile(raw, profile)
    base = spec_from_data(raw, source)  # 4
    values_list = expand(base.sweep, list(cli_axes))  # 5 (its size is checked before it is built)
    single: dict[str, Any] = {k: v for k, v in raw.items() if k != "sweep"}  # 6
    members: list[Member] = []
    for index, values in enumerate(values_list):
        where = f"{source} (sweep member {index}: {describe(values)})" if values else source
        spec = spec_from_data(apply_values(single, values), where)
        if members:  # what it has alike with the member before, held once (config/alike.py)
            share_model(spec, members[-1].spec)
        members.append(Member(index, values, spec))
    axes = list(values_list[0]) if values_list and values_list[0] else []
    return Experiment(base, profile, base.sweep, members, axes)


def load_spec(path: Path, overrides: Sequence[str] = ()) -> ExperimentSpec:
    """Steps 1, 2 and 4 alone: a config file with overrides, validated as written (no cluster profile, no
    sweep expansion); for notebooks and tests. Every failure is a ConfigError/UsageError."""
    return spec_from_data(_raw(path, overrides), _source(path, overrides))


def _raw(path: Path, overrides: Sequence[str]) -> dict[str, Any]:
    data = load_yaml(path)
    _not_a_config(path, data)
    return apply_overrides(data, overrides, str(path), ExperimentSpec)


def _not_a_config(path: Path, data: dict[str, Any]) -> None:
    """Refuse a file that is not a clusterrun config at all (no command, none of its keys ours): the
    project's own settings in its configs/ (`model: ...`, `optim: ...`), named instead of the config
    that hands it to the script; say which does."""
    if not isinstance(data, dict) or not data or "command" in data or "name" in data:
        return
    if not set(data) - set(ExperimentSpec.model_fields):  # only our keys: a config missing its command
        return
    users = []
    for sibling in sorted(path.parent.glob("*.y*ml")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = sibling.read_text(encoding="utf-8")
            if sibling != path and "config_file" in text and path.name in text:
                users.append(sibling)
    shown = ", ".join(sorted(str(k) for k in data)[:5])
    hint = (
        f"submit the config that gives it to the script: clusterrun submit {users[0].parent / users[0].name}"
        if users
        else "a clusterrun config says what to run (command:); to give this file to your script with "
        "each run's params in it, use config_file (clusterrun init writes one)"
    )
    raise ConfigError(
        f"{path} is not a clusterrun config: it has no command, and its keys ({shown}) are not a config's "
        "(it looks like the project's own settings)",
        hint=hint,
    )


def _source(path: Path, overrides: Sequence[str]) -> str:
    return str(path) + (" (with overrides)" if overrides else "")


def check_members_differ(members: Sequence[Member]) -> list[str]:
    """Refuse a sweep whose members would run the same command with the same environment (and
    resources), naming the axis that changes nothing; members that differ only in their seed, which
    the command does not use, are a warning (the job may read CLUSTERRUN_SEED). Returns the warnings."""
    seen: dict[str, Member] = {}
    warnings: list[str] = []
    for member in members:
        spec = member.spec
        run_dir = "<run_dir>"  # every member gets its own; the same stand-in for all compares the rest
        rendered = [
            render_command(spec, run_dir),
            render_env(spec, run_dir),
            spec.resolved()["resources"],
            render_config_file_values(spec, run_dir),
        ]
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
    used = used_placeholders(spec.command, spec.passed_texts())
    if head == "params" and name not in used:
        return f"{axis} is not used by the command or env"
    if head == "data" and axis not in used:
        return f"{axis} is not used by the command or env"
    if head in ("params", "data"):
        return f"{axis} values {one!r} and {other!r} render the same"
    return f"{axis} does not change the command or env"
