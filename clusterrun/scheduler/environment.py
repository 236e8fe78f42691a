"""The environment a submission hands to the scheduler: clean of the allocation it may be made from.

sbatch exports the submitting process's environment to the job (and submitit's LocalExecutor passes it
to the local job). Submitted from inside an allocation (an interactive `salloc` or `srun --pty` shell,
or another job), that environment carries the allocation's SLURM_* variables; inherited by the new job,
they override its own (`srun: fatal: SLURM_MEM_PER_CPU, SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE are
mutually exclusive`). Every submission is therefore made with them taken out, and put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from clusterrun.scheduler.base import Check

#: Left out of every submission: the variables salloc, srun and sbatch set for an allocation (SLURM_*,
#: SLURMD_*, SRUN_*, SALLOC_*), sbatch's input variables (SBATCH_*: a job's resources come from its
#: config and cluster profile only), submitit's own, and an enclosing torch.distributed rendezvous.
SCHEDULER_PREFIXES = ("SLURM_", "SLURMD_", "SRUN_", "SALLOC_", "SBATCH_", "SUBMITIT_")
DISTRIBUTED_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
#: Kept: they choose WHICH cluster to submit to (its slurm.conf; a federation's member), not the job.
KEPT_VARIABLES = frozenset({"SLURM_CONF", "SLURM_CLUSTERS"})
#: Set inside an allocation: its job id.
ALLOCATION_VARIABLE = "SLURM_JOB_ID"


def scheduler_variables(environ: Mapping[str, str]) -> list[str]:
    """The names in `environ` a submission leaves out, sorted."""
    return sorted(
        name
        for name in environ
        if name not in KEPT_VARIABLES
        and (name.startswith(SCHEDULER_PREFIXES) or name in DISTRIBUTED_VARIABLES)
    )


@contextlib.contextmanager
def clean_environment() -> Iterator[list[str]]:
    """The scheduler_variables taken out of os.environ (which submitit hands on) for the duration of a
    submission, then put back; yields their names. submitit.helpers.clean_env does the same but also
    drops SLURM_CONF, which would send the job to another cluster."""
    taken = {name: os.environ.pop(name) for name in scheduler_variables(os.environ)}
    try:
        yield sorted(taken)
    finally:
        os.environ.update(taken)


def check_allocation(environ: Mapping[str, str]) -> Check:
    """doctor's row: is this shell inside an allocation, and what a submission leaves out of it."""
    left_out = scheduler_variables(environ)
    job = environ.get(ALLOCATION_VARIABLE)
    data = {"allocation": job, "left_out": left_out}
    shown = ", ".join(left_out[:6]) + (" ..." if len(left_out) > 6 else "")
    if job:
        return Check(
            "allocation",
            "ok",
            f"you are inside an allocation ({ALLOCATION_VARIABLE}={job}): clusterrun submits with a clean "
            f"scheduler environment (leaves out {len(left_out)} variable(s): {shown})",
            "",
            data,
        )
    if left_out:
        return Check(
            "allocation",
            "ok",
            f"not inside an allocation; {shown} in this shell are left out of submissions (set "
            "partition, account, qos... in the config or a cluster profile)",
            "",
            data,
        )
    return Check("allocation", "ok", "not inside an allocation", "", data)
