"""Why a pending job waits, in words a user can act on.

SLURM says why a job waits with a reason code (squeue's REASON column: `Priority`, `JobHeldUser`,
`QOSMaxJobsPerUserLimit`...; the list: `man squeue`, "JOB REASON CODES", and
https://slurm.schedmd.com/job_reason_codes.html). Most mean "wait"; a few mean the job will not start
until someone acts (it is held, its request exceeds a partition's limit, its dependency can never be
met). Those get `stuck` and what to do. The local backend's only wait, for a slot of a throttled sweep,
uses SLURM's own word for it (JobArrayTaskLimit), so `--json` says it the same way on both.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the local backend's pending job waits for a slot of its sweep's parallelism: SLURM's word for it
PARALLELISM = "JobArrayTaskLimit"
#: The run states whose job waits in the queue with a reason to give (a requeued job waits too).
WAITING_STATES = frozenset({"pending", "requeued"})


@dataclass(frozen=True)
class Waiting:
    code: str  # the scheduler's own word
    words: str  # short, for a table's cell: what it waits for
    action: str = ""  # what to do; "" when waiting is all there is to do
    stuck: bool = False  # it will not start until someone acts
    requeued: str = ""  # what it means for a requeued job, when that is more (a line, not a cell)

    def said(self) -> str:
        """Its words with the scheduler's own code, to look up or to tell an administrator."""
        return self.words if self.words == self.code else f"{self.words} ({self.code})"

    def release(self, job_ids: list[str]) -> str:
        """`action` with the jobs' ids filled in (an array's id once for all its tasks)."""
        arrays = sorted({job_id.split("_")[0] for job_id in job_ids if job_id}, key=_numeric)
        return self.action.replace("{jobs}", ",".join(arrays) or "JOBID")


def _numeric(job_id: str) -> tuple[int, str]:
    return (int(job_id), "") if job_id.isdigit() else (0, job_id)


_KNOWN = {
    waiting.code: waiting
    for waiting in (
        Waiting("Priority", "behind higher-priority jobs"),
        Waiting("Resources", "waiting for free nodes"),
        Waiting(PARALLELISM, "sweep.parallelism limit"),
        Waiting("Dependency", "waiting for its dependency"),
        Waiting(
            "BeginTime",
            "its start time has not come",
            requeued="SLURM lets a requeued job start again about 2 minutes after its requeue",
        ),
        Waiting("Reservation", "waiting for its reservation"),
        Waiting("Licenses", "waiting for licenses"),
        Waiting("Cleaning", "previous attempt cleaning up"),
        Waiting("NodeDown", "a node it needs is down"),
        Waiting(
            "ReqNodeNotAvail", "its nodes are not available", "down, drained or reserved: see `sinfo -R`"
        ),
        Waiting("PartitionDown", "its partition is down", "ask your cluster's administrators"),
        Waiting("PartitionInactive", "its partition is inactive", "ask your cluster's administrators"),
        Waiting(
            "JobHeldUser",
            "held",
            "to let it start: scontrol release {jobs}",
            stuck=True,
        ),
        Waiting(
            "JobHeldAdmin",
            "held by an administrator",
            "ask your cluster's administrators to release {jobs}",
            stuck=True,
        ),
        Waiting(
            "launch failed requeued held",
            "held: its launch failed",
            "see `scontrol show job {jobs}`, then scontrol release {jobs}",
            stuck=True,
        ),
        Waiting(
            "DependencyNeverSatisfied",
            "dependency never satisfied",
            "the run it waits for did not end as asked: clusterrun cancel RUN_ID, then submit again",
            stuck=True,
        ),
        Waiting(
            "PartitionTimeLimit",
            "time above partition limit",
            "cancel it and submit with a shorter resources.time (limits: sinfo -o '%P %l')",
            stuck=True,
        ),
        Waiting(
            "PartitionNodeLimit",
            "nodes above partition limit",
            "cancel it and submit with fewer resources.nodes, or to another partition",
            stuck=True,
        ),
        Waiting(
            "BadConstraints",
            "no node has what it asks",
            "cancel it and submit with resources that a node has (sinfo -o '%N %c %m %G %f')",
            stuck=True,
        ),
        Waiting(
            "InvalidAccount",
            "its account is invalid",
            "cancel it; submit with an account of yours",
            stuck=True,
        ),
        Waiting("InvalidQOS", "its QOS is invalid", "cancel it; submit with a valid QOS", stuck=True),
    )
}

#: families of limits, by the code's start: the job waits until the limit allows it
_LIMITS = (
    ("QOS", "a limit of your QOS"),
    ("Assoc", "a limit of your account"),
    ("Max", "a QOS per-account limit"),
    ("AccountingPolicy", "an accounting limit"),
)


def explain(code: str) -> Waiting:
    """What `code` means for the user; an unknown code is shown as it is."""
    known = _KNOWN.get(code)
    if known is not None:
        return known
    for start, words in _LIMITS:
        if code.startswith(start):
            return Waiting(code, words)
    return Waiting(code, code)
