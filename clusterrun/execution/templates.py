"""Jinja2 templates for the scripts clusterrun writes (templates/ at the top of the project)."""

from __future__ import annotations

import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2


def template_dir() -> Path:
    """Installed wheels carry clusterrun/templates; a source checkout uses ./templates."""
    package = Path(__file__).resolve().parents[1]  # clusterrun/
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("clusterrun's templates/ directory is missing from the installation")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # shell scripts, not HTML: every value goes through the `q` filter instead
    )
    env.filters["q"] = lambda value: shlex.quote(str(value))
    env.filters["qjoin"] = lambda values: " ".join(shlex.quote(str(v)) for v in values)
    return env


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)
