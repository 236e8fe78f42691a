"""Run by the job's own interpreter after its setup lines: which Python the command really runs.

`python envprobe.py OUT` writes OUT (JSON): the interpreter's path, version and installed packages, and
the GPUs nvidia-smi sees. Standard library only, and no clusterrun import: the job's interpreter is the
user's (a venv, a conda env, a module), not clusterrun's.
"""

import json
import os
import platform
import subprocess
import sys
from typing import Any

#: The record it writes in the run directory (command.sh names it; the job's wrapper knows it by that).
RECORD = "python_env.json"


def packages() -> "dict[str, Any]":
    """Every installed distribution's name (lower case) and version, as `importlib.metadata` knows them.

    Read from the head of each METADATA file (the fields come before the description) rather than
    through `Distribution.metadata`, whose e-mail parser reads the whole file, twice with `.version`:
    the same answer in about a twentieth of the time (env.json is written at every submit)."""
    try:
        import importlib.metadata as metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return {}
    found = {}  # type: dict[str, Any]  # a version is None when a distribution has none, as with dist.version
    for dist in metadata.distributions():
        name, version = _name_version(_header(dist))
        if name:
            found[name.lower()] = version
    return dict(sorted(found.items()))


def _header(dist: Any) -> str:
    """The head of a distribution's METADATA (else PKG-INFO): up to its first blank line, where the
    fields end. From a directory on disk only about that much is read (a METADATA file is mostly its
    description: here 0.7 MB read for 166 distributions instead of 1.6 MB); otherwise, or when the file
    cannot be read so, the whole text as `read_text` gives it."""
    path = getattr(dist, "_path", None)  # importlib.metadata.PathDistribution's directory
    if isinstance(path, (os.PathLike, str)):
        for name in ("METADATA", "PKG-INFO"):
            try:
                with open(os.path.join(os.fspath(path), name), "rb") as handle:
                    data = handle.read(4096)
                    while data and b"\n\n" not in data and b"\n\r\n" not in data:
                        more = handle.read(16384)
                        if not more:
                            break
                        data += more
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
                continue
            if data:  # an empty one counts as none, as `read_text(...) or` has it
                return data.decode("utf-8", "replace")
    return dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""


def _name_version(text: str) -> "tuple[str | None, str | None]":
    """The first Name and Version fields of a metadata file's header (it ends at the first blank line)."""
    name = version = None
    for line in text.splitlines():
        if not line:
            break
        if name is None and line[:5].lower() == "name:":
            name = line[5:].strip() or None
        elif version is None and line[:8].lower() == "version:":
            version = line[8:].strip()
        if name is not None and version is not None:
            break
    return name, version


def _gpus() -> list[str]:
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def probe() -> dict[str, Any]:
    return {
        "python": {
            "executable": sys.executable,
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "prefix": sys.prefix,
            "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        },
        "packages": packages(),
        "gpus": _gpus(),
    }


def main(argv: list[str]) -> int:
    out = argv[0]
    tmp = f"{out}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        json.dump(probe(), handle, sort_keys=True, indent=2)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
