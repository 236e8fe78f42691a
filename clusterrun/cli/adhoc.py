"""What `submit` submits: a config file (with overrides), or the command after `--` made into one
(services/adhoc.py); the resource and smoke flags as overrides of either."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from clusterrun.cli.base import COMMAND_KEY
from clusterrun.cli.common import info
from clusterrun.errors import UsageError
from clusterrun.records.registry import Registry


@dataclass
class Flags:
    """submit's flags that say what to run (rather than how to submit it)."""

    name: str | None = None
    time: str | None = None
    mem: str | None = None
    gpus: str | None = None
    cpus: int | None = None
    partition: str | None = None
    smoke: list[str] = field(default_factory=list)
    smoke_args: str | None = None
    smoke_timeout: int | None = None
    save: Path | None = None

    def resources(self) -> dict[str, str | int]:
        given = {
            "time": self.time,
            "mem": self.mem,
            "gpus": self.gpus,
            "cpus_per_task": self.cpus,
            "partition": self.partition,
        }
        return {key: value for key, value in given.items() if value is not None}

    def overrides(self) -> list[str]:
        """The flags as overrides of a config file."""
        out = [f"resources.{key}={value}" for key, value in self.resources().items()]
        if self.name is not None:
            out.append(f"name={self.name}")
        for item in (part.strip() for text in self.smoke for part in text.split(",")):
            if item:
                key, _, value = item.partition("=")
                out.append(f"smoke.params.{key.strip().removeprefix('params.')}={value.strip()}")
        if self.smoke_args is not None:
            raise UsageError(
                "--smoke-args is for a command given after --",
                hint="with a config file, set smoke.command in it (or smoke.params)",
            )
        if self.smoke_timeout is not None:
            out.append(f"smoke.timeout={self.smoke_timeout}")
        return out


def what_to_submit(
    ctx: typer.Context,
    config: Path | None,
    overrides: list[str],
    flags: Flags,
    cluster: str | None,
    registry: Registry,
) -> tuple[Path, list[str], str | None]:
    """(config file, overrides, cluster) to submit: the file given, or the config written for the command
    after `--` (its notes said on stderr)."""
    command = ctx.meta.get(COMMAND_KEY)
    if command is None:
        if config is None:
            raise UsageError(
                "give a config file, or a command after --",
                hint="e.g. clusterrun submit configs/examples/quickstart.yaml, or "
                "clusterrun submit -- python train.py --lr 0.1",
            )
        if flags.save is not None:
            raise UsageError(
                "--save writes the config of a command given after --",
                hint=f"{config} is already a config file",
            )
        if not config.exists() and config.suffix not in (".yaml", ".yml", ".json"):
            raise UsageError(
                f"no config file {config}",
                hint=f"to run a command without a config: clusterrun submit -- {config} ...",
            )
        return config, [*overrides, *flags.overrides()], cluster
    if config is not None and config.suffix in (".yaml", ".yml", ".json") and config.is_file():
        raise UsageError(
            f"both a config file ({config}) and a command after -- were given", hint="give one of them"
        )
    from clusterrun.services.adhoc import AdhocRequest, make

    request = AdhocRequest(
        argv=list(command),
        name=flags.name,
        smoke=flags.smoke,
        smoke_args=flags.smoke_args,
        smoke_timeout=flags.smoke_timeout,
        resources=flags.resources(),
        cluster=cluster,
        overrides=[str(config), *overrides] if config is not None else list(overrides),
        save=flags.save,
        cwd=Path.cwd(),
    )
    made = make(request, registry)
    for note in made.notes:
        info(f"note: {note}")
    return made.path, [], None
