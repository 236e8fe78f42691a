"""A sweep the cluster's queue cannot hold (issue 13: sweeps of thousands). SLURM refuses a submission
that would bring its jobs to MaxJobCount (each task of a job array counts; `job_allocate: MaxJobCount
limit from slurm.conf reached`), and sbatch then retries, sleeping 1, 2, ... s, for about 2 minutes.
On an isolated cluster with MaxJobCount=4 (tests/clusters.py; the main cluster is never reconfigured):

- a sweep that no queue of this cluster can hold is refused before its smoke test, with the limit and
  what to do, and nothing is recorded;
- a sweep that fits an empty queue but not the queue as others have filled it: clusterrun's time limit
  on sbatch ends the wait with the cause (the controller refused it, its queue full), not a bare "did
  not answer"; the runs stay `submitting` (status adopts a job a last retry got in);
- sbatch's own retries running out: the runs are `submit_failed`, with the cause and what to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clusters import isolated_cluster
from tests.helpers import REPO, cli, git, manifest, no_traceback

pytestmark = [pytest.mark.isolated]
SKIP = ["--backend", "slurm", "--yes", "--skip-smoke", "tested on an isolated cluster", "--no-watch"]


def _sweep(project: Path, name: str, members: int) -> str:
    config = (project / "configs" / "quickstart.yaml").read_text()
    (project / "configs" / f"{name}.yaml").write_text(
        config.replace("name: quickstart", f"name: {name}")
        + f"sweep:\n  grid: {{seed: {list(range(members))}}}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", name)
    return f"configs/{name}.yaml"


def _runs(project: Path, name: str) -> list[dict[str, object]]:
    root = project / "runs"
    return [manifest(p) for p in sorted(root.glob(f"{name}_*")) if (p / "manifest.json").is_file()]


def test_a_sweep_the_queue_cannot_hold_is_refused_with_its_cause(project: Path) -> None:
    four, two = _sweep(project, "four", 4), _sweep(project, "two", 2)
    with isolated_cluster("qfull", conf=["MaxJobCount=4", "MinJobAge=2"]) as c:
        # 4 members can never be taken at once: refused before anything runs or is written
        refused = cli(["submit", four, "--backend", "slurm", "--yes"], project, env=c.env)
        assert refused.returncode == 2, refused.stderr
        no_traceback(refused)
        assert "4 members, but the cluster takes at most 3 jobs at once (MaxJobCount=4" in refused.stderr
        assert "submit it in parts of at most 3 members" in refused.stderr
        assert "smoke test" not in refused.stderr and not _runs(project, "four")

        # 2 members fit an empty queue; with 2 jobs of someone else's in it, the controller refuses them
        held = [c.sbatch("--hold", "-o", "/dev/null", "--wrap", "true") for _ in range(2)]
        env = {**os.environ, **c.env, "PYTHONPATH": str(REPO), "CLUSTERRUN_SBATCH_TIMEOUT": "200"}
        env.pop("CLUSTERRUN_RUNS_DIR", None)
        patient = subprocess.Popen(  # lets sbatch retry until it gives up by itself (about 2 minutes)
            [sys.executable, "-m", "clusterrun", "submit", two, "--json", *SKIP],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            quick = cli(["submit", two, *SKIP], project, env={**c.env, "CLUSTERRUN_SBATCH_TIMEOUT": "6"})
            assert quick.returncode != 0
            no_traceback(quick)
            assert "the SLURM controller refused the job for 6 s, its queue full or busy" in quick.stderr
            assert "sleeping and retrying" in quick.stderr and "MaxJobCount|MinJobAge" in quick.stderr
            out, err = patient.communicate(timeout=300)
        finally:
            if patient.poll() is None:
                patient.kill()
        assert patient.returncode != 0, out
        assert "refused the job, its queue full or busy, through all of sbatch's retries" in err, err
        assert "Resource temporarily unavailable" in err and "squeue -h | wc -l" in err
        states = sorted(str(m["state"]) for m in _runs(project, "two"))
        # the patient submit's runs failed for good; the quick one's wait for status to look them up
        assert states == ["submit_failed", "submit_failed", "submitting", "submitting"], states
        queued = c.run("squeue", "-h", "-o", "%i").stdout.split()
        assert sorted(queued) == sorted(held), queued  # nothing of the refused sweeps got in
