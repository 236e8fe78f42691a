"""What the submitit-based backends (slurm, local) share: submitit's file names and job ids.

submitit decides the names in a job's folder (`<job>_<task>_log.out/.err`, `<job>_submitted.pkl`) and
how a job id reads (`123_4`, `123_[0-3%2]`). Both are spelled here, and only here, so that a poll or
a summary imports no submitit (about 50 ms of every `status`); tests/unit/test_scheduler_interface.py
checks them against submitit's public `JobPaths` and `read_job_id`, and fails when a submitit release
changes them. The one private submitit function clusterrun needs (rendering an sbatch script without
submitting it) is reached through `sbatch_text` only, and the same tests fail with a clear message when
submitit changes it.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clusterrun.errors import SchedulerError

#: The submitit releases whose private `_make_sbatch_string` clusterrun was written against
#: (pyproject.toml pins the same range).
SUBMITIT_RANGE = ">=1.5,<1.6"
_TASK = "7777777"  # a task number no real job has, found and replaced in a name
_MARK = "JOBID"  # a job id without '_': JobPaths formats it into a file name as it would a real one


#: submitit.slurm.slurm.read_job_id's pattern of a pending array's id ('123_[0-3%2]')
_PENDING_ARRAY = re.compile(r"(?P<main_id>\d+)_\[(?P<arrays>(\d+(-\d+)?(,)?)+)(\%\d+)?\]")


def array_of(job_id: str) -> str:
    """The submission a job belongs to: '123_4' -> '123', '123_[0-3%2]' -> '123', '4242' -> '4242'.

    What submitit's own parser (`read_job_id`) reads as the main id, read here as it reads it, so that a
    poll (which asks this of every job) does not import submitit (~50 ms of every `status` of a running
    job); tests/unit/test_scheduler_interface.py checks it against read_job_id. An id it cannot read is
    its own submission."""
    pending = _PENDING_ARRAY.search(job_id)
    if pending is not None:
        return pending.group("main_id")
    main, underscore, task = job_id.partition("_")
    if not underscore:
        return main
    try:
        int(task)
    except ValueError:
        return job_id
    return main


#: submitit's file names in a job's folder (its JobPaths, submitit 1.5: SUBMITIT_RANGE), with _MARK for
#: the job id and _TASK for the task: spelled here so that reading a finished job's logs (every summary
#: collected) imports no submitit (~50 ms); tests/unit/test_scheduler_interface.py checks them against
#: JobPaths, and fails when a submitit release names them otherwise
NAMES = {
    "stdout": f"{_MARK}_{_TASK}_log.out",
    "stderr": f"{_MARK}_{_TASK}_log.err",
    "submitted_pickle": f"{_MARK}_submitted.pkl",
}


def submitits_names() -> dict[str, str]:
    """The names of NAMES as submitit's own JobPaths gives them (what the test compares NAMES with)."""
    from submitit.core.utils import JobPaths

    paths = JobPaths("/", job_id=_MARK, task_id=int(_TASK))
    return {attribute: str(getattr(paths, attribute).name) for attribute in NAMES}


def _name_parts(attribute: str) -> tuple[str, str]:
    """submitit's file name for a job, split around the job id: ('', '_submitted.pkl')."""
    prefix, _, suffix = NAMES[attribute].partition(_MARK)
    return prefix, suffix


def log_paths(folder: Path, job_id: str) -> list[Path]:
    """submitit's logs of one job (every task: stdout and stderr), existing ones, sorted by name."""
    if not job_id or not folder.is_dir():
        return []
    found: list[Path] = []
    task = 0
    templates = (NAMES["stdout"], NAMES["stderr"])
    while True:
        names = [t.replace(_MARK, job_id).replace(_TASK, str(task)) for t in templates]
        existing = [folder / name for name in names if os.path.exists(os.path.join(folder, name))]
        if not existing:
            break
        found += existing
        task += 1
    return sorted(found)


def submitted_ids(folder: Path) -> list[str]:
    """Ids of the jobs submitit recorded as submitted in `folder` (from file names; nothing is read)."""
    if not folder.is_dir():
        return []
    prefix, suffix = _name_parts("submitted_pickle")
    names = (p.name for p in folder.glob(f"{prefix}*{suffix}"))
    return sorted(n[len(prefix) : len(n) - len(suffix)] for n in names if len(n) > len(prefix + suffix))


# --- the private part --------------------------------------------------------------------------------


def _private_render() -> Callable[..., Any]:
    try:
        from submitit.slurm.slurm import _make_sbatch_string
    except ImportError:
        raise SchedulerError(*_changed("no longer has submitit.slurm.slurm._make_sbatch_string")) from None
    return _make_sbatch_string


def _changed(what: str) -> tuple[str, str]:
    try:
        version = importlib.metadata.version("submitit")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return (
        f"submitit {version} {what}, which clusterrun uses to render sbatch scripts",
        f"install a supported submitit: pip install 'submitit{SUBMITIT_RANGE}'",
    )


def contract_problems(parameters: list[str]) -> list[str]:
    """What clusterrun needs from submitit's private sbatch renderer and does not find (empty: fine)."""
    try:
        render = _private_render()
    except SchedulerError as exc:
        return [exc.message]
    accepted = inspect.signature(render).parameters
    return [
        f"_make_sbatch_string has no parameter {name!r}"
        for name in ["command", "folder", *parameters]
        if name not in accepted
    ]


def sbatch_text(command: str, folder: str, parameters: dict[str, Any]) -> str:
    """The sbatch script submitit would submit for these executor parameters (nothing is submitted)."""
    try:
        return str(_private_render()(command=command, folder=folder, **parameters))
    except TypeError as exc:
        raise SchedulerError(*_changed(f"changed _make_sbatch_string ({exc})")) from None
