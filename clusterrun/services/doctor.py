"""Is this machine ready to run experiments? A list of checks, each with a verdict and a concrete fix.

`run_checks` returns data and never prints; `clusterrun doctor` (cli/doctor.py) shows it. A check that
fails blocks submission; a warning does not. The generic rows (git, Python, disk) are here; the rest
come from the chosen backend (`Scheduler.checks()`), so a new backend brings its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clusterrun.errors import GitError
from clusterrun.inputs import gitstate
from clusterrun.records import perms
from clusterrun.scheduler import AUTO, Check, choose, registered, scheduler_named
from clusterrun.scheduler.base import CheckStatus as Status
from clusterrun.scheduler.environment import check_allocation

__all__ = ["Check", "DoctorReport", "Status", "check_disk", "check_git", "check_python", "run_checks"]

GIB = 1024**3
DISK_FAIL_BYTES = 1 * GIB
DISK_WARN_BYTES = 10 * GIB
MIN_PYTHON = (3, 10)

# Indirections so tests can replace the machine (monkeypatch these, not the stdlib).
_disk_usage: Callable[[Path], Any] = shutil.disk_usage


@dataclass
class DoctorReport:
    backend: str  # the backend submit --backend <requested> would use
    checks: list[Check]

    @property
    def blocking(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_record(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "blocking": self.blocking,
            "checks": [asdict(c) for c in self.checks],
        }


def _shown(names: tuple[str, ...] | list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


# --- generic checks --------------------------------------------------------------------------------


def check_git(cwd: Path) -> Check:
    try:
        state = gitstate.capture(cwd)
    except GitError as exc:
        return Check("git", "fail", exc.message, exc.hint)
    where = f"{state.root} at {state.commit[:10]} on {state.branch}"
    data = {"root": state.root, "commit": state.commit, "branch": state.branch}
    if state.dirty:
        return Check(
            "git",
            "warn",
            f"uncommitted changes in {len(state.dirty_files)} file(s): {_shown(state.dirty_files)} ({where})",
            "commit them (git commit -am '...'), or submit with --allow-dirty to record them as a patch",
            {**data, "dirty_files": list(state.dirty_files)},
        )
    if state.untracked_files:
        return Check(
            "git",
            "warn",
            f"{len(state.untracked_files)} untracked file(s) are NOT in run snapshots: "
            f"{_shown(state.untracked_files)} ({where})",
            "git add and commit the ones a job needs; list the others in .gitignore",
            {**data, "untracked_files": list(state.untracked_files)},
        )
    return Check("git", "ok", f"clean: {where}", "", data)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    data: dict[str, Any] = {"version": version, "executable": sys.executable}
    if sys.version_info[:2] < MIN_PYTHON:
        return Check(
            "python",
            "fail",
            f"Python {version} at {sys.executable}; clusterrun needs >= 3.10",
            "create an environment with Python >= 3.10 and install clusterrun there",
            data,
        )
    env = os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")
    if not env and sys.prefix != sys.base_prefix:
        env = sys.prefix
    shared = "jobs on other nodes run this same interpreter, so it must be on a filesystem they share"
    if env:
        data["environment"] = env
        return Check(
            "python", "ok", f"Python {version} at {sys.executable} (environment {env}); {shared}", "", data
        )
    return Check(
        "python",
        "warn",
        f"Python {version} at {sys.executable}, no virtual or conda environment active; {shared}",
        "create one on a shared filesystem and activate it before submitting: "
        "python -m venv /shared/path/venv && . /shared/path/venv/bin/activate && pip install -e .",
        data,
    )


def check_disk(registry_root: Path) -> Check:
    probe = registry_root.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fix_elsewhere = "free space there, or put the registry elsewhere: --runs-dir DIR (or CLUSTERRUN_RUNS_DIR)"
    try:
        free = int(_disk_usage(probe).free)
    except OSError as exc:
        return Check("disk", "fail", f"cannot read free space of {probe}: {exc}", fix_elsewhere)
    data = {"path": str(probe), "registry": str(registry_root), "free_bytes": free}
    detail = f"{free / GIB:.1f} GiB free at {probe} (runs and snapshots go to {registry_root.absolute()})"
    if not os.access(probe, os.W_OK):
        return Check(
            "disk", "fail", f"{probe} is not writable ({detail})", "choose a writable --runs-dir DIR", data
        )
    if free < DISK_FAIL_BYTES:
        return Check("disk", "fail", f"{detail}: less than 1 GiB", fix_elsewhere, data)
    if free < DISK_WARN_BYTES:
        return Check("disk", "warn", f"{detail}: less than 10 GiB", fix_elsewhere, data)
    return Check("disk", "ok", detail, "", data)


def check_registry(registry_root: Path) -> Check:
    """Who may read the registry (records/perms.py): private, group-shared, or open to others."""
    root = registry_root.absolute()
    detail = perms.describe(root)
    data = {"registry": str(root), "shared": perms.is_shared(root)}
    if " readable by others" in detail:
        return Check(
            "registry",
            "warn",
            f"{detail}: anyone who can reach it reads your runs' code, configs and logs",
            f"chmod 700 {root} (or, for a registry your group shares: chgrp GROUP {root} && chmod 2770 "
            f"{root}, or {perms.SHARED_ENV}=group)",
            data,
        )
    return Check("registry", "ok", detail, "", data)


def backend_checks(requested: str) -> tuple[str, list[Check]]:
    """The backend `requested` stands for, and its rows: a skipped row for each backend ranked before
    it (auto tried it and its probe said no, or another was asked for), then the chosen one's checks."""
    chosen, passed_over = choose(requested)
    if requested == AUTO:
        rows = [
            Check(b.name, "skip", f"{b.missing or 'not available'}: {chosen} backend will be used")
            for b in passed_over
        ]
    else:
        ranked = [b.name for b in registered()]
        rows = [
            Check(name, "skip", f"--backend {chosen}: {name} is not used")
            for name in ranked[: ranked.index(chosen)]
        ]
    return chosen, rows + scheduler_named(chosen).checks()


def run_checks(cwd: Path, registry_root: Path, backend: str = AUTO) -> DoctorReport:
    """Every check, in the order a user would fix them; raises UsageError only for an unknown backend."""
    chosen, rows = backend_checks(backend)
    generic = [check_git(cwd), check_python(), check_disk(registry_root), check_registry(registry_root)]
    return DoctorReport(chosen, [*generic, check_allocation(os.environ), *rows])
