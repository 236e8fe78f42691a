"""Issue 9, item 3: with accounting off and jobs purged from the controller, nothing waits forever.

Every wait has an overall --timeout; a job no source knows is `lost` after CLUSTERRUN_LOST_AFTER (see
test_isolated_job_ids.py for a killed job); and one damaged record in a listing does not switch off
the exit-record fallback for the other runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.clusters import isolated_cluster
from tests.helpers import cli, no_traceback
from tests.isolated_runs import add_config, manifest_of, submit, wait_until

pytestmark = [pytest.mark.isolated]
EXIT_GRACE = 30  # services/status.py


def _one_line_error(result_stderr: str, start: str) -> None:
    lines = [ln for ln in result_stderr.splitlines() if ln.startswith(("error:", "hint:"))]
    assert len(lines) == 2 and lines[0].startswith(start) and lines[1].startswith("hint: "), result_stderr


def test_waits_time_out_and_a_damaged_record_leaves_the_exit_record_fallback_on(project: Path) -> None:
    with isolated_cluster("lost", accounting="none", conf=["MinJobAge=2"]) as c:
        env = {**c.env, "CLUSTERRUN_POLL_MAX_AGE": "0"}
        ended = submit(project, add_config(project, "three", "sh -c 'exit 3'"), env)
        going = submit(project, add_config(project, "going", "sleep 600"), env)
        broken = submit(project, add_config(project, "broken", "true"), env)
        (project / "runs" / broken["run_id"] / "manifest.json").write_text("{ damaged")

        # every wait gives up at its --timeout, with one line and exit 1; the run goes on
        for args in (
            ["status", going["run_id"], "--watch", "--timeout", "3"],
            ["logs", going["run_id"], "-f", "--timeout", "3"],
            [
                "submit",
                "configs/going.yaml",
                "--backend",
                "slurm",
                "--skip-smoke",
                "t",
                "--wait",
                "--timeout",
                "3",
            ],
        ):
            started = time.monotonic()
            result = cli(args, project, env=env, timeout=120)
            assert result.returncode == 1, (args, result.stdout, result.stderr)
            assert time.monotonic() - started < 60, args
            no_traceback(result)
            _one_line_error(result.stderr, "error: still not ended after the --timeout of 3 s:")
        usage = cli(["status", "--timeout", "3"], project, env=env)
        assert usage.returncode == 2, usage.stderr
        _one_line_error(usage.stderr, "error: --timeout limits a wait: it needs --watch")

        # the ended run's job left the controller: only its exit record knows how it ended
        run_dir = project / "runs" / ended["run_id"]
        wait_until(lambda: (run_dir / "exit.json").exists(), 60, "the job's exit record")
        c.wait_job_gone(ended["job_id"])
        done = json.loads((run_dir / "exit.json").read_text())["ended"]
        time.sleep(max(0.0, done + EXIT_GRACE + 1 - time.time()))
        listing = cli(["status", "--json"], project, env=env)
        assert listing.returncode == 0, listing.stderr
        no_traceback(listing)
        rows = {r["run_id"]: r for r in json.loads(listing.stdout)["runs"]}
        assert rows[broken["run_id"]]["state"] == "damaged"
        assert rows[ended["run_id"]]["state"] == "failed", rows[ended["run_id"]]
        assert manifest_of(run_dir)["state_source"] == "exit.json"
        assert rows[going["run_id"]]["state"] == "running"
