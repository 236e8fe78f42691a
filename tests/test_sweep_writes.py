"""A sweep's members are written few times and stay complete run directories (issue 13, row "sweep"): on
the real cluster, every member but the smoke-tested one has its manifest written twice (made after its
shape's smoke test and the cost gate, already submitting, under a hidden name; submitted), its records
say everything a plain run's say, each member has its own lock file, and `status`, `show` and `logs` read
it as before. Its config.yaml and command.sh are kept by the sweep (records/memberfiles.py) until its
job starts, and then written into its directory, exactly as kept."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusterrun import api
from clusterrun.records import memberfiles, store
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
resources: {time: "00:02:00", mem: 100M, extra: {hold: true}}
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
            run_dir = project / "runs" / run_id
            for name in ("env.json", "sbatch.sh"):
                assert (run_dir / name).is_file(), name
            # held: no job has started, so only the smoke-tested member has its own two files
            own = [(run_dir / name).exists() for name in memberfiles.FILES]
            assert own == ([True, True] if run_id == lead else [False, False]), (run_id, own)
            script = memberfiles.text(run_dir, "command.sh", result.sweep_id) or ""
            seed, tag = data["seed"], data["config"]["params"]["tag"]
            assert f"export CLUSTERRUN_RUN_DIR={run_dir}\n" in script and f"echo {tag} {seed}" in script
            config = yaml.safe_load(memberfiles.text(run_dir, "config.yaml", result.sweep_id) or "")
            assert config == data["config"], run_id
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
        # one member's job released: it writes its two files as the sweep keeps them, and runs them
        member = project / "runs" / members[7]
        kept = memberfiles.kept(member, result.sweep_id)
        subprocess.run(["scontrol", "release", f"{arrays[0]}_7"], check=True, capture_output=True)
        waited = cli(["status", members[7], "--watch", "--timeout", "120"], project)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert {name: (member / name).read_text() for name in memberfiles.FILES} == kept
        assert (member / "command.sh").stat().st_mode & 0o777 == 0o700
        assert (member / "stdout.log").read_text().split() == ["b", "4"]  # members[7]: tag b, seed 4
        # a member's manifest written by a newer clusterrun: one DAMAGED row, the sweep's table still shown
        newer = project / "runs" / members[9] / "manifest.json"
        newer.write_text(json.dumps(json.loads(newer.read_text()) | {"schema_version": 99}))
        swept = cli(["status", result.sweep_id or ""], project)
        no_traceback(swept)
        assert swept.returncode == 0 and "manifest.json was written by a newer clusterrun" in swept.stderr
        rows = {line.split()[0]: line.split()[1] for line in swept.stdout.splitlines() if "writes_" in line}
        assert rows[members[9]] == "DAMAGED" and rows[members[7]] == "COMPLETED" and len(rows) == 12, rows
    finally:
        subprocess.run(["scancel", *arrays], check=False, capture_output=True)


def test_the_ranks_of_a_members_job_start_together_from_its_sweeps_files(project: Path) -> None:
    """Two ranks of each member's job (srun, 2 tasks) start at once and both write the member's files from
    its sweep, each replaced in one step: every rank runs the whole command.sh, with the member's values."""
    (project / "configs" / "ranked.yaml").write_text(
        "name: ranked\n"
        "command: \"python -c \\\"import os; print('rank', os.environ.get('SLURM_PROCID'), 'seed', "
        "os.environ['CLUSTERRUN_SEED'])\\\"\"\n"
        "sweep: {grid: {seed: [1, 2, 3]}}\n"
        'resources: {time: "00:02:00", mem: 100M, tasks_per_node: 2}\n'
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "ranked")
    result = api.submit("configs/ranked.yaml", backend="slurm", yes=True, cwd=project)
    assert result.outcome == "submitted" and result.sweep_id
    waited = cli(["status", result.sweep_id, "--watch", "--timeout", "180"], project)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    for run_id in result.run_ids:
        run_dir = project / "runs" / run_id
        seed = json.loads((run_dir / "manifest.json").read_text())["seed"]
        for rank, log in ((0, "stdout.log"), (1, "stdout.rank1.log")):
            assert (run_dir / log).read_text().split() == ["rank", str(rank), "seed", str(seed)], run_id
        if run_id != result.run_ids[0]:  # made after the smoke test: its files came from the sweep
            kept = memberfiles.kept(run_dir, result.sweep_id)
            assert {name: (run_dir / name).read_text() for name in memberfiles.FILES} == kept, run_id
