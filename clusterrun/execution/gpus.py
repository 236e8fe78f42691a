"""The GPUs of this machine, as nvidia-smi lists them (for env.json, job_env.json and doctor)."""

from __future__ import annotations

import shutil
import subprocess


def gpus() -> list[str]:
    """'name, memory, driver' per GPU; [] without nvidia-smi or when it fails."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]
