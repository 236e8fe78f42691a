"""Issue 9, item 1: job ids are reused (they wrap after MaxJobId; another cluster has its own), and a run
never takes the state of another job that got its id, nor is that job cancelled for it.

On isolated clusters with FirstJobId=1 and a small MaxJobId, so that ids come round within a test."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.clusters import isolated_cluster
from tests.helpers import cli, no_traceback
from tests.isolated_runs import (
    add_config,
    json_of,
    manifest_of,
    sacct_states,
    submit,
    wait_until,
    wrap_ids_to,
)

pytestmark = [pytest.mark.isolated]
WRAP = ["FirstJobId=1", "MaxJobId=12", "MinJobAge=2"]


def _state(project: Path, run_id: str, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    rows = json_of(cli(["status", run_id, "--json"], project, env=env))["runs"]
    (row,) = [r for r in rows if r["run_id"] == run_id]
    return row  # type: ignore[no-any-return]


def _wrapper_pid(events: Path) -> int:
    started = [json.loads(line) for line in events.read_text().splitlines() if '"job_started"' in line]
    return int(started[-1]["pid"])


def test_a_failed_run_is_not_given_the_success_of_the_job_that_reused_its_id(project: Path) -> None:
    with isolated_cluster("idwrap", conf=WRAP) as c:
        env = {**c.env, "CLUSTERRUN_POLL_MAX_AGE": "0"}
        config = add_config(project, "five", "sh -c 'exit 5'")
        run = submit(project, config, env)
        job = run["job_id"]
        identity = run["job_identity"]
        assert identity["cluster"] == c.name and identity["name"] == run["run_id"]
        assert identity["submit_time"], identity
        # the job ends and leaves the controller while nobody asks clusterrun about it
        wait_until(
            lambda: sacct_states(c, job)[-1:] and sacct_states(c, job)[-1].startswith("FAILED|"),
            60,
            "the run's job failed (its command exited 5)",
        )
        c.wait_job_gone(job)
        wrap_ids_to(c, job, ("--wrap", "true", "-o", "/dev/null"))
        wait_until(
            lambda: len(sacct_states(c, job)) == 2 and sacct_states(c, job)[-1].startswith("COMPLETED"),
            60,
            "the job that reused the id completed",
        )
        # plain sacct now answers for the id with the other job's COMPLETED (what clusterrun used to show)
        plain = c.run("sacct", "-n", "-P", "-X", "-j", job, "-o", "State").stdout.split()
        assert plain == ["COMPLETED"]

        row = _state(project, run["run_id"], env)
        assert row["state"] == "failed", row
        assert row["summary"]["exit_code"] == 5 and row["summary"]["success"] is False
        after = manifest_of(project / "runs" / run["run_id"])
        assert after["state_source"] == "sacct"
        assert after["job_identity"] == identity  # the submit time taken at submission is kept

        # not a finished (successful) run: submitting the same experiment again is not a duplicate
        again = cli(
            ["submit", config, "--backend", "slurm", "--skip-smoke", "again", "--no-watch"], project, env=env
        )
        assert again.returncode == 0, again.stderr
        assert "identical to" not in again.stderr


def test_cancel_of_a_stale_run_refuses_to_kill_the_job_that_reused_its_id(project: Path) -> None:
    """Accounting off: the run's job is killed (-9, no exit record), purged, and its id goes to an
    unrelated job. `cancel` must not touch that job; the run ends `lost` after the grace period."""
    conf = [*WRAP]
    with isolated_cluster("idcancel", accounting="none", conf=conf) as c:
        env = {**c.env, "CLUSTERRUN_POLL_MAX_AGE": "0", "CLUSTERRUN_LOST_AFTER": "5"}
        run = submit(project, add_config(project, "sleeper", "sleep 600"), env)
        job, run_id = run["job_id"], run["run_id"]
        wait_until(lambda: c.job_state(job) == "RUNNING", 60, "the run's job started")
        events = project / "runs" / run_id / "events.jsonl"
        wait_until(
            lambda: events.exists() and "job_started" in events.read_text(), 60, "the job's wrapper ran"
        )
        os.kill(_wrapper_pid(events), signal.SIGKILL)  # kill -9 the job's wrapper: no exit record
        c.wait_job_gone(job)
        assert not (project / "runs" / run_id / "exit.json").exists()
        wrap_ids_to(c, job, ("--wrap", "sleep 300", "-o", "/dev/null", "-J", "unrelated"))
        wait_until(lambda: c.job_state(job) == "RUNNING", 60, "the unrelated job runs under the run's id")

        refused = cli(["cancel", run_id], project, env=env)
        no_traceback(refused)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
        assert lines[0].startswith(f"error: run {run_id}: job {job} is now another job (unrelated"), lines
        assert lines[1].startswith("hint: ") and len(lines) == 2, lines
        assert c.job_state(job) == "RUNNING"  # the unrelated job was not touched
        assert "cancel_requested" not in manifest_of(project / "runs" / run_id)

        # and the run itself is not given that job's state: it ends `lost`, with what is known
        watched = cli(
            ["status", run_id, "--watch", "--timeout", "120", "--json"], project, env=env, timeout=180
        )
        assert watched.returncode == 0, watched.stderr
        no_traceback(watched)
        final = manifest_of(project / "runs" / run_id)
        assert final["state"] == "lost" and final["state_source"] == "none", final["state_history"]
        summary = json_of(cli(["show", run_id, "--json"], project, env=env))["summary"]
        diagnosis = summary["diagnosis"]
        assert diagnosis["category"] == "lost"
        evidence = diagnosis["evidence"]
        assert f"job {job} on " in evidence and "last seen submitted" in evidence, evidence
        assert "its wrapper started on " in evidence, evidence
        assert "squeue" in diagnosis["evidence"]
        assert c.job_state(job) == "RUNNING"


def test_a_run_of_one_cluster_is_not_matched_with_another_clusters_job_of_the_same_id(project: Path) -> None:
    with isolated_cluster("clua", conf=WRAP) as a, isolated_cluster("club", conf=WRAP) as b:
        env_a = {**a.env, "CLUSTERRUN_POLL_MAX_AGE": "0"}
        env_b = {**b.env, "CLUSTERRUN_POLL_MAX_AGE": "0"}
        run = submit(project, add_config(project, "longer", "sleep 600"), env_a)
        job, run_id = run["job_id"], run["run_id"]
        wait_until(lambda: a.job_state(job) == "RUNNING", 60, "the run's job runs on cluster A")
        # cluster B's job with the same id ends, successfully, while the run still runs on A
        other = b.sbatch("--wrap", "true", "-o", "/dev/null")
        while other != job:
            other = b.sbatch("--wrap", "true", "-o", "/dev/null")
        wait_until(
            lambda: sacct_states(b, job)[-1:] and sacct_states(b, job)[-1].startswith("COMPLETED"),
            60,
            "B's job completed",
        )
        seen_from_b = _state(project, run_id, env_b)
        assert seen_from_b["state"] != "completed", seen_from_b
        from_b = manifest_of(project / "runs" / run_id)
        assert from_b["state"] in ("submitted", "pending", "running")
        assert from_b.get("unseen_since") is None  # what B does not know says nothing about A's job
        refused = cli(["cancel", run_id], project, env=env_b)
        assert refused.returncode == 2 and f"submitted to cluster '{a.name}'" in refused.stderr, (
            refused.stderr
        )
        no_traceback(refused)
        assert a.job_state(job) == "RUNNING"
        # from its own cluster, the run is followed and cancelled as usual
        assert _state(project, run_id, env_a)["state"] == "running"
        cancelled = cli(["cancel", run_id], project, env=env_a)
        assert cancelled.returncode == 0, cancelled.stderr
        wait_until(lambda: a.job_state(job) in ("", "CANCELLED"), 60, "the run's job cancelled on A")
