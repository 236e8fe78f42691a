"""A PATH shim around sbatch for fault tests: runs commands before and after the real sbatch.

The shim runs $SHIM_BEFORE (a shell command; a non-zero exit ends the shim with that exit code, sbatch
not run), then the real sbatch (exec'd when there is nothing to run after it), prints its answer, then
runs $SHIM_AFTER with $PPID the clusterrun process that called it (e.g. `kill -9 $PPID`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

SHIM = """#!/bin/bash
if [ -n "$SHIM_BEFORE" ]; then
    eval "$SHIM_BEFORE" || exit $?
fi
if [ -z "$SHIM_AFTER" ]; then
    exec {real} "$@"
fi
out=$({real} "$@")
rc=$?
printf '%s\\n' "$out"
eval "$SHIM_AFTER"
exit $rc
"""


def install(directory: Path) -> Path:
    """Write the shim as `directory/sbatch`; the directory, to put first on PATH."""
    real = shutil.which("sbatch")
    assert real, "sbatch is not installed"
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "sbatch"
    shim.write_text(SHIM.format(real=real))
    shim.chmod(0o755)
    return directory


def fail_after(count_file: Path, calls: int) -> str:
    """A SHIM_BEFORE that lets `calls` sbatch calls through, then refuses every later one as sbatch does."""
    return (
        f"n=$(cat {count_file} 2>/dev/null || echo 0); echo $((n+1)) > {count_file}; "
        f'if [ "$n" -ge {calls} ]; then echo "sbatch: error: Batch job submission failed: '
        'Invalid account or account/partition combination specified" >&2; exit 1; fi'
    )
