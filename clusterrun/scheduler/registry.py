"""The backends clusterrun knows, by name; `--backend auto` takes the first available one.

A backend is registered once, with a factory (cheap: it must not query anything) and a probe (is it
usable on this machine?). `auto` asks the probes in order of `priority` (lower first; equal
priorities in registration order) and takes the first that says yes. The built-ins: slurm
(priority 10, when sbatch is on PATH), then local (priority 100, always). A cluster backend belongs
between them; see site/backends.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from clusterrun.errors import SchedulerUnavailable, UsageError
from clusterrun.scheduler.base import STATES, LogEvidence, Scheduler, TaskLayout

AUTO = "auto"
DEFAULT_PRIORITY = 50


@dataclass(frozen=True)
class Backend:
    name: str
    factory: Callable[[], Scheduler]
    probe: Callable[[], bool]
    priority: int = DEFAULT_PRIORITY
    when: str = ""  # when auto picks it, for --help: "sbatch is on PATH" ("" = always)
    missing: str = ""  # why the probe says no: "'sbatch' is not on PATH"
    hint: str = ""  # what to do about it
    #: the variable set inside its jobs (its scheduler's `job_id_variable`), declared here so that a job
    #: finds its own backend without making (importing) the others; "" = not declared: made to ask it
    job_id_variable: str = ""


_registered: dict[str, Backend] = {}


def register(
    name: str,
    factory: Callable[[], Scheduler],
    probe: Callable[[], bool],
    *,
    priority: int = DEFAULT_PRIORITY,
    when: str = "",
    missing: str = "",
    hint: str = "",
    replace: bool = False,
    job_id_variable: str = "",
) -> Backend:
    """Make a backend available as `--backend NAME` (and to `auto`); returns its entry.
    `job_id_variable`: the same as its scheduler's attribute of that name, when it has one (optional)."""
    if name == AUTO or not name.isidentifier():
        raise ValueError(f"a backend name must be an identifier other than {AUTO!r}: {name!r}")
    if name in _registered and not replace:
        raise ValueError(f"backend {name!r} is already registered (pass replace=True to replace it)")
    entry = Backend(name, factory, probe, priority, when, missing, hint, job_id_variable)
    _registered[name] = entry
    return entry


def unregister(name: str) -> None:
    _registered.pop(name, None)


def registered() -> list[Backend]:
    """Every backend, in the order `auto` tries them."""
    order = {name: i for i, name in enumerate(_registered)}
    return sorted(_registered.values(), key=lambda b: (b.priority, order[b.name]))


def names() -> tuple[str, ...]:
    return tuple(b.name for b in registered())


class _Choices(Sequence[str]):
    """'auto' and the registered names, as they are now (a backend registered later is included)."""

    def _all(self) -> tuple[str, ...]:
        return (AUTO, *names())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


#: What --backend accepts.
BACKENDS: Sequence[str] = _Choices()


def lookup(name: str) -> Backend:
    """The registered backend `name`; a UsageError listing the valid names otherwise."""
    if name not in _registered:
        raise UsageError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    return _registered[name]


def choose(name: str) -> tuple[str, list[Backend]]:
    """The backend `name` stands for, without failing on an unavailable one, and the backends `auto`
    tried before it (their probes said no). An explicit name is taken as it is."""
    if name != AUTO:
        return lookup(name).name, []
    passed: list[Backend] = []
    for backend in registered():
        if backend.probe():
            return backend.name, passed
        passed.append(backend)
    raise SchedulerUnavailable(
        "no backend is available on this machine",
        hint="; ".join(f"{b.name}: {b.missing}" for b in passed if b.missing),
    )


def resolve_backend(name: str) -> str:
    """`auto` -> the first available backend; an explicit one must be available."""
    chosen, _passed = choose(name)
    backend = _registered[chosen]
    if name != AUTO and not backend.probe():
        why = backend.missing or "it is not available on this machine"
        raise SchedulerUnavailable(f"--backend {chosen}, but {why}", hint=backend.hint)
    return chosen


def get_scheduler(name: str) -> Scheduler:
    """The backend to submit, poll and cancel through; raises when it is not available here."""
    return _registered[resolve_backend(name)].factory()


def scheduler_named(name: str) -> Scheduler:
    """The backend a record names, whether or not it is available here (reading files never needs it)."""
    return lookup(name).factory()


def backend_help() -> str:
    """--backend's help: 'auto (slurm when sbatch is on PATH, else local), slurm or local.'"""
    steps = [f"{b.name} when {b.when}" if b.when else b.name for b in registered()]
    listed = list(names())
    choices = ", ".join(listed[:-1]) + f" or {listed[-1]}" if len(listed) > 1 else "".join(listed)
    return f"{AUTO} ({', else '.join(steps)}), {choices}."


# --- what any backend's records need, without knowing which backend wrote them ---------------------


def _schedulers(backend: str | None) -> list[Scheduler]:
    if backend is not None:
        return [scheduler_named(backend)]
    return [b.factory() for b in registered()]


def normalise_state(raw: str, backend: str | None = None) -> tuple[str, str]:
    """Any raw state -> (clusterrun's state, who cancelled it or ""). A state already in clusterrun's
    vocabulary is kept; otherwise `backend` maps it, or without one the first registered backend
    (in auto order) that knows the word; ("unknown", "") when none does."""
    lowered = raw.strip().lower()
    if lowered in STATES:
        return lowered, ""
    for scheduler in _schedulers(backend):
        state, by = scheduler.normalise_state(raw)
        if state != "unknown":
            return state, by
    return "unknown", ""


def log_evidence(logs: Mapping[str, str], backend: str | None = None) -> list[LogEvidence]:
    """Scheduler log lines that prove a verdict (see Scheduler.log_evidence): from `backend`, or from
    every registered backend (in auto order) when it is not known."""
    out: list[LogEvidence] = []
    for scheduler in _schedulers(backend):
        out += [e for e in scheduler.log_evidence(logs) if e not in out]
    return out


def log_paths(folder: Path, job_id: str, backend: str | None = None) -> list[Path]:
    """The scheduler's own logs of a job: `backend`'s, or any registered backend's when not known."""
    found: set[Path] = set()
    for scheduler in _schedulers(backend):
        found.update(scheduler.log_paths(folder, job_id))
    return sorted(found)


def job_schedulers(environ: Mapping[str, str]) -> Iterator[tuple[Backend, Scheduler]]:
    """The registered backends (in auto order) that may have started the job this process runs in, each
    with its scheduler: a backend whose registration declares its job_id_variable is made only when
    that variable is set (a local job does not import the SLURM backend to learn it is not one)."""
    for backend in registered():
        if backend.job_id_variable and not environ.get(backend.job_id_variable):
            continue
        yield backend, backend.factory()


def job_variables(environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Inside a job: (its id, the scheduler's variables worth recording) from the first registered
    backend whose variables are set. A backend declares them as `job_id_variable` and `job_variables`
    (optional attributes); ("", {}) outside any job."""
    for _backend, scheduler in job_schedulers(environ):
        id_variable = getattr(scheduler, "job_id_variable", "")
        if id_variable and environ.get(id_variable):
            names = getattr(scheduler, "job_variables", ())
            return environ[id_variable], {k: environ[k] for k in names if k in environ}
    return "", {}


def task_layout(environ: Mapping[str, str]) -> TaskLayout | None:
    """Inside a job: this task's rank among the job's tasks, from the backend whose job it is (one that
    offers `task_layout`, optional); None outside a job or for a backend without tasks."""
    for _backend, scheduler in job_schedulers(environ):
        id_variable = getattr(scheduler, "job_id_variable", "")
        layout = getattr(scheduler, "task_layout", None)
        if id_variable and environ.get(id_variable) and layout is not None:
            found: TaskLayout | None = layout(environ)
            return found
    return None


# --- the built-in backends -----------------------------------------------------------------------


def _slurm() -> Scheduler:
    from clusterrun.scheduler.slurm import SlurmScheduler

    return SlurmScheduler()


def _local() -> Scheduler:
    from clusterrun.scheduler.local import LocalScheduler

    return LocalScheduler()


def _slurm_available() -> bool:
    from clusterrun.scheduler import slurm_checks

    return slurm_checks.available()


register(
    "slurm",
    _slurm,
    _slurm_available,
    priority=10,
    when="sbatch is on PATH",
    missing="'sbatch' is not on PATH",
    hint="run on a SLURM login node (or start one: scripts/local-slurm.sh up), or use --backend local",
    job_id_variable="SLURM_JOB_ID",
)
register("local", _local, lambda: True, priority=100, job_id_variable="SUBMITIT_LOCAL_JOB_ID")
