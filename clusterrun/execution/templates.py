"""Jinja2 templates for the scripts clusterrun writes (templates/ at the top of the project).

Compiled templates are kept between processes in the user's own cache directory
($XDG_CACHE_HOME/clusterrun/jinja2, else ~/.cache/clusterrun/jinja2): compiling command.sh.j2 took
about 15 ms of every submit. Jinja2 keys each entry by the template's name and checks its source's
checksum and the Python version, writes it atomically, and any entry that cannot be read is compiled
again. Never in the run registry: a registry may be shared, and a compiled template is code; the cache
directory is used only when it is private (0700, this user's).
"""

from __future__ import annotations

import contextlib
import shlex
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterrun import usercache

if TYPE_CHECKING:
    import jinja2


def template_dir() -> Path:
    """Installed wheels carry clusterrun/templates; a source checkout uses ./templates."""
    package = Path(__file__).resolve().parents[1]  # clusterrun/
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("clusterrun's templates/ directory is missing from the installation")


def cache_dir() -> Path:
    return usercache.base() / "jinja2"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The compiled templates' cache, or None (templates are compiled each time) when its directory
    cannot be made or is not this user's alone."""
    import jinja2

    directory = usercache.private_dir("jinja2")
    if directory is None:
        return None

    class Cache(jinja2.FileSystemBytecodeCache):
        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a damaged entry: compiled again (and rewritten)
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            with contextlib.suppress(OSError):  # a full or read-only home: the next run compiles again
                super().dump_bytecode(bucket)

    return Cache(str(directory))


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2  # here, not at the top: a job's wrapper imports the backends but renders nothing

    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
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
