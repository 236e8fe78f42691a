"""Issue 13 (fast at the scale labs run), the behaviours behind the figures of bench/run_all.py: files
alike in every sweep member are written once and linked, while each member stays a complete run
directory; the local backend's `wait` looks at its jobs at a short interval; a refresh reads a sweep's
record once, not once per member."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from clusterrun import envknobs
from clusterrun.records import metric_history, store
from clusterrun.records.models import SweepRecord
from clusterrun.records.registry import Registry
from clusterrun.services import status as status_service
from clusterrun.services.status import DOWN_PAUSE, LOCAL_INTERVAL, RunStatus, StatusReport, wait
from clusterrun.services.submit import SubmitRequest, approve, submit
from tests.helpers import cli

SWEEP = ["params.lr=0.1,0.05,0.01"]


def _submit(project: Path, backend: str, dry_run: bool) -> tuple[Registry, list[Path], str]:
    registry = Registry(project / "runs")
    request = SubmitRequest(
        project / "configs" / "quickstart.yaml",
        overrides=["params.steps=5"],
        sweep_axes=SWEEP,
        backend=backend,
        dry_run=dry_run,
        cwd=project,
    )
    result = submit(request, registry, confirm=approve("yes"))
    assert result.sweep_id is not None
    return registry, [m.run.path for m in result.prepared.members], result.sweep_id


def test_sweep_members_link_shared_files_and_each_reads_alone(project: Path) -> None:
    registry, members, sweep_id = _submit(project, "local", dry_run=True)
    assert len(members) == 3
    envs = [m / "env.json" for m in members]
    assert len({os.stat(p).st_ino for p in envs}) == 1  # written once, linked into the others
    assert os.stat(envs[0]).st_nlink == 3
    for member, lr in zip(members, (0.1, 0.05, 0.01), strict=True):
        manifest = store.read_manifest(member)  # the member's directory alone, as every reader opens it
        assert manifest.sweep == sweep_id and manifest.state == "dry_run"
        assert manifest.config.params["lr"] == lr
        config = yaml.safe_load((member / "config.yaml").read_text())
        assert config["params"]["lr"] == lr and config == manifest.to_data()["config"]
        assert json.loads((member / "env.json").read_text())["python"]
        assert (member / "command.sh").is_file() and (member / "sbatch.sh").is_file()
    # a record is replaced by rename, never rewritten in place: a link never changes under another run
    store.write_manifest(members[0], store.read_manifest(members[0]))
    assert os.stat(envs[1]).st_nlink == 3
    assert registry.get(members[1].name).load_manifest().run_id == members[1].name


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_an_arrays_members_share_its_sbatch_script(project: Path) -> None:
    registry, members, sweep_id = _submit(project, "slurm", dry_run=False)
    try:
        scripts = [m / "sbatch.sh" for m in members]
        assert len({os.stat(p).st_ino for p in scripts}) == 1
        assert "#SBATCH --array=0-2" in scripts[0].read_text()
        assert os.access(scripts[1], os.X_OK)
        job_ids = {store.read_manifest(m).job_id for m in members}
        assert len(job_ids) == 3 and all(j and "_" in j for j in job_ids)
    finally:
        arrays = [a.job_id for a in store.read_sweep(registry.root / sweep_id).arrays]
        subprocess.run(["scancel", *arrays], check=False)


def _report(backend: str, states: list[str]) -> StatusReport:
    return StatusReport([RunStatus(f"r{i}", "r", s, "123", backend) for i, s in enumerate(states)], [], 0)


@pytest.mark.parametrize(
    ("backend", "expected"),
    [("local", [LOCAL_INTERVAL] * 4), ("slurm", [envknobs.WATCH_POLL.default] * 4)],
)
def test_wait_on_local_jobs_uses_the_short_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str, expected: list[float]
) -> None:
    answers = [_report(backend, ["running"])] * 4 + [_report(backend, ["completed"])]
    sleeps: list[float] = []
    monkeypatch.setattr(status_service, "refresh", lambda _registry, _ids, **_kw: answers.pop(0))
    monkeypatch.setattr(status_service.time, "sleep", sleeps.append)
    # local jobs: the pause is spent watching their exit records (a stat every EXIT_WATCH_STEP)
    # scheduler jobs: until the next question, watching the shared poll cache for another watch's answer
    monkeypatch.setattr(status_service, "_sleep_watching", lambda _paths, pause, *_step: sleeps.append(pause))
    monkeypatch.delenv("CLUSTERRUN_WATCH_POLL", raising=False)
    report = wait(Registry(tmp_path), ["r0"])
    assert [r.state for r in report.runs] == ["completed"]
    assert sleeps == expected


def test_a_watch_waits_longer_while_the_scheduler_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each question to a scheduler that is down may take a minute of sacct and squeue: the watch's pause
    doubles from CLUSTERRUN_WATCH_POLL to DOWN_PAUSE while it gets no answer, and is short again once it
    does (a watch that shares its answers need not hammer a controller that is down)."""
    down = replace(_report("slurm", ["running"]), unanswered=frozenset({"slurm"}))
    answers = [down] * 6 + [_report("slurm", ["running"]), down, _report("slurm", ["completed"])]
    sleeps: list[float] = []
    monkeypatch.setattr(status_service, "refresh", lambda _registry, _ids, **_kw: answers.pop(0))
    monkeypatch.setattr(status_service, "_sleep_watching", lambda _paths, pause, *_step: sleeps.append(pause))
    monkeypatch.delenv("CLUSTERRUN_WATCH_POLL", raising=False)
    wait(Registry(tmp_path), ["r0"])
    every = envknobs.WATCH_POLL.default
    assert sleeps == [every, 2 * every, 4 * every, 8 * every, DOWN_PAUSE, DOWN_PAUSE, every, every]


def test_a_sweeps_record_is_read_once_per_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(tmp_path / "runs")
    sweep = registry.create_sweep("exp")
    store.write_sweep(
        sweep.path,
        SweepRecord.model_validate(
            {"schema_version": 1, "sweep_id": sweep.id, "metric": "acc", "mode": "max", "members": []}
        ),
    )
    members = [registry.create("exp") for _ in range(5)]
    reads: list[Path] = []
    real = store.read_sweep
    monkeypatch.setattr(store, "read_sweep", lambda path: reads.append(path) or real(path))
    for member in members:
        assert metric_history.sweep_ranking(member, {"sweep": sweep.id}) == ("acc", "max")
    assert reads == [sweep.path]
    store.update_sweep(sweep.path, mode="min")  # a changed record is read again
    reads.clear()
    for member in members:
        assert metric_history.sweep_ranking(member, {"sweep": sweep.id}) == ("acc", "min")
    assert reads == [sweep.path]


class _Counted:
    """A Notify that also counts (as the CLI's Reporter does on a terminal): what each batch reported."""

    def __init__(self) -> None:
        self.batches: dict[str, list[int]] = {}

    def __call__(self, _message: str) -> None:
        pass

    def counting(self, message: str, total: int) -> contextlib.AbstractContextManager[Callable[[int], None]]:
        steps = self.batches.setdefault(f"{message} ({total})", [])
        return contextlib.nullcontext(steps.append)


def test_a_refresh_that_records_ended_runs_counts_them(project: Path) -> None:
    submitted = cli(
        [
            *["submit", "configs/quickstart.yaml", "params.steps=5", "--sweep", SWEEP[0]],
            "--backend",
            "local",
            "--json",
        ],
        project,
    )
    assert submitted.returncode == 0, submitted.stderr
    members = [m["run_id"] for m in json.loads(submitted.stdout)["members"]]
    registry = Registry(project / "runs")
    deadline = time.monotonic() + 120
    while not all((registry.root / m / "exit.json").exists() for m in members):  # ended, nobody looked
        assert time.monotonic() < deadline, "the local jobs did not end"
        time.sleep(0.5)
    counted = _Counted()
    report = status_service.refresh(registry, members, notify=counted)
    assert {r.state for r in report.runs} == {"completed"}
    assert counted.batches == {"recording the state of 3 runs (3)": [1, 2, 3]}
    again = _Counted()
    status_service.refresh(registry, members, notify=again)
    assert all(steps == [] for steps in again.batches.values())  # settled runs are shown as read
