"""env.json: the software and machine a run was prepared on, with secrets redacted."""

from __future__ import annotations

import os
import platform
import socket
import sys
from collections.abc import Mapping
from typing import Any

from clusterrun.config import redact
from clusterrun.execution import envprobe
from clusterrun.execution.gpus import gpus as _gpus
from clusterrun.scheduler import job_variables

#: Variables worth recording when set. Secret names and values are redacted all the same (redact_env).
ALLOW = (
    "PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
    "CONDA_PREFIX",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "LD_LIBRARY_PATH",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
    "LANG",
    "LC_ALL",
    "USER",
    "HOME",
    "SHELL",
    "HOSTNAME",
    "TZ",
    "CUBLAS_WORKSPACE_CONFIG",
)
ALLOW_PREFIXES = ("SLURM_", "CLUSTERRUN_", "NCCL_", "TORCH_", "HF_", "WANDB_", "MLFLOW_")
REDACTED = redact.REDACTED


def redact_env(environ: Mapping[str, str], extra_names: tuple[str, ...] = ()) -> dict[str, str]:
    """Select allow-listed variables; a secret-named one (config/redact.py: HF_TOKEN, WANDB_API_KEY, but
    not TOKENIZERS_PARALLELISM) is redacted whole, and secrets inside any value (a URL's password, a
    token) are cut out of it: postgres://u:pw@h -> postgres://u:<redacted>@h."""
    out: dict[str, str] = {}
    for name, value in environ.items():
        if not (name in ALLOW or name in extra_names or name.startswith(ALLOW_PREFIXES)):
            continue
        out[name] = redact.redact_value(name, value)
    return dict(sorted(out.items()))


def platform_text() -> str:
    """`platform.platform()` without its fork: on Linux that runs `uname -p` (a subprocess) for the
    processor, which it then drops whenever it is 'unknown' (Debian) or the machine again (RHEL), as on
    every Linux we know of: the same text from os.uname and the C library's version, as every submit and
    every job start records it. Elsewhere, platform.platform() itself."""
    if sys.platform != "linux":
        return platform.platform()
    uname = os.uname()
    libc, version = platform.libc_ver()  # os.confstr: no subprocess
    text = "-".join(
        part.strip() for part in (uname.sysname, uname.release, uname.machine, "with", libc + version) if part
    )
    for obstacle in ' /\\:;"()':  # platform._platform's cleanup, as platform.platform() does it
        text = text.replace(obstacle, "_" if obstacle == " " else "-")
    text = text.replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


def packages() -> dict[str, Any]:
    """Installed distributions and their versions (read as the job's probe reads them: envprobe.py)."""
    return envprobe.packages()


def capture(extra_names: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform_text(),
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "gpus": _gpus(),
        "packages": packages(),
        "environment": redact_env(os.environ, extra_names),
    }


def job_side() -> dict[str, Any]:
    """Where a job actually runs (written by the job on its node): host, Python, GPUs, and the scheduler's
    view of the job (its variables, as its backend declares them)."""
    job_id, variables = job_variables(os.environ)
    return {
        "host": socket.gethostname(),
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform_text(),
        "gpus": _gpus(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "job_id": job_id,
        "slurm": variables,  # the scheduler's variables; the key keeps the name records always had
    }
