"""What every backend offers: render, submit, poll (one batched query), cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

#: Normalised states. Terminal ones end a run; anything unknown is treated as still going.
TERMINAL = frozenset(
    {
        "completed",
        "failed",
        "timeout",
        "cancelled",
        "out_of_memory",
        "node_fail",
        "preempted",
        "boot_fail",
        "deadline",
        "lost",
    }
)
ACTIVE = frozenset({"pending", "running", "requeued", "suspended", "completing", "configuring", "unknown"})


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to submit one run's job."""

    run_dir: str  # the run directory; the job writes its logs there
    folder: str  # submitit's working folder (pickles, its own logs)
    job_name: str
    chdir: str  # the snapshot: the job runs there
    time_seconds: int
    mem_mb: int
    nodes: int = 1
    cpus_per_task: int = 1
    gpus: int = 0
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    setup: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobRef:
    job_id: str
    folder: str


@dataclass
class JobStatus:
    job_id: str
    state: str  # normalised, lower case (see TERMINAL / ACTIVE)
    raw_state: str = ""
    exit_code: int | None = None
    signal: int | None = None
    elapsed_seconds: int | None = None
    node: str = ""
    start: str = ""
    end: str = ""
    max_rss_mb: float | None = None
    cancelled_by: str = ""
    source: str = ""  # sacct, squeue, local
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Submitted:
    job_id: str
    script: str  # the exact submission script (sbatch) or a description of the local launch


class Scheduler(Protocol):
    name: str

    def render(self, spec: JobSpec) -> str:
        """The submission script, without submitting anything."""
        ...

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        """Jobs with the same resources and folder in as few submissions as the scheduler allows; each
        calls entry(spec.run_dir) on its node. A plain run is a list of one."""
        ...

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        """States of all given jobs in ONE scheduler query; jobs it does not know are left out."""
        ...

    def cancel(self, refs: list[JobRef]) -> None: ...
