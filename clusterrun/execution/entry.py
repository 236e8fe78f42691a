"""The function a job's pickle names: the job's wrapper (execution/jobrun.py), imported when the job runs.

submitit pickles the function it is given by reference (its module and name), so the submitting process
only has to name it. Naming jobrun.run_job itself imported the whole wrapper into every `submit` (its
attempts, supervision and rank modules, and psutil), which only a job uses.
"""

from __future__ import annotations


def run_job(run_dir: str, script: str = "command.sh") -> int:
    """execution.jobrun.run_job(run_dir, script), imported here, in the job."""
    from clusterrun.execution.jobrun import run_job as wrapper

    return wrapper(run_dir, script)
