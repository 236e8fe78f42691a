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


def _packages() -> dict[str, str]:
    try:
        import importlib.metadata as metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return {}
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found[str(name).lower()] = dist.version
    return dict(sorted(found.items()))


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
        "packages": _packages(),
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
