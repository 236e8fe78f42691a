"""Against the real local SLURM cluster (scripts/local-slurm.sh up): submit, sacct, batched polling."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, git, manifest, no_traceback, only_run

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]


def sacct_rows(*args: str) -> list[list[str]]:
    out = subprocess.run(["sacct", "-n", "-P", *args], capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def sacct_state(job_id: str, timeout: float = 30) -> str:
    """Accounting may lag the job's end by a moment."""
    deadline = time.time() + timeout
    state = ""
    while time.time() < deadline:
        rows = sacct_rows("-X", "-o", "JobID,State", "-j", job_id)
        state = rows[0][1] if rows else ""
        if state and state not in ("PENDING", "RUNNING", "COMPLETING"):
            return state
        time.sleep(1)
    return state


def test_quickstart_on_slurm_completes_with_metrics(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    data = manifest(run)
    assert data["backend"] == "slurm" and data["state"] == "completed"
    assert sacct_state(data["job_id"]) == "COMPLETED"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success"] and summary["metrics"]["step"] == 200 and summary["metrics"]["loss"] < 0.05
    assert summary["node"]
    job_env = json.loads((run / "job_env.json").read_text())  # written by the job, on its node
    assert job_env["slurm"]["SLURM_JOB_ID"] == data["job_id"] and job_env["host"]
    script = (run / "sbatch.sh").read_text()
    assert f"#SBATCH --chdir={run / 'scheduler'}" in script  # never the shared snapshot
    assert "#SBATCH --mem=500M" in script and "#SBATCH --time=5" in script
    assert "step 200 loss=" in (run / "stdout.log").read_text()
    assert "step " not in (run / "stderr.log").read_text()  # stdout and stderr are separate


def test_setup_lines_and_env_reach_the_job(project: Path) -> None:
    (project / "configs" / "env.yaml").write_text(
        "name: envcheck\n"
        "command: python -c \"import os; print('SEED', os.environ['CLUSTERRUN_SEED'], "
        "os.environ['PYTHONHASHSEED'], os.environ['GREETING'], os.environ['FROM_SETUP'])\"\n"
        "seed: 7\n"
        'env: {GREETING: "hello world; $(touch /tmp/clusterrun-pwned)"}\n'
        "setup: ['export FROM_SETUP=yes']\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "env config")
    result = cli(["submit", "configs/env.yaml", "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    assert "SEED 7 7 hello world; $(touch /tmp/clusterrun-pwned) yes" in (run / "stdout.log").read_text()
    # setup runs once, in command.sh inside the run's own working directory, not in the sbatch script
    assert "export FROM_SETUP=yes" in (run / "command.sh").read_text()
    assert "export FROM_SETUP=yes" not in (run / "sbatch.sh").read_text()
    assert not Path("/tmp/clusterrun-pwned").exists()


def test_smoke_failure_sends_nothing_to_slurm(project: Path) -> None:
    name = f"broken{os.getpid()}{int(time.time())}"
    (project / "configs" / "broken.yaml").write_text(
        f"name: {name}\ncommand: python -c 'raise SystemExit(3)'\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "broken")
    result = cli(["submit", "configs/broken.yaml", "--backend", "slurm"], project)
    assert result.returncode == 1 and "smoke test FAILED (exited with code 3)" in result.stderr
    no_traceback(result)
    run = only_run(project)
    assert manifest(run)["job_id"] is None
    time.sleep(1)
    assert sacct_rows("-X", "-S", "now-1hour", "--name", run.name, "-o", "JobID") == []  # named by run id


def test_refused_by_sbatch_is_a_clear_error(project: Path) -> None:
    result = cli(
        # a reservation is not checked before submission (an unknown partition is: tests/test_preflight.py)
        ["submit", "configs/quickstart.yaml", "--backend", "slurm", "resources.reservation=nope"],
        project,
    )
    assert result.returncode == 3, result.stderr
    assert "sbatch refused the job" in result.stderr and "reservation is invalid" in result.stderr
    no_traceback(result)
    data = manifest(only_run(project))
    assert data["state"] == "submit_failed" and data["job_id"] is None


def _counting_shims(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """sacct/squeue wrappers that log each call, then run the real command."""
    shims = tmp_path / "shims"
    shims.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("sacct", "squeue"):
        real = shutil.which(tool)
        assert real
        (shims / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\nexec {real} "$@"\n')
        (shims / tool).chmod(0o755)
    return {"PATH": f"{shims}:{os.environ['PATH']}"}, log


def _calls(log: Path, tool: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith(tool)) if log.exists() else 0


def test_status_polls_all_runs_with_one_sacct(project: Path, tmp_path: Path) -> None:
    run_ids = []
    for lr in ("0.1", "0.05", "0.02"):
        result = cli(
            [
                "submit",
                "configs/quickstart.yaml",
                "--backend",
                "slurm",
                "--json",
                f"params.lr={lr}",
                "params.steps=100",
            ],
            project,
        )
        assert result.returncode == 0, result.stderr
        run_ids.append(json.loads(result.stdout)["run_id"])
    env, log = _counting_shims(tmp_path)
    env["CLUSTERRUN_POLL_MAX_AGE"] = "0"
    first = cli(["status", "--json"], project, env=env)
    assert first.returncode == 0, first.stderr
    # one sacct; squeue at most once, and only when jobs pend: for their reasons (Priority, Resources)
    assert _calls(log, "sacct") == 1 and _calls(log, "squeue") <= 1
    assert sorted(r["run_id"] for r in json.loads(first.stdout)["runs"]) == sorted(run_ids)
    # runs the first status saw completed are recorded: a refresh asks nothing about them
    recorded = all(r["state"] == "completed" for r in json.loads(first.stdout)["runs"])
    watched = cli(["status", "--watch"], project, env=env, timeout=300)
    assert watched.returncode == 0, watched.stderr
    refreshes = watched.stdout.count("run(s),")
    # at most one query per refresh, whatever the number of runs (a watch takes answers up to its
    # interval old: CLUSTERRUN_WATCH_POLL); some while runs were going; none when every run shown is
    # recorded ended
    polls = _calls(log, "sacct") - 1
    assert (polls == 0) if recorded else (1 <= polls <= refreshes), (recorded, polls, refreshes)
    assert _calls(log, "squeue") <= 1 + refreshes
    for run_id in run_ids:
        assert manifest(project / "runs" / run_id)["state"] == "completed"
    # a fresh answer is shared: another invocation within max-age asks the scheduler nothing
    env["CLUSTERRUN_POLL_MAX_AGE"] = "600"
    before = _calls(log, "sacct")
    assert cli(["status"], project, env=env).returncode == 0
    assert _calls(log, "sacct") == before


def test_a_moved_project_reads_as_it_did_where_it_ran(project: Path, tmp_path: Path) -> None:
    """`mv ~/project ~/work/project`: its SLURM runs are not DAMAGED ('scheduler_folder leads out of the
    run registry'), one whose end was not recorded yet is recorded there, and show and logs name the
    files where they are now."""
    (project / "configs" / "hello.yaml").write_text(
        'name: hello\ncommand: "echo hello from {seed}"\nresources: {time: "00:02:00", mem: 100M}\n'
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    waited = cli(["submit", "configs/hello.yaml", "--backend", "slurm", "--wait", "--json"], project)
    assert waited.returncode == 0, waited.stderr
    recorded = json.loads(waited.stdout)["run_id"]
    sent = cli(["submit", "configs/hello.yaml", "--backend", "slurm", "--json", "--force", "seed=7"], project)
    assert sent.returncode == 0, sent.stderr
    unrecorded = json.loads(sent.stdout)
    assert sacct_state(unrecorded["job_id"], timeout=120) == "COMPLETED"  # ended; its end not recorded yet
    assert manifest(project / "runs" / unrecorded["run_id"])["state"] != "completed"
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(project, moved)
    status = cli(["status"], moved)
    no_traceback(status)
    assert status.returncode == 0 and "leads out" not in status.stderr, status.stderr
    states = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines() if "hello_" in line}
    assert states == {recorded: "COMPLETED", unrecorded["run_id"]: "COMPLETED"}, status.stdout
    summary = json.loads((moved / "runs" / unrecorded["run_id"] / "summary.json").read_text())
    assert summary["logs"]["stdout"] == str(moved / "runs" / unrecorded["run_id"] / "stdout.log")
    shown = cli(["show", recorded], moved)
    assert shown.returncode == 0 and str(project) + "/" not in shown.stdout, shown.stdout
    assert f"Log File: {moved / 'runs' / recorded / 'stdout.log'}" in shown.stdout
    logs = cli(["logs", unrecorded["run_id"]], moved)
    assert logs.returncode == 0 and "hello from 7" in logs.stdout, logs.stdout + logs.stderr


MEMORY_JOB = """\
name: {name}
command: python -c "import sys, time; block = bytearray(80 * 2**20); time.sleep(3); sys.exit({code})"
smoke: {{timeout: 60}}
resources: {{time: "00:05:00", nodes: 1, cpus_per_task: 1, mem: 400M, gpus: 0}}
"""


def test_memory_used_is_what_the_cluster_counted(project: Path, tmp_path: Path) -> None:
    """A run's memory is accounting's (its steps' MaxRSS), completed or failed, read by the one sacct of
    the refresh: what SLURM counts against resources.mem includes the job's wrapper (some 40 MB of
    Python) besides the command, which is all exit.json's peak measures. (Reading the jobs' own records
    only, -X, and the command's peak for a completed job, took slurmdbd 0.18 s instead of 2.1 s for 10,000
    ended jobs, and showed 134M where the cluster had counted 174M: a sweep's suggested memory then left
    no margin; bench/RESULTS.md.)"""
    ids = {}
    for name, code in (("fine", 0), ("broken", 3)):
        (project / "configs" / f"{name}.yaml").write_text(MEMORY_JOB.format(name=name, code=code))
        git(project, "add", "-A")
        git(project, "commit", "-qm", name)
        smoke = ["--skip-smoke", "it fails on purpose"] if code else []
        result = cli(["submit", f"configs/{name}.yaml", "--backend", "slurm", "--json", *smoke], project)
        assert result.returncode == 0, result.stderr
        ids[name] = (json.loads(result.stdout)["run_id"], json.loads(result.stdout)["job_id"])
    for _, job_id in ids.values():
        assert sacct_state(job_id, timeout=120) in ("COMPLETED", "FAILED")
    env, log = _counting_shims(tmp_path)
    env["CLUSTERRUN_POLL_MAX_AGE"] = "0"
    result = cli(["status", "--json"], project, env=env)
    assert result.returncode == 0, result.stderr
    assert _calls(log, "sacct") == 1
    for name, (run_id, job_id) in ids.items():
        run = project / "runs" / run_id
        assert manifest(run)["state"] == ("completed" if name == "fine" else "failed")
        summary = json.loads((run / "summary.json").read_text())
        own = json.loads((run / "exit.json").read_text())["peak_rss_mb"]
        assert own > 80, own
        steps = sacct_rows("-j", job_id, "-o", "JobID,MaxRSS")
        measured = [float(rss[:-1]) / (1024 if rss.endswith("K") else 1) for _, rss in steps if rss]
        expected = max(measured) if measured else own
        assert summary["max_rss_mb"] == pytest.approx(expected, abs=1), (name, summary["max_rss_mb"], steps)
