"""Doctor rows the built-in backends share (submitit, GPUs), and the machine they look at.

Tests replace the machine by monkeypatching `_which` and `_local_gpus` here (not the stdlib).
"""

from __future__ import annotations

import importlib.metadata
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from clusterrun.errors import SchedulerError
from clusterrun.execution.gpus import gpus
from clusterrun.scheduler.base import Check

_which: Callable[[str], str | None] = shutil.which
_local_gpus: Callable[[], list[str]] = gpus


def which(command: str) -> str | None:
    """Where `command` is on PATH (through the indirection tests replace)."""
    return _which(command)


def shown(names: Sequence[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def check_submitit(needs: str | None = None, why: str = "", fix: str = "") -> Check:
    """submitit is installed, and the command its job scripts start the job with (`needs`) is on PATH."""
    try:
        version = importlib.metadata.version("submitit")
    except importlib.metadata.PackageNotFoundError:
        return Check("submitit", "fail", "submitit is not installed", "pip install 'submitit>=1.5'")
    if needs and which(needs) is None:
        return Check(
            "submitit",
            "fail",
            f"submitit {version}, but '{needs}' is not on PATH ({why})",
            fix,
            {"version": version},
        )
    where = f", {needs} at {which(needs)}" if needs else ""
    return Check("submitit", "ok", f"submitit {version}{where}", "", {"version": version})


def check_gpus(scheduler_view: tuple[str, dict[str, Any]] | None = None) -> Check:
    """GPUs on this machine, after what the scheduler reports (its line first, its numbers merged)."""
    local = _local_gpus()
    here = f"this machine: {'; '.join(local)}" if local else "this machine: none (no nvidia-smi or no GPU)"
    data: dict[str, Any] = {"local": local}
    parts = [here]
    if scheduler_view is not None:
        line, numbers = scheduler_view
        parts.insert(0, line)
        data.update(numbers)
    return Check("gpus", "ok", "; ".join(parts), "", data)


def guard(name: str, check: Callable[[], Check]) -> Check:
    """A scheduler that does not answer inside a check becomes a failed row, never an exception."""
    try:
        return check()
    except SchedulerError as exc:
        return Check(name, "fail", exc.message, exc.hint)
