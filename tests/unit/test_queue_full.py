"""A job the SLURM controller refuses for now (its queue full: MaxJobCount): what sbatch says while it
retries is read from its stderr, also when clusterrun's time limit stops it, and a sweep no queue of the
cluster can hold is refused before anything runs (the real cluster: tests/test_isolated_queue_full.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clusterrun.errors import UsageError
from clusterrun.scheduler import _proc
from clusterrun.scheduler.base import Limits, SubmitTimeout
from clusterrun.scheduler.slurm_submit import retrying, run_sbatch
from clusterrun.services import plan

#: sbatch 22.05's words when the controller answers EAGAIN (job_allocate: MaxJobCount ... reached)
RETRY = "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"
GAVE_UP = "sbatch: error: Batch job submission failed: Resource temporarily unavailable"


def test_the_retry_line_is_found_among_what_sbatch_said() -> None:
    assert retrying(f"{RETRY}\n{GAVE_UP}\n") == RETRY
    assert retrying("sbatch: error: Job creation temporarily disabled, retrying") != ""
    assert retrying("sbatch: error: Batch job submission failed: Invalid account") == ""


def test_a_time_limit_that_stops_a_retrying_sbatch_says_why(tmp_path: Path) -> None:
    script = tmp_path / "sbatch"
    script.write_text(f"#!/bin/sh\necho '{RETRY}' >&2\nsleep 30\n")  # the words, then its first sleep
    script.chmod(0o755)
    with pytest.raises(SubmitTimeout) as caught:
        run_sbatch([str(script)], timeout=1.5)
    assert caught.value.refused == RETRY
    assert "refused the job for 1.5 s, its queue full or busy" in caught.value.message
    assert "MaxJobCount|MinJobAge" in caught.value.hint and "submit_failed" in caught.value.hint
    with pytest.raises(_proc.CommandTimeout) as bare:  # any command: what it wrote is kept
        _proc.run(
            [
                sys.executable,
                "-c",
                "import sys, time; print('said', file=sys.stderr, flush=True); time.sleep(30)",
            ],
            1.5,
        )
    assert bare.value.stderr.strip() == "said"


def test_a_silent_sbatch_that_times_out_is_still_the_plain_timeout(tmp_path: Path) -> None:
    script = tmp_path / "sbatch"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    with pytest.raises(SubmitTimeout) as caught:
        run_sbatch([str(script)], timeout=1)
    assert caught.value.refused == "" and "did not answer within 1 s" in caught.value.message


class _Scheduler:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def limits(self) -> Limits:
        return self._limits


@pytest.mark.parametrize(("members", "refused"), [(3, False), (4, True), (5, True), (1, False)])
def test_a_sweep_no_queue_can_hold_is_refused(
    monkeypatch: pytest.MonkeyPatch, members: int, refused: bool
) -> None:
    monkeypatch.setattr(plan, "get_scheduler", lambda _name: _Scheduler(Limits(max_jobs=4)))
    if not refused:
        plan.check_member_limit("slurm", members)
        return
    with pytest.raises(UsageError, match=r"at most 3 jobs at once \(MaxJobCount=4") as caught:
        plan.check_member_limit("slurm", members)
    assert "parts of at most 3 members" in caught.value.hint
    monkeypatch.setattr(plan, "get_scheduler", lambda _name: _Scheduler(Limits()))  # unknown: not judged
    plan.check_member_limit("slurm", members)
