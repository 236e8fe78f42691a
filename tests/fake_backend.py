"""A backend that is neither SLURM nor submitit: every job is a plain subprocess on this machine.

It exists to prove the scheduler interface (clusterrun.scheduler.base.Scheduler): registered by a
fixture (tests/test_backend_interface.py), it is submitted to, polled, cancelled, diagnosed and
checked by doctor through the services, without a change anywhere else. site/backends.md walks
through it as the example of "Adding a backend".

Its files in the job's folder: `<id>.job` (written before the process starts: what `recover` reads),
`<id>.out`/`<id>.err` (its own log: what `log_paths` lists), `<id>.rc` (the exit code) and
`<id>.cancelled`. Its raw states are its own words (QUEUED, RUN, DONE, FAIL, KILLED, GONE), mapped to
clusterrun's by `normalise_state`.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clusterrun.errors import SchedulerError
from clusterrun.scheduler import Check, JobRef, JobSpec, JobStatus, Limits, LogEvidence, Submitted

NAME = "fake"
MAX_ARRAY_SIZE = 2  # small, so that a sweep of three is split into two submissions
STATE_MAP = {
    "QUEUED": "pending",
    "RUN": "running",
    "DONE": "completed",
    "FAIL": "failed",
    "KILLED": "cancelled",
    "GONE": "lost",
}
OOM_LINE = "fake: job killed, memory limit exceeded"

_processes: dict[str, subprocess.Popen[bytes]] = {}  # in-memory: this process started them
_ids = itertools.count(1)


def _paths(folder: Path, job_id: str) -> dict[str, Path]:
    return {ext: folder / f"{job_id}.{ext}" for ext in ("job", "out", "err", "rc", "cancelled")}


def _command(entry: Callable[[str], Any], run_dir: str) -> list[str]:
    """Call entry(run_dir) in a fresh interpreter: entry must be importable by module and name."""
    code = "import importlib, sys; getattr(importlib.import_module(sys.argv[1]), sys.argv[2])(sys.argv[3])"
    return [sys.executable, "-c", code, entry.__module__, entry.__qualname__, run_dir]


class FakeScheduler:
    name = NAME
    enforces_memory = True

    def render(self, spec: JobSpec) -> str:
        return (
            f"# fake backend: a subprocess on this machine, cwd {spec.chdir}\n"
            f"# runs clusterrun.execution.jobrun.run_job({spec.run_dir!r})\n"
        )

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        size = max_size or len(specs)
        out: list[Submitted] = []
        for start in range(0, len(specs), size):
            array = f"fake{os.getpid()}x{next(_ids)}"
            for index, spec in enumerate(specs[start : start + size]):
                job_id = f"{array}_{index}"
                files = _paths(Path(spec.folder), job_id)
                files["job"].parent.mkdir(parents=True, exist_ok=True)
                files["job"].write_text(spec.run_dir)  # before the process: an interruption is recoverable
                with open(files["out"], "wb") as stdout, open(files["err"], "wb") as stderr:
                    argv = _command(entry, spec.run_dir)
                    shell = f"{shlex.join(argv)}; echo $? > {shlex.quote(str(files['rc']))}"
                    _processes[job_id] = subprocess.Popen(
                        ["sh", "-c", shell],
                        cwd=spec.chdir if Path(spec.chdir).is_dir() else None,
                        stdin=subprocess.DEVNULL,
                        stdout=stdout,
                        stderr=stderr,
                        start_new_session=True,
                    )
                out.append(Submitted(job_id, self.render(spec), array))
        return out

    def _raw(self, ref: JobRef) -> str:
        files = _paths(Path(ref.folder), ref.job_id)
        if files["cancelled"].exists():
            return "KILLED"
        if files["rc"].exists():
            return "DONE" if files["rc"].read_text().strip() == "0" else "FAIL"
        process = _processes.get(ref.job_id)
        if process is not None and process.poll() is None:
            return "RUN"
        return "QUEUED" if files["job"].exists() and process is not None else "GONE"

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        out: dict[str, JobStatus] = {}
        for ref in refs:
            if not _paths(Path(ref.folder), ref.job_id)["job"].exists():
                continue  # not one of ours: left out, as the protocol asks
            raw = self._raw(ref)
            state, _by = self.normalise_state(raw)
            out[ref.job_id] = JobStatus(ref.job_id, state, raw_state=raw, source=NAME)
        return out

    def cancel(self, refs: list[JobRef]) -> None:
        for ref in refs:
            process = _processes.get(ref.job_id)
            if process is None:
                raise SchedulerError(f"fake backend: no job {ref.job_id} in this process")
            _paths(Path(ref.folder), ref.job_id)["cancelled"].write_text(str(time.time()))
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

    def limits(self) -> Limits:
        return Limits(max_array_size=MAX_ARRAY_SIZE, partitions=("small", "big"), default_partition="small")

    def checks(self) -> list[Check]:
        return [Check(NAME, "ok", f"fake backend: subprocesses on this machine ({sys.executable})")]

    def log_paths(self, folder: Path, job_id: str) -> list[Path]:
        files = _paths(folder, job_id)
        return sorted(p for p in (files["out"], files["err"]) if p.exists())

    def recover(self, folder: Path) -> list[str]:
        return sorted(p.name.removesuffix(".job") for p in folder.glob("*.job"))

    def normalise_state(self, raw: str) -> tuple[str, str]:
        return STATE_MAP.get(raw.strip().upper(), "unknown"), ""

    def log_evidence(self, logs: Mapping[str, str]) -> list[LogEvidence]:
        for name, text in logs.items():
            lines = [line for line in text.splitlines() if OOM_LINE in line]
            if lines:
                return [LogEvidence("out_of_memory", name, lines[-1])]
        return []

    def stop_all(self) -> None:
        """Test helper: end and reap every process this backend started (a failed test leaves some)."""
        for process in _processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
