"""Requeues on real clusters: a job longer than its time limit checkpoints on SIGUSR2 and finishes in
its second attempt; `scontrol requeue` by hand; attempts used up (TIMEOUT, with how far it got); a
preemption on a cluster with a preemptable partition; and the same protocol on the local backend.
Every job runs examples/requeue/train.py, the README's example.

The SLURM runs mostly wait on time limits, so they run on isolated clusters (tests/clusters.py) of their
own, in the `isolated` pytest process beside the main one: the time limit, requeue-by-hand and
attempts-used-up runs, and a Lightning-like script's (requeue.signal: USR1), are submitted together to
one cluster with a CPU for each (one module fixture)
and waited for by their tests, so their minutes overlap. A requeued SLURM job waits ~2 minutes
(Reason=BeginTime) before it may start again: a thread here moves the start of the jobs a test hands
it to now (`scontrol update StartTime=now`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.clusters import IsolatedCluster, isolated_cluster
from tests.helpers import REPO, cli, git, make_project, manifest, no_traceback

EXAMPLE = REPO / "examples" / "requeue" / "train.py"
CONFIG = REPO / "configs" / "examples" / "requeue.yaml"


def config_text(name: str, steps: int, time_limit: str, requeue: str, extra: str = "") -> str:
    return (
        f"name: {name}\n"
        "command: python examples/requeue/train.py --steps {steps} --step-seconds {step_seconds}\n"
        f"params: {{steps: {steps}, step_seconds: 1.0}}\n"
        "smoke: {params: {steps: 3, step_seconds: 0.01}, timeout: 60}\n"
        f'resources: {{time: "{time_limit}", mem: 200M{extra}}}\n'
        f"requeue: {requeue}\n"
        "metrics: {file: metrics.jsonl}\n"
    )


def new_project(root: Path, name: str, text: str) -> Path:
    return make_project(
        root,
        {"examples/requeue/train.py": EXAMPLE.read_text(), f"configs/{name}.yaml": text},
    )


def uninterrupted(steps: int, tmp: Path) -> dict[str, Any]:
    """The example's last metrics line when it runs all its steps at once (no signal, no sleeping)."""
    metrics = tmp / f"reference-{steps}.jsonl"
    env = {**os.environ, "CLUSTERRUN_METRICS_FILE": str(metrics), "CLUSTERRUN_CHECKPOINT_DIR": str(tmp)}
    subprocess.run(
        [sys.executable, str(EXAMPLE), "--steps", str(steps), "--step-seconds", "0"], env=env, check=True
    )
    last: dict[str, Any] = json.loads(metrics.read_text().splitlines()[-1])
    return last


def submit(project: Path, name: str, env: dict[str, str] | None = None) -> Path:
    """Submit configs/<name>.yaml to SLURM (the cluster `env` names); the run directory."""
    result = cli(["submit", f"configs/{name}.yaml", "--backend", "slurm"], project, env=env)
    assert result.returncode == 0, result.stderr
    runs = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def summary(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "summary.json").read_text())
    return data


def story(run: Path, env: dict[str, str] | None = None, releaser: Releaser | None = None) -> str:
    """What a failed assertion shows of a run: its state history, attempts and last events, what
    accounting and the controller say of its job now, and what the releaser did (a CI failure on a
    loaded machine is read from this, the run directory and the cluster being gone by then)."""
    record = manifest(run)
    lines = [f"state history: {record.get('state_history')}"]
    lines += [f"attempt: {a}" for a in record.get("attempts") or []]
    events = (run / "events.jsonl").read_text().splitlines() if (run / "events.jsonl").is_file() else []
    lines += [f"event: {line[:400]}" for line in events[-12:]]
    job = str(record.get("job_id") or "")
    if job and env is not None:
        fields = "jobid,state,exitcode,submit,start,end,jobname"
        for argv in (
            ["sacct", "-n", "-P", "-X", "-D", "-j", job, "-o", fields],
            ["squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T|%r|%V|%S|%j"],
        ):
            done = subprocess.run(
                argv, capture_output=True, text=True, env={**os.environ, **env}, check=False, timeout=30
            )
            lines.append(f"{argv[0]} now: {(done.stdout + done.stderr).strip()!r}")
    if releaser is not None:
        lines += [f"pending reasons seen: {releaser.seen}", *[f"update: {u}" for u in releaser.updates[-8:]]]
    return "\n".join(lines)


def status_of(project: Path, run: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = cli(["status", run.name, "--json"], project, env=env)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    row: dict[str, Any] = json.loads(result.stdout)["runs"][0]
    return row


def wait_until_ended(
    project: Path, run: Path, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    row = status_of(project, run, env)
    while row["summary"] is None:
        assert time.monotonic() < deadline, f"{run.name} still {row['state']} after {timeout:.0f} s"
        time.sleep(3)
        row = status_of(project, run, env)
    return row


def metric_lines(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


# --- the SLURM runs, submitted together ----------------------------------------------------------


#: How long a requeued job waits for its BeginTime before the releaser moves its start to now. SLURM
#: delays a requeued job so that its previous run is cleaned up first: released in the second of its
#: requeue, the next run failed at once (sacct: FAILED 1:0, no wrapper started; CI, twice, read as
#: clusterrun's wrong verdicts until test_requeue's story printed sacct and the releaser's updates).
SETTLE = 20.0


@dataclass
class Releaser:
    """Moves the start of the given jobs to now once they have waited SETTLE seconds for their BeginTime
    after a requeue (SLURM's own delay is about two minutes)."""

    env: dict[str, str] = field(default_factory=dict)
    jobs: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    seen: dict[str, str] = field(default_factory=dict)  # job id -> the last reason it waited for
    updates: list[str] = field(default_factory=list)  # what each `scontrol update` answered
    waiting: dict[str, float] = field(default_factory=dict)  # job id -> when it was first seen waiting

    def run(self) -> None:
        while not self.stop.wait(2.0):
            if not self.jobs:
                continue
            # every pending job, filtered here: a list given to -j fails whole on some SLURM versions
            # when one of its jobs has left the controller
            result = subprocess.run(
                ["squeue", "-h", "-t", "PENDING", "-o", "%i|%r"],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                check=False,
            )
            waiting_now: set[str] = set()
            for line in result.stdout.splitlines():
                job_id, _, reason = line.partition("|")
                job_id = job_id.strip()
                if job_id not in self.jobs:
                    continue
                self.seen[job_id] = reason.strip()
                if reason.strip() != "BeginTime":
                    continue
                waiting_now.add(job_id)
                since = self.waiting.setdefault(job_id, time.monotonic())
                if time.monotonic() - since >= SETTLE:
                    self.waiting.pop(job_id)
                    done = subprocess.run(
                        ["scontrol", "update", f"jobid={job_id}", "StartTime=now"],
                        capture_output=True,
                        text=True,
                        env={**os.environ, **self.env},
                        check=False,
                    )
                    answer = (done.stderr or done.stdout).strip()
                    self.updates.append(f"{time.strftime('%H:%M:%S')} {job_id}: {done.returncode} {answer}")
            for job_id in set(self.waiting) - waiting_now:  # started (or gone): a later requeue waits anew
                self.waiting.pop(job_id)

    @classmethod
    @contextlib.contextmanager
    def started(cls, env: dict[str, str] | None = None) -> Iterator[Releaser]:
        releaser = cls(env=dict(env or {}))
        thread = threading.Thread(target=releaser.run, daemon=True)
        thread.start()
        try:
            yield releaser
        finally:
            releaser.stop.set()
            thread.join(timeout=10)


@dataclass
class SlurmRuns:
    projects: dict[str, Path]
    runs: dict[str, Path]
    releaser: Releaser
    cluster: IsolatedCluster

    @property
    def env(self) -> dict[str, str]:
        """The environment that selects the runs' cluster (SLURM_CONF)."""
        return self.cluster.env

    def job_id(self, key: str) -> str:
        return str(manifest(self.runs[key])["job_id"])


#: (a) 250 steps of 1 s need longer than the 4-minute limit; SIGUSR2 comes 30 s before it (SLURM may
#: send it up to a minute early: after 150-210 s), so attempt 2 has 40-100 s left to do, and its own
#: warning comes no sooner than 150 s in: it finishes.
TIMEOUT_STEPS = 250
#: (c) two attempts of 2 minutes cannot do 400 steps of 1 s.
EXHAUSTED_STEPS = 400
#: (b) 40 steps, requeued by hand after a few.
BY_HAND_STEPS = 40


#: (d) a Lightning-like script, 100 steps of 1 s with a 2-minute limit: two attempts or three.
LIGHTNING_STEPS = 100
#: What PyTorch Lightning's SLURM auto-requeue does (its SignalConnector), without Lightning: on SIGUSR1
#: it saves a checkpoint (hpc_ckpt, in its working directory) and runs `scontrol requeue` itself, then
#: goes on; it bypasses SIGTERM; a new run restores the checkpoint. It never handles SIGUSR2.
LIGHTNING_LIKE = """\
import argparse, json, os, signal, subprocess, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int)
p.add_argument("--step-seconds", type=float)
a = p.parse_args()
ckpt = "hpc_ckpt.json"
state = json.load(open(ckpt)) if os.path.exists(ckpt) else {"step": 0}
print("resumed from", state["step"], flush=True)
def on_usr1(*_):
    with open(ckpt + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(ckpt + ".tmp", ckpt)
    print("saved at", state["step"], flush=True)
    subprocess.call(["scontrol", "requeue", os.environ["SLURM_JOB_ID"]])
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, lambda *_: print("Bypassing SIGTERM", flush=True))
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as m:
    while state["step"] < a.steps:
        time.sleep(a.step_seconds)
        state["step"] += 1
        print(json.dumps({"step": state["step"]}), file=m, flush=True)
"""

#: the four runs, and the by-hand run's `reproduce`, each hold one CPU: all run at once
RUNS_CPUS = 5


@pytest.fixture(scope="module")
def slurm_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmRuns]:
    configs = {
        "timeout": config_text(
            "rqtimeout",
            TIMEOUT_STEPS,
            "00:04:00",
            "{on: [preemption, node_fail, timeout], max_attempts: 3, signal_grace: 30}",
        ),
        "byhand": config_text("rqbyhand", BY_HAND_STEPS, "00:05:00", "{max_attempts: 3}"),
        "exhausted": config_text(
            "rqexhausted", EXHAUSTED_STEPS, "00:02:00", "{on: [timeout], max_attempts: 2, signal_grace: 30}"
        ),
    }
    configs["lightning"] = config_text(
        "rqlightning",
        LIGHTNING_STEPS,
        "00:02:00",
        "{on: [timeout], max_attempts: 3, signal_grace: 30, signal: USR1}",
    ).replace("examples/requeue/train.py", "lightning_like.py")
    projects = {
        key: new_project(tmp_path_factory.mktemp(key) / "proj", key, text) for key, text in configs.items()
    }
    (projects["lightning"] / "lightning_like.py").write_text(LIGHTNING_LIKE)
    git(projects["lightning"], "add", "-A")
    git(projects["lightning"], "commit", "-q", "-m", "lightning-like")
    with (
        isolated_cluster("requeue", cpus=RUNS_CPUS) as cluster,
        Releaser.started(cluster.env) as releaser,
    ):
        runs = {key: submit(project, key, env=cluster.env) for key, project in projects.items()}
        found = SlurmRuns(projects, runs, releaser, cluster)
        releaser.jobs.update({found.job_id(k) for k in ("timeout", "exhausted", "lightning")})  # (b): its own
        yield found


@pytest.mark.isolated
def test_scontrol_requeue_by_hand_runs_a_second_attempt_shown_as_requeued(slurm_runs: SlurmRuns) -> None:
    project, run = slurm_runs.projects["byhand"], slurm_runs.runs["byhand"]
    job_id, env = slurm_runs.job_id("byhand"), slurm_runs.env
    deadline = time.monotonic() + 600  # the cluster may be busy
    while metric_lines(run) < 5:  # running, a few steps done (this test comes first: it is still running)
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(1)
    slurm_runs.cluster.run("scontrol", "requeue", job_id)
    deadline = time.monotonic() + 120
    row = status_of(project, run, env)
    while row["state"] != "requeued":
        assert time.monotonic() < deadline, f"never seen requeued: {row['state']}"
        time.sleep(2)
        row = status_of(project, run, env)
    assert (row["attempt"], row["max_attempts"]) == (2, 3)
    assert "REQUEUED (2/3)" in cli(["status", run.name], project, env=env).stdout
    slurm_runs.releaser.jobs.add(job_id)  # now it may start again
    row = wait_until_ended(project, run, timeout=300, env=env)
    done = summary(run)
    assert row["state"] == "completed" and done["attempt_count"] == 2, story(
        run, slurm_runs.env, slurm_runs.releaser
    )
    first, second = done["attempts"]
    assert first["reason"] == "requeued" and first["requeued_by"] == "scheduler"  # sacct: REQUEUED
    assert "SIGTERM" in first["signals"] and first["checkpoint"] is not None  # the example saved on TERM
    assert second["reason"] == "completed" and second["attempt"] == 2
    assert "attempt=2" in (run / "stdout.log").read_text()  # CLUSTERRUN_ATTEMPT
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, BY_HAND_STEPS + 1))  # resumed where the checkpoint was
    assert manifest(run)["attempts"][1]["offsets"]["metrics.jsonl"] > 0
    # reproduce keeps the requeue section, and a run that took two attempts reproduces one that took one
    again = cli(["reproduce", run.name, "--wait"], project, env=env, timeout=300)
    assert again.returncode == 0 and "REPRODUCED" in again.stdout, again.stdout + again.stderr
    copies = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file() and p != run]
    assert len(copies) == 1 and manifest(copies[0])["config"]["requeue"] == manifest(run)["config"]["requeue"]


@pytest.mark.isolated
def test_a_job_longer_than_its_time_limit_resumes_and_finishes_in_its_second_attempt(
    slurm_runs: SlurmRuns, tmp_path: Path
) -> None:
    project, run = slurm_runs.projects["timeout"], slurm_runs.runs["timeout"]
    sbatch = (run / "sbatch.sh").read_text()
    assert "#SBATCH --signal=USR2@30" in sbatch and "#SBATCH --requeue" in sbatch
    row = wait_until_ended(project, run, timeout=900, env=slurm_runs.env)
    done = summary(run)
    assert row["state"] == "completed" and done["success"], story(run, slurm_runs.env, slurm_runs.releaser)
    assert done["attempt_count"] == 2, done["attempts"]
    first, second = done["attempts"]
    assert (first["reason"], first["requeued_by"], first["signals"]) == (
        "time_limit",
        "clusterrun",
        ["SIGUSR2"],
    )
    assert (
        first["checkpoint"]["path"] == "checkpoints/state.json" and 100 < first["last_step"] < TIMEOUT_STEPS
    )
    assert second["reason"] == "completed" and second["last_step"] == TIMEOUT_STEPS
    assert first["job_id"] == second["job_id"] == manifest(run)["job_id"]  # the same job, requeued
    # the second attempt resumed: it logged the steps after the checkpoint, once each
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, TIMEOUT_STEPS + 1))
    assert done["metrics"] == uninterrupted(TIMEOUT_STEPS, tmp_path)  # the same result as one long run
    stdout = (run / "stdout.log").read_text()
    assert (
        "=== clusterrun: attempt 2 (" in stdout
        and f"step={TIMEOUT_STEPS}" in stdout
        and "attempt=2" in stdout
    )
    assert "=== clusterrun: attempt 2 (" in (run / "stderr.log").read_text()
    # duration and CPU-hours add both attempts up (the limit is 4 minutes a time)
    assert done["duration_seconds"] > 240
    assert done["efficiency"]["cpu_hours_used"] == pytest.approx(done["duration_seconds"] / 3600, rel=0.01)
    # ... and the time share is the longest attempt's against the limit each attempt has, never over 100%
    longest = done["efficiency"]["longest_attempt_seconds"]
    assert 0 < longest <= 240 + 60 and done["efficiency"]["time_efficiency"] == round(longest / 240, 3)
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    started = [e["attempt"] for e in events if e["event"] == "job_started"]
    assert started == [1, 2] and any(e["event"] == "requeued" and e["by"] == "clusterrun" for e in events)
    shown = cli(["status", run.name], project, env=slurm_runs.env)
    assert "COMPLETED (2/3)" in shown.stdout and "Attempts: 2: #1 " in shown.stdout


@pytest.mark.isolated
def test_a_script_that_checkpoints_and_requeues_itself_on_sigusr1_resumes_like_lightning(
    slurm_runs: SlurmRuns,
) -> None:
    """PyTorch Lightning's SLURM auto-requeue listens for SIGUSR1: with clusterrun's SIGUSR2 it never
    saved its checkpoint (the signal was ignored, then the job stopped at the deadline) and every attempt
    started from scratch. With requeue.signal: USR1 the wrapper sends it SIGUSR1 for the time-limit
    warning, and the script saves, requeues its own job, and the next attempt resumes."""
    project, run = slurm_runs.projects["lightning"], slurm_runs.runs["lightning"]
    assert "#SBATCH --signal=USR2@30" in (run / "sbatch.sh").read_text()
    row = wait_until_ended(project, run, timeout=900, env=slurm_runs.env)
    done = summary(run)
    assert row["state"] == "completed" and done["success"], story(run, slurm_runs.env, slurm_runs.releaser)
    assert done["attempt_count"] >= 2, done["attempts"]
    stdout = (run / "stdout.log").read_text()
    saved = [int(line.split()[-1]) for line in stdout.splitlines() if line.startswith("saved at ")]
    resumed = [int(line.split()[-1]) for line in stdout.splitlines() if line.startswith("resumed from ")]
    assert saved and resumed[0] == 0, stdout
    assert resumed[1:] == saved[: len(resumed) - 1], stdout  # each attempt went on from the last save
    # the script requeued its own job: SLURM stopped the attempt (its record is sacct's: REQUEUED)
    first = done["attempts"][0]
    assert (first["reason"], first["requeued_by"]) == ("requeued", "scheduler"), done["attempts"]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "signal" and e.get("sent") == "SIGUSR1" for e in events)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == LIGHTNING_STEPS
    assert "(the command gets SIGUSR1 for it)" in cli(["show", run.name], project, env=slurm_runs.env).stdout


@pytest.mark.isolated
def test_attempts_used_up_end_timeout_with_how_far_it_got(slurm_runs: SlurmRuns) -> None:
    project, run = slurm_runs.projects["exhausted"], slurm_runs.runs["exhausted"]
    row = wait_until_ended(project, run, timeout=900, env=slurm_runs.env)
    done = summary(run)
    assert row["state"] == "timeout", story(run, slurm_runs.env, slurm_runs.releaser)
    assert done["attempt_count"] == 2 and [a["reason"] for a in done["attempts"]] == [
        "time_limit",
        "time_limit",
    ]
    assert done["attempts"][0]["requeued_by"] == "clusterrun" and not done["attempts"][1].get("requeued_by")
    diagnosis = done["diagnosis"]
    assert diagnosis["category"] == "time_limit"
    assert "attempt 2 of 2 (requeue.max_attempts: all used)" in diagnosis["evidence"]
    assert (
        "got to step" in diagnosis["evidence"]
        and "last checkpoint checkpoints/state.json" in diagnosis["evidence"]
    )
    assert diagnosis["fix"].startswith("requeue.max_attempts=")
    assert diagnosis["details"]["last_step"] == done["attempts"][1]["last_step"] < EXHAUSTED_STEPS
    shown = cli(["show", run.name], project, env=slurm_runs.env)
    assert "requeue.max_attempts=" in shown.stdout and "Requeue: on timeout; up to 2 attempts" in shown.stdout


# --- preemption, on an isolated cluster with a preemptable partition ---------------------------------


@pytest.mark.isolated
def test_a_preempted_job_is_requeued_by_slurm_and_resumes(tmp_path: Path) -> None:
    steps = 40
    text = config_text("rqpreempt", steps, "00:10:00", "{max_attempts: 3}")
    project = new_project(tmp_path / "proj", "preempt", text)
    with (
        isolated_cluster("preempt", preemption=True, cpus=1) as cluster,
        Releaser.started(cluster.env) as releaser,
    ):
        run = submit(project, "preempt", env=cluster.env)
        job_id = str(manifest(run)["job_id"])
        deadline = time.monotonic() + 120
        while metric_lines(run) < 5:
            assert time.monotonic() < deadline, "the low-priority job did not start"
            time.sleep(1)
        high = cluster.sbatch("--partition=high", "--time=1", "--wrap", "sleep 5")  # takes the node
        deadline = time.monotonic() + 120
        row = status_of(project, run, cluster.env)
        while row["state"] != "requeued":
            assert time.monotonic() < deadline, f"never seen requeued: {row['state']}"
            time.sleep(2)
            row = status_of(project, run, cluster.env)
        releaser.jobs.add(job_id)
        row = wait_until_ended(project, run, timeout=300, env=cluster.env)
        assert cluster.job_state(high) in ("", "COMPLETED")
    done = summary(run)
    assert row["state"] == "completed" and done["attempt_count"] == 2, story(run, cluster.env)
    first = done["attempts"][0]
    assert first["reason"] == "preempted" and first["requeued_by"] == "scheduler", first
    assert first["checkpoint"] is not None
    steps_logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(1, steps + 1))
    assert done["metrics"] == uninterrupted(steps, tmp_path)


# --- the local backend: submitit's controller restarts the job --------------------------------------


def test_on_the_local_backend_the_job_restarts_and_resumes(tmp_path: Path) -> None:
    steps = 15  # 15 s of work; SIGUSR2 comes after 10 s (a 1-minute limit, 50 s of grace)
    text = config_text("rqlocal", steps, "00:01:00", "{on: [timeout], max_attempts: 3, signal_grace: 50}")
    project = new_project(tmp_path / "proj", "local", text)
    result = cli(["submit", "configs/local.yaml", "--backend", "local", "--wait"], project, timeout=200)
    assert result.returncode == 0, result.stderr
    run = next(p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file())
    done = summary(run)
    assert done["state"] == "completed" and done["attempt_count"] == 2, done.get("attempts")
    assert [a["reason"] for a in done["attempts"]] == ["time_limit", "completed"]
    assert done["metrics"] == uninterrupted(steps, tmp_path)
    assert "=== clusterrun: attempt 2 (" in (run / "stdout.log").read_text()
    assert done["duration_seconds"] == pytest.approx(sum(a["seconds"] for a in done["attempts"]), abs=0.01)


def test_the_readme_example_is_the_tested_script() -> None:
    """The README's code block is examples/requeue/train.py's core, line for line (this script is the
    one every test here runs), and configs/examples/requeue.yaml runs it."""
    assert "examples/requeue/train.py" in CONFIG.read_text()
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Long jobs: preemption and time limits", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = EXAMPLE.read_text()
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) >= 15
    for line in lines:
        assert line in script, line
