"""A sweep's members are written few times and stay complete run directories (issue 13, row "sweep"): on
the real cluster, every member but the smoke-tested one has its manifest written twice (made after its
shape's smoke test and the cost gate, already submitting, under a hidden name; submitted), its records
say everything a plain run's say, the members share one lock file, and `status`, `show` and `logs` read
it as before."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from clusterrun import api
from clusterrun.records import store
from clusterrun.records.models import Manifest
from tests.helpers import cli, git, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

CONFIG = """\
name: writes
command: "echo {tag} {seed}"
params: {tag: a}
seed: 1
sweep: {grid: {seed: [1, 2, 3, 4, 5, 6], params.tag: [a, b]}}
smoke: {timeout: 60}
resources: {time: "00:02:00", mem: 100M}
"""


def test_each_member_is_written_twice_and_reads_as_a_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "configs" / "writes.yaml").write_text(CONFIG)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "writes")
    writes: Counter[str] = Counter()
    write_manifest = store.write_manifest

    rewrite_manifest = store.rewrite_manifest

    def count(run_dir: Path) -> None:  # a run made under a hidden name, `.<id>.<pid>.new`: by its id
        name = run_dir.name
        writes[name[1:].rsplit(".", 2)[0] if name.startswith(".") and name.endswith(".new") else name] += 1

    def counted(run_dir: Path, manifest: Manifest, new: bool = False) -> store.Members | None:
        count(run_dir)
        return write_manifest(run_dir, manifest, new)

    def recounted(run_dir: Path, members: store.Members, changed: dict[str, Any]) -> store.Members | None:
        written = rewrite_manifest(run_dir, members, changed)
        if written is not None:
            count(run_dir)
        return written

    monkeypatch.setattr(store, "write_manifest", counted)
    monkeypatch.setattr(store, "rewrite_manifest", recounted)
    result = api.submit("configs/writes.yaml", backend="slurm", yes=True, cwd=project)
    arrays = [a.job_id for a in result.sweep.arrays] if result.sweep else []
    try:
        assert result.outcome == "submitted" and len(arrays) == 1, result.outcome
        members = result.run_ids
        assert len(members) == 12
        lead = members[0]  # every member shares one command shape: one smoke test, in the first
        for position, run_id in enumerate(members):
            assert writes[run_id] == (4 if run_id == lead else 2), (run_id, writes[run_id])
            data: dict[str, Any] = json.loads((project / "runs" / run_id / "manifest.json").read_text())
            assert data["state"] == "submitted" and data["job_id"] == f"{arrays[0]}_{position}"
            states = [change["state"] for change in data["state_history"]]
            assert states == ["created", "smoke_passed", "submitting", "submitted"], states
            assert data["smoke"]["tested_in"] == lead and data["estimate"] and data["confirmation"]
            assert data["submitter"]["pid"] and data["sweep"] == result.sweep_id
            events = (project / "runs" / run_id / "events.jsonl").read_text().splitlines()
            kinds = [json.loads(line).get("state") or json.loads(line)["event"] for line in events]
            assert kinds[0] == "created" and kinds[-3:] == ["smoke_passed", "submitting", "submitted"]
            for name in ("config.yaml", "command.sh", "env.json", "sbatch.sh"):
                assert (project / "runs" / run_id / name).is_file(), name
        locks = {(project / "runs" / run_id / ".lock").stat().st_ino for run_id in members}
        # each member its own lock file: one linked into all made the processes that record the members'
        # ends over several cores (services/fanout.py) wait for each other at every update
        assert len(locks) == len(members)
        shown = cli(["show", members[5]], project)
        no_traceback(shown)
        assert shown.returncode == 0 and members[5] in shown.stdout
        listed = cli(["status", result.sweep_id or "", "--json"], project)
        no_traceback(listed)
        assert listed.returncode == 0
        assert sorted(r["run_id"] for r in json.loads(listed.stdout)["members"]) == sorted(members)
    finally:
        subprocess.run(["scancel", *arrays], check=False, capture_output=True)
