"""Cluster profiles (configs/clusters/<name>.yaml): a site's partition, account, defaults, setup lines,
prices, array limits and the thresholds above which submission asks for confirmation."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from clusterrun.config.overrides import copy_data
from clusterrun.config.sections import FrozenModel, Resources
from clusterrun.errors import ConfigError, UsageError

PROFILES_ENV = "CLUSTERRUN_CLUSTERS_DIR"


class Prices(FrozenModel):
    cpu_hour: float = Field(0.0, ge=0)
    gpu_hour: float = Field(0.0, ge=0)
    currency: str = ""


class ConfirmAbove(FrozenModel):
    """Ask before submitting when the estimate exceeds any of these (per submission, sweeps summed)."""

    wall_minutes: float = Field(10.0, ge=0)  # expected wall time of one run
    cpu_hours: float = Field(10.0, ge=0)
    gpu_hours: float = Field(1.0, ge=0)
    cost: float | None = Field(None, ge=0)


class ClusterProfile(FrozenModel):
    name: str
    description: str = ""
    resources: dict[str, Any] = Field(default_factory=dict)  # defaults under the experiment's own
    setup: list[str] = Field(default_factory=list)  # runs before the experiment's setup lines
    prices: Prices = Field(default_factory=Prices)
    max_array_size: int | None = Field(None, ge=1)  # overrides the cluster's MaxArraySize
    confirm_above: ConfirmAbove = Field(default_factory=ConfirmAbove)


#: No profile: every default. Made without validation (the defaults are valid as they are): validating
#: it at import built the models' schemas, about 15 ms of every command that plans a run.
DEFAULT = ClusterProfile.model_construct(
    name="default", prices=Prices.model_construct(), confirm_above=ConfirmAbove.model_construct()
)


def search_dirs(config_path: Path | None, cwd: Path) -> list[Path]:
    dirs = []
    if os.environ.get(PROFILES_ENV):
        dirs.append(Path(os.environ[PROFILES_ENV]))
    dirs.append(cwd / "configs" / "clusters")
    if config_path is not None:
        dirs += [config_path.parent / "clusters", config_path.parent.parent / "clusters"]
    top = next((d for d in (cwd, *cwd.parents) if (d / ".git").exists()), None)
    if top is not None:  # a project in a folder of a monorepo: the site's profiles at the top serve it too
        dirs.append(top / "configs" / "clusters")
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def available(dirs: list[Path]) -> list[str]:
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})


def load_profile(name: str, dirs: list[Path]) -> ClusterProfile:
    from clusterrun.config.yaml12 import load_yaml  # here: `status` imports this module, reads no YAML

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise UsageError(f"{name!r} is not a cluster profile name", hint="use the file name without .yaml")
    for directory in dirs:
        path = directory / f"{name}.yaml"
        if path.is_file():
            data = load_yaml(path)
            data.setdefault("name", name)
            try:
                profile = ClusterProfile.model_validate(data)
                Resources.model_validate(profile.resources)  # refuse a bad default early, naming the file
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"{path}: {loc}: {first['msg'].removeprefix('Value error, ')}",
                    hint="valid keys: " + ", ".join(ClusterProfile.model_fields),
                ) from None
            return profile
    known = available(dirs)
    raise UsageError(
        f"no cluster profile {name!r} (looked in {', '.join(str(d) for d in dirs)})",
        hint=f"available: {', '.join(known)}" if known else "create configs/clusters/<name>.yaml",
    )


def apply_profile(data: dict[str, Any], profile: ClusterProfile) -> dict[str, Any]:
    """The experiment's raw config with the profile's defaults under it (explicit values win)."""
    result = copy_data(data)
    own = result.get("resources") or {}
    if not isinstance(own, dict):
        return result  # validation will name the problem
    result["resources"] = {**profile.resources, **own}
    if profile.setup:
        result["setup"] = [*profile.setup, *(result.get("setup") or [])]
    result["cluster"] = profile.name if profile is not DEFAULT else result.get("cluster")
    return result
