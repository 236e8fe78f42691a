"""Render a spec into what the job runs: its argv and its environment, placeholders filled in."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from clusterrun.config.models import ExperimentSpec


def _values(spec: ExperimentSpec, run_dir: str, smoke: bool) -> dict[str, Any]:
    values: dict[str, Any] = dict(spec.params)
    if smoke:
        values.update(spec.smoke.params)
    values["seed"] = spec.seed
    values["run_dir"] = run_dir
    values.update({f"data.{k}": v for k, v in spec.data.items()})
    return values


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
