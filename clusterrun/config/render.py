"""Render a spec into what the job runs: its argv and its environment, placeholders filled in."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterrun.config.models import ExperimentSpec
from clusterrun.config.placeholders import CONFIG_FILE_DIR


def _values(spec: ExperimentSpec, run_dir: str, smoke: bool) -> dict[str, Any]:
    values: dict[str, Any] = dict(spec.params)
    if smoke:
        values.update(spec.smoke.params)
    values["seed"] = spec.seed
    values["run_dir"] = run_dir
    values.update({f"data.{k}": v for k, v in spec.data.items()})
    if spec.config_file is not None:
        values["config_file"] = config_file_path(spec, run_dir)
    return values


def config_file_path(spec: ExperimentSpec, run_dir: str) -> str:
    """Where the run's copy of its config_file is: <run_dir>/config_file/<its own name> (a script may
    name its outputs after the file's name, so the name is kept)."""
    assert spec.config_file is not None
    return str(Path(run_dir) / CONFIG_FILE_DIR / Path(spec.config_file.path).name)


def render_config_file_values(spec: ExperimentSpec, run_dir: str, smoke: bool = False) -> dict[str, Any]:
    """config_file.set with its placeholders filled in: a value that is one placeholder alone (`{lr}`)
    keeps the param's type (a float stays a float in the file), any other text is filled in as text."""
    if spec.config_file is None:
        return {}
    values = _values(spec, run_dir, smoke)
    out: dict[str, Any] = {}
    for key, value in spec.config_file.set.items():
        if isinstance(value, str):
            parsed = list(string.Formatter().parse(value))
            if len(parsed) == 1 and not parsed[0][0] and parsed[0][1] is not None:
                out[key] = values[parsed[0][1]]
                continue
            out[key] = _fill(value, values)
        else:
            out[key] = value
    return out


def render_command(spec: ExperimentSpec, run_dir: str, smoke: bool = False) -> list[str]:
    """The argv of the job (or of its smoke test: smoke.command when the config has one): each template
    token filled in, so every value stays one argument."""
    values = _values(spec, run_dir, smoke)
    template = spec.smoke.command if smoke and spec.smoke.command else spec.command
    return [_fill(token, values) for token in template]


def render_env(spec: ExperimentSpec, run_dir: str, smoke: bool = False) -> dict[str, str]:
    """The job's `env:` with {param} placeholders filled in as in the command (how a param is exported)."""
    values = _values(spec, run_dir, smoke)
    return {name: _fill(value, values) for name, value in spec.env.items()}


def _fill(token: str, values: Mapping[str, Any]) -> str:
    """Like str.format, but `{data.split}` is a name, not attribute access."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(token):
        out.append(literal)
        if field is not None:
            out.append(_fmt(values[field]))
    return "".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
