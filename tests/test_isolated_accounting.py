"""Issue 9, item 4: accounting down is said (once per refresh), and a state inferred from weak evidence
(the job's own exit record) is replaced when the scheduler's own word arrives. On an isolated cluster
whose slurmdbd is stopped and started again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.clusters import isolated_cluster
from tests.helpers import cli, no_traceback
from tests.isolated_runs import add_config, manifest_of, sacct_states, submit, wait_until

pytestmark = [pytest.mark.isolated]
SACCT_DOWN = "sacct unavailable: states from squeue and the job's own records"
EXIT_GRACE = 30  # services/status.py: the scheduler's time to catch up before exit.json decides


def test_a_raw_scancel_seen_only_through_the_exit_record_is_corrected_when_accounting_returns(
    project: Path,
) -> None:
    with isolated_cluster("acctdown", conf=["MinJobAge=2"]) as c:
        env = {**c.env, "CLUSTERRUN_POLL_MAX_AGE": "0"}
        run = submit(project, add_config(project, "victim", "sleep 600"), env)
        job, run_dir = run["job_id"], project / "runs" / run["run_id"]
        events = run_dir / "events.jsonl"
        wait_until(lambda: events.exists() and "job_started" in events.read_text(), 60, "the job started")
        c.stop_dbd()
        c.run("scancel", job)  # not through clusterrun: nothing in the run's records says cancelled
        wait_until(lambda: (run_dir / "exit.json").exists(), 60, "the job's wrapper wrote its exit record")
        c.wait_job_gone(job)  # the controller has forgotten it too (MinJobAge=2)
        ended = json.loads((run_dir / "exit.json").read_text())["ended"]
        time.sleep(max(0.0, ended + EXIT_GRACE + 1 - time.time()))

        down = cli(["status", "--json"], project, env=env)
        assert down.returncode == 0, down.stderr
        no_traceback(down)
        assert down.stderr.count(SACCT_DOWN) == 1, down.stderr
        assert sum(SACCT_DOWN in w for w in json.loads(down.stdout)["warnings"]) == 1
        inferred = manifest_of(run_dir)
        assert inferred["state"] == "failed" and inferred["state_source"] == "exit.json", inferred[
            "state_history"
        ]

        c.start_dbd()  # slurmctld hands accounting the records it kept meanwhile
        wait_until(lambda: any(s.startswith("CANCELLED") for s in sacct_states(c, job)), 120, "sacct has it")
        up = cli(["status", "--json"], project, env=env)
        assert up.returncode == 0 and SACCT_DOWN not in up.stderr, up.stderr
        better = manifest_of(run_dir)
        assert better["state"] == "cancelled" and better["state_source"] == "sacct", better["state_history"]
        assert "replaces failed from exit.json" in better["state_history"][-1]["note"]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["state"] == "cancelled" and summary["success"] is False
        assert summary["diagnosis"]["category"] == "cancelled", summary["diagnosis"]
        # settled: the scheduler's word is not asked for again, and it stays
        again = cli(["status", "--json"], project, env=env)
        assert manifest_of(run_dir)["state_history"] == better["state_history"], again.stderr
