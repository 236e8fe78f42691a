"""The user's own cache directory ($XDG_CACHE_HOME/clusterrun, else ~/.cache/clusterrun): what one user's
processes keep for each other (compiled templates, execution/templates.py; folds of big metrics files,
analysis/metric_fold.py). Never the run registry's `.cache`, which a lab may share. A directory is used
only when it is private (0700, this user's): anything else there could have been put by someone else."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def base() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "clusterrun"


def private_dir(name: str) -> Path | None:
    """base()/name, made when missing; None when it cannot be made or is not this user's alone."""
    try:
        directory = base() / name
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        found = directory.lstat()
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    uid = os.getuid() if hasattr(os, "getuid") else found.st_uid
    if found.st_uid != uid or found.st_mode & 0o077 or not stat.S_ISDIR(found.st_mode):
        return None
    return directory
