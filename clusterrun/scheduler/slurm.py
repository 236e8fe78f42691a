"""SLURM through submitit: render and submit with SlurmExecutor, poll with one batched sacct."""

from __future__ import annotations

import contextlib
import functools
import io
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import FailedJobError

from clusterrun.errors import SchedulerError, SchedulerUnavailable
from clusterrun.execution.templates import render_template
from clusterrun.scheduler import _proc, _submitit, info, slurm_checks, slurm_logs
from clusterrun.scheduler.base import (
    Check,
    JobRef,
    JobSpec,
    JobStatus,
    Limits,
    LogEvidence,
    Submitted,
)
from clusterrun.scheduler.sacct import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    normalise_state,
    parse_sacct,
    parse_squeue,
)


def executor_parameters(spec: JobSpec) -> dict[str, Any]:
    """SlurmExecutor parameters; memory and --chdir go verbatim through additional_parameters."""
    params: dict[str, Any] = {
        "job_name": spec.job_name,
        "time": max(1, -(-spec.time_seconds // 60)),
        "nodes": spec.nodes,
        "cpus_per_task": spec.cpus_per_task,
        "partition": spec.partition,
        "account": spec.account,
        "qos": spec.qos,
        "gpus_per_node": spec.gpus or None,
        "setup": render_template("slurm_setup.sh.j2", setup=list(spec.setup)).splitlines(),
        "additional_parameters": {"mem": f"{spec.mem_mb}M", "chdir": spec.chdir},
    }
    return {k: v for k, v in params.items() if v is not None}


def _submit_command(folder: str) -> str:
    return " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(folder)])


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "sbatch failed without a message"


class SlurmScheduler:
    name = "slurm"
    job_id_variable = "SLURM_JOB_ID"  # set inside its jobs (see registry.job_variables)
    job_variables = (
        "SLURM_JOB_ID",
        "SLURM_JOB_NODELIST",
        "SLURM_JOB_PARTITION",
        "SLURM_CPUS_ON_NODE",
        "SLURM_ARRAY_JOB_ID",
        "SLURM_ARRAY_TASK_ID",
    )

    def render(self, spec: JobSpec) -> str:
        return _submitit.sbatch_text(_submit_command(spec.folder), spec.folder, executor_parameters(spec))

    def submit_array(
        self,
        specs: list[JobSpec],
        entry: Callable[[str], Any],
        parallelism: int | None = None,
        max_size: int | None = None,
    ) -> list[Submitted]:
        """Jobs that share resources and folder as ONE sbatch job array (more only past max_size)."""
        size = max_size or len(specs)
        out: list[Submitted] = []
        for start in range(0, len(specs), size):
            out += self._submit_chunk(specs[start : start + size], entry, parallelism)
        return out

    def _submit_chunk(
        self, specs: list[JobSpec], entry: Callable[[str], Any], parallelism: int | None
    ) -> list[Submitted]:
        executor = submitit.SlurmExecutor(folder=specs[0].folder)
        params = executor_parameters(specs[0])
        if parallelism:
            params["array_parallelism"] = parallelism
        executor.update_parameters(**params)
        captured = io.StringIO()
        try:
            with contextlib.redirect_stderr(captured):
                jobs = executor.map_array(entry, [spec.run_dir for spec in specs])
        except FailedJobError as exc:
            message = _first_line(str(exc) or captured.getvalue())
            if "Unable to contact slurm controller" in message:
                raise SchedulerUnavailable(
                    f"the SLURM controller does not answer: {message}",
                    hint="check 'sinfo' and that slurmctld is running, then submit again",
                ) from None
            raise SchedulerError(
                f"sbatch refused the job: {message}",
                hint="check resources (partition, time, mem, gpus, account, qos) against 'sinfo' and "
                "'scontrol show partition'",
            ) from None
        script = Path(jobs[0].paths.submission_file).read_text()
        return [Submitted(str(job.job_id), script, _submitit.array_of(str(job.job_id))) for job in jobs]

    def poll(self, refs: list[JobRef]) -> dict[str, JobStatus]:
        if not refs:
            return {}
        # array members are asked for through their array: one id for a thousand members
        ids = ",".join(sorted({_submitit.array_of(r.job_id) for r in refs}))
        result = _proc.run(["sacct", "-n", "-P", "-o", ",".join(SACCT_FIELDS), "-j", ids])
        if result.returncode == 0:
            return parse_sacct(result.stdout)
        problem = _first_line(result.stderr)
        fallback = _proc.run(["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "-j", ids])
        if fallback.returncode == 0:
            return parse_squeue(fallback.stdout)
        if "Invalid job id" in fallback.stderr:  # every job has left the queue; accounting is off
            return {}
        raise SchedulerUnavailable(
            f"SLURM did not answer: {problem}",
            hint="showing the last known state; check 'sinfo' and that slurmctld/slurmdbd are running",
        )

    def cancel(self, refs: list[JobRef]) -> None:
        if not refs:
            return
        result = _proc.run(["scancel", *sorted({r.job_id for r in refs})])
        if result.returncode != 0:
            raise SchedulerError(f"scancel failed: {_first_line(result.stderr)}")

    def limits(self) -> Limits:
        return cluster_limits()

    def checks(self) -> list[Check]:
        return slurm_checks.checks()

    def log_paths(self, folder: Path, job_id: str) -> list[Path]:
        return _submitit.log_paths(folder, job_id)

    def recover(self, folder: Path) -> list[str]:
        return _submitit.submitted_ids(folder)

    def normalise_state(self, raw: str) -> tuple[str, str]:
        return normalise_state(raw)

    def log_evidence(self, logs: Mapping[str, str]) -> list[LogEvidence]:
        return slurm_logs.log_evidence(logs)


@functools.cache
def cluster_limits() -> Limits:
    """MaxArraySize and the partitions, asked once per process; what does not answer stays unknown."""
    try:
        max_array_size: int | None = info.max_array_size(info.cluster_config())
    except SchedulerUnavailable:
        max_array_size = None  # sbatch will say so if the array is too long
    try:
        partitions = info.partitions()
    except SchedulerUnavailable:
        partitions = []
    return Limits(
        max_array_size=max_array_size,
        partitions=tuple(p.name for p in partitions),
        default_partition=next((p.name for p in partitions if p.default), None),
    )
