"""An sbatch that succeeds but answers in words without a job id (a site's wrapper printing its own
message) must not lose the job SLURM accepted: the submit says so in one line (no internal error), the
run stays `submitting`, and the next `clusterrun status` adopts the job by its name. On the main cluster,
through a PATH shim around the real sbatch; the job runs `true`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli, git, manifest, no_traceback, only_run

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

#: the real sbatch, its answer replaced by a wrapper's own words
SHIM = """#!/bin/bash
{real} "$@" > /dev/null
rc=$?
echo "your job is queued, thanks"
exit $rc
"""


def test_an_unreadable_sbatch_answer_loses_no_job(project: Path, tmp_path: Path) -> None:
    (project / "configs" / "unread.yaml").write_text(
        'name: unread\ncommand: "true"\nresources: {time: "00:02:00", mem: 100M}\n'
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "unreadable answer")
    shims = tmp_path / "shim"
    shims.mkdir()
    real = subprocess.run(["bash", "-c", "command -v sbatch"], capture_output=True, text=True).stdout.strip()
    (shims / "sbatch").write_text(SHIM.format(real=real))
    (shims / "sbatch").chmod(0o755)
    env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    args = ["submit", "configs/unread.yaml", "--backend", "slurm", "--yes", "--skip-smoke", "answer test"]
    result = cli(args, project, env=env)
    no_traceback(result)
    try:
        assert result.returncode != 0, result.stdout
        assert "names no job id ('your job is queued, thanks')" in result.stderr, result.stderr
        assert "clusterrun status" in result.stderr  # what to do: the hint and the message say it
        run = only_run(project)
        assert manifest(run)["state"] == "submitting" and not manifest(run).get("job_id")
        status = cli(["status", run.name, "--json"], project)  # the real sbatch's world: no shim
        no_traceback(status)
        assert status.returncode == 0, status.stderr
        adopted = manifest(run)
        assert adopted.get("job_id"), adopted.get("state_history")
        assert adopted["state"] not in ("submitting", "submit_failed", "interrupted"), adopted["state"]
    finally:
        subprocess.run(["scancel", "-n", "unread"], check=False, capture_output=True)
        for run_dir in (project / "runs").glob("unread_*"):
            job = json.loads((run_dir / "manifest.json").read_text()).get("job_id")
            if job:
                subprocess.run(["scancel", str(job)], check=False, capture_output=True)
