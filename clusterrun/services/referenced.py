"""Files a differing param names: two runs whose `params.config_path` differ (conf/base.yaml vs
conf/big.yaml) differ by what those files hold, which the config table alone does not show. For each
config difference whose two values are relative paths of small text files in the runs' snapshots (the
code they ran, never changed after), the lines that differ, as a unified diff."""

from __future__ import annotations

import difflib
from pathlib import Path, PurePosixPath
from typing import Any

from clusterrun.records.paths import SNAPSHOT_STORE, OutsideRegistry, inside, read_text

MAX_BYTES = 64 * 1024  # a config file, not a dataset
MAX_LINES = 20  # of the diff shown per file


def _read(root: str | None, value: Any, store: Path) -> list[str] | None:
    """The lines of `value`, a relative path inside the snapshot `root`, when it is a small text file;
    never a file outside the registry's snapshot store, whatever the record or a symlink says."""
    if not root or not isinstance(value, str) or not value or "\n" in value:
        return None
    relative = PurePosixPath(value)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    try:
        path = inside(Path(root) / relative, store, "a param's file", "the snapshot store")
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return read_text(path).splitlines()
    except (OSError, OutsideRegistry):
        return None


def referenced_files(
    config: list[tuple[str, Any, Any]], snapshot_a: str | None, snapshot_b: str | None, registry_root: Path
) -> list[dict[str, Any]]:
    """[{key, a, b, diff: [lines], more: n}] for each config difference naming two files that differ."""
    store = registry_root / SNAPSHOT_STORE
    found: list[dict[str, Any]] = []
    for key, a, b in config:
        if not key.startswith(("params.", "data.")):
            continue
        lines_a, lines_b = _read(snapshot_a, a, store), _read(snapshot_b, b, store)
        if lines_a is None or lines_b is None or lines_a == lines_b:
            continue
        # the two header lines are dropped by position: a removed line '-- x' reads '--- x' in the diff
        diff = [
            line
            for line in list(difflib.unified_diff(lines_a, lines_b, n=0, lineterm=""))[2:]
            if not line.startswith("@@ ")
        ]
        found.append(
            {"key": key, "a": a, "b": b, "diff": diff[:MAX_LINES], "more": max(0, len(diff) - MAX_LINES)}
        )
    return found
