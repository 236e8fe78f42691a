"""The promise: git in a job says what the run is. W&B, MLflow, Lightning's loggers and many scripts
record the code's commit with `git rev-parse HEAD` (GitPython's repo.head.commit) from where the job
runs. The run's copy lives in the registry, inside the checkout, so git found the checkout's repository
and answered its HEAD of the moment: a commit made after `submit` was recorded as the run's (found by a
user trial). Each copy's .git now points to a view of the snapshot's commit.

The job waits for the test's gate; meanwhile the checkout commits again; then the job asks git."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clusterrun.inputs.workdir import GIT_VIEW
from tests.helpers import WAIT_FOR_GATE, cli, committed, git, only_run

ASK = (
    WAIT_FOR_GATE
    + """\
import subprocess
def ask(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
print("HEAD", ask("rev-parse", "HEAD"))
print("TOP", ask("rev-parse", "--show-toplevel"))
print("STATUS", repr(ask("status", "--porcelain", "--untracked-files=no")))
print("loss=1.0")
"""
)
CONFIG = (
    "name: ask\ncommand: python ask.py\nresources: {time: '00:05:00', mem: 500M}\n"
    "metrics: {patterns: {loss: 'loss=([0-9.]+)'}}\n"
)


def _asked(tmp_path: Path, backend: str) -> tuple[str, str, Path]:
    root = committed(tmp_path / "proj", {"ask.py": ASK, "configs/ask.yaml": CONFIG})
    submitted = git(root, "rev-parse", "HEAD").strip()
    gate = tmp_path / "gate"
    env = {"GATE": str(gate)}
    result = cli(["submit", "configs/ask.yaml", "--backend", backend, "--yes", "--no-watch"], root, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    (root / "ask.py").write_text(ASK + "# edited\n")
    git(root, "commit", "-q", "-am", "later")  # the checkout moves on before the job asks
    gate.touch()
    run = only_run(root)
    watched = cli(["status", run.name, "--watch"], root, env=env, timeout=240)
    assert watched.returncode == 0, watched.stderr + watched.stdout
    return submitted, (run / "stdout.log").read_text(), run


def test_a_local_jobs_git_answers_the_runs_commit_not_the_checkouts_later_one(tmp_path: Path) -> None:
    submitted, stdout, run = _asked(tmp_path, "local")
    assert f"HEAD {submitted}\n" in stdout, stdout
    assert f"TOP {run / 'work'}\n" in stdout
    assert "STATUS ''" in stdout  # clean: the run's code is the commit
    # a reproduction of a run whose snapshot was made before git views gets one too
    root = run.parent.parent
    snapshot_dir = Path(json.loads((run / "manifest.json").read_text())["snapshot"]["path"])
    shutil.rmtree(snapshot_dir / GIT_VIEW)
    again = cli(
        ["reproduce", run.name, "--wait", "--yes"], root, env={"GATE": str(tmp_path / "gate")}, timeout=240
    )
    assert again.returncode == 0, again.stderr + again.stdout
    copy = next(p for p in (root / "runs").iterdir() if p.name.startswith("ask_") and p != run)
    assert f"HEAD {submitted}\n" in (copy / "stdout.log").read_text()


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_slurm_jobs_git_answers_the_runs_commit(tmp_path: Path) -> None:
    submitted, stdout, run = _asked(tmp_path, "slurm")
    assert f"HEAD {submitted}\n" in stdout, stdout
    assert f"TOP {run / 'work'}\n" in stdout
