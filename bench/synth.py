"""Registries of any size, fast: one template run made by the real CLI, cloned N times by writing valid
run directories directly (every path inside rewritten to the clone's own; run ids in creation order).

- `finished`: completed runs with their summary.json, as a registry of past runs is;
- `pending_summaries`: runs the manifest still calls running, as SLURM array members whose (real,
  finished) jobs have not been looked at since: the first `status` collects every summary. They share
  one sweep's scheduler folder with 2 log files per member, as a job array's members do.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import CLI, make_project, run

SKIP = {"work", "smoke", "scheduler", ".lock"}


def template_run(tmp: Path) -> Path:
    """A finished local run of the quickstart example, made by the real CLI."""
    project = make_project(tmp / "template-project")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("CLUSTERRUN_RUNS_DIR", None)
    run(
        [*CLI, "submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "params.steps=5"],
        project,
        env,
    )
    (found,) = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()]
    return found


def _files(template: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in template.iterdir() if p.is_file() and p.name not in SKIP}


def clone(
    template: Path,
    root: Path,
    count: int,
    *,
    name: str = "synth",
    start: datetime | None = None,
    job_ids: list[str] | None = None,
    identities: dict[str, dict[str, str]] | None = None,
    sweep: str | None = None,
) -> list[str]:
    """`count` clones of `template` under `root`, one second apart (newest last). With `job_ids`: SLURM
    runs still 'running' (no summary yet) with those jobs; with `sweep`: members of that sweep, sharing
    its scheduler folder. Returns the run ids."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("*\n")
    files = _files(template)
    old = str(template)
    base = start or datetime(2026, 1, 1)
    ids: list[str] = []
    sweep_folder = root / sweep / "scheduler" if sweep else None
    if sweep_folder is not None:
        sweep_folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        run_id = f"{name}_{(base + timedelta(seconds=i)).strftime('%Y%m%d-%H%M%S')}"
        path = root / run_id
        path.mkdir()
        (path / "artifacts").mkdir()
        (path / ".lock").touch()  # a submitted run has its lock file (made by its first update)
        new = str(path)
        for file_name, text in files.items():
            text = text.replace(old, new).replace(template.name, run_id)
            if file_name == "manifest.json":
                job = job_ids[i] if job_ids else None
                identity = (identities or {}).get(job or "")
                text = _manifest(text, job, sweep, sweep_folder, identity)
            elif file_name == "summary.json" and job_ids:
                continue
            (path / file_name).write_text(text)
        if sweep_folder is not None and job_ids:
            for suffix in ("_0_log.out", "_0_log.err"):
                (sweep_folder / f"{job_ids[i]}{suffix}").write_text("")
        ids.append(run_id)
    if sweep:
        _sweep_record(root / sweep, sweep, ids)
    return ids


def clone_array(
    template: Path, root: Path, array: str, members: int, identity: dict[str, str], sweep: str
) -> list[str]:
    """`clone` of `members` members of `sweep` whose jobs are the tasks of SLURM array `array` (all with
    the array's `identity`). Returns the run ids, in task order."""
    jobs = [f"{array}_{i}" for i in range(members)]
    return clone(template, root, members, job_ids=jobs, identities=dict.fromkeys(jobs, identity), sweep=sweep)


def _manifest(
    text: str,
    job_id: str | None,
    sweep: str | None,
    folder: Path | None,
    identity: dict[str, str] | None = None,
) -> str:
    data: dict[str, Any] = json.loads(text)
    if identity is not None:  # what a submit records of its job: the job's own accounting record then matches
        data["job_identity"] = identity
    if job_id is not None:  # made before any job in accounting, so every job can be its own
        early = "2020-01-01T00:00:00+00:00"
        data.update(backend="slurm", job_id=job_id, state="running", created=early)
        data["state_history"] = [
            {"state": state, "at": early} for state in ("created", "submitting", "submitted", "running")
        ]
    if sweep is not None:
        data.update(sweep=sweep, sweep_values={}, scheduler_folder=str(folder))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _sweep_record(path: Path, sweep_id: str, ids: list[str]) -> None:
    record = {
        "schema_version": 1,
        "sweep_id": sweep_id,
        "name": "synth",
        "axes": [],
        "metric": "loss",
        "mode": "min",
        "members": [{"run_id": i, "values": {}} for i in ids],
    }
    (path / "sweep.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
