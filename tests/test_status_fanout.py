"""The first `status` after many runs ended records them over several processes (services/fanout.py),
and what it records is what one process records: on the real cluster, an 80-member sweep whose tasks
all ended before anyone looked; every member ends once (one state event, one summary), the table shows
each run once, and a second look changes nothing. The status that records the ends keeps each run's
table row (records/rowcache.py), and the next table is made from those rows."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from clusterrun.records.rowcache import stamps
from clusterrun.services.listing import SWEEP_KEY
from tests.helpers import cli, git, manifest, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

MEMBERS = 100  # a listing of 100 runs or more keeps the settled runs' rows (listing.ROW_CACHE_FROM)
CONFIG = f"""\
name: fan
command: python examples/quickstart/train.py --lr 0.1 --steps 5 --batch-size 8 --seed {{seed}}
sweep: {{grid: {{seed: {list(range(MEMBERS))}}}}}
smoke: {{timeout: 60}}
resources: {{time: "00:02:00", mem: 100M}}
"""


def _ended_in_accounting(array: str) -> bool:
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", array, "-o", "jobid,state"], capture_output=True, text=True
    ).stdout
    states = [line.split("|")[1] for line in out.splitlines() if "|" in line and "_" in line.split("|")[0]]
    assert not [s for s in states if s not in ("COMPLETED", "PENDING", "RUNNING")], out
    return len(states) == MEMBERS and all(s == "COMPLETED" for s in states)


def _events(run_dir: Path) -> Counter[str]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    found: Counter[str] = Counter()
    for line in lines:
        event = json.loads(line)
        found[event["event"] + (f":{event['state']}" if event.get("state") else "")] += 1
    return found


def test_many_runs_that_ended_unseen_are_each_recorded_once(project: Path) -> None:
    (project / "configs" / "fan.yaml").write_text(CONFIG)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "fan")
    submitted = cli(["submit", "configs/fan.yaml", "--backend", "slurm", "--yes", "--json"], project)
    assert submitted.returncode == 0, submitted.stderr
    record = json.loads(submitted.stdout)
    members = [m["run_id"] for m in record["members"]]
    assert len(members) == MEMBERS
    (array,) = [a["job_id"] for a in record["arrays"]]
    # a 2-minute limit and the default 120 s grace: SIGUSR2 half-way, not as the jobs start (it killed
    # two members before their wrapper could take it: FAILED, 'died by signal: 12')
    sbatch = (project / "runs" / record["sweep_id"] / "sbatch.sh").read_text()
    assert "--signal=USR2@60" in sbatch, sbatch
    deadline = time.monotonic() + 240
    while not _ended_in_accounting(array):  # clusterrun has not looked at them since the submit
        assert time.monotonic() < deadline, "the sweep's tasks did not end in time"
        time.sleep(2)
    runs = project / "runs"
    assert all(manifest(runs / m)["state"] != "completed" for m in members)

    env = {"CLUSTERRUN_WORKERS": "2", "CLUSTERRUN_POLL_MAX_AGE": "0"}
    first = cli(["status", "--limit", "200"], project, env=env)
    assert first.returncode == 0, first.stderr
    no_traceback(first)
    rows = [line.split()[0] for line in first.stdout.splitlines() if line.startswith("fan_")]
    assert sorted(rows) == sorted(members)  # each run once: nothing a worker printed, nothing twice
    for member in members:
        data = manifest(runs / member)
        assert data["state"] == "completed" and data["state_source"], member
        summary = json.loads((runs / member / "summary.json").read_text())
        assert summary["state"] == "completed" and summary["metrics"]["step"] == 5, member
        events = _events(runs / member)
        assert events["state:completed"] == 1 and events["summary_collected:completed"] == 1, (member, events)

    before = {m: (runs / m / "events.jsonl").read_text() for m in members}
    again = cli(["status", "--limit", "200", "--json"], project, env=env)
    assert again.returncode == 0, again.stderr
    shown = {r["run_id"]: r for r in json.loads(again.stdout)["runs"]}
    assert all(shown[m]["state"] == "completed" and shown[m]["summary"]["success"] for m in members)
    assert {m: (runs / m / "events.jsonl").read_text() for m in members} == before  # nothing new recorded

    # the first status kept every member's row, stamped with the files as they are now: the next plain
    # table opens no record (a forged cached metric shows), and without the cache it is the same table
    cache = runs / ".cache" / "status-rows.json"
    rows = json.loads(cache.read_text())["rows"]
    assert sorted(rows) == sorted(members)
    assert all(rows[m][0] == stamps(runs / m) for m in members)
    table = cli(["status", "--limit", "200"], project, env=env).stdout
    assert table == first.stdout
    data = json.loads(cache.read_text())
    data["rows"][members[0]][1]["status"]["metrics"] = {"loss": 777}
    cache.write_text(json.dumps(data))
    assert "loss=777" in cli(["status", "--limit", "200"], project, env=env).stdout
    cache.unlink()
    assert cli(["status", "--limit", "200"], project, env=env).stdout == first.stdout

    # the sweep's own table: the same from its members' records and from the rows kept of them
    sweep = record["sweep_id"]
    cache.unlink()
    fresh = cli(["status", sweep], project, env=env)
    assert fresh.returncode == 0, fresh.stderr
    kept = json.loads(cache.read_text())["rows"]
    assert sorted(kept) == sorted(members) and all(SWEEP_KEY in kept[m][1] for m in members)
    assert cli(["status", sweep], project, env=env).stdout == fresh.stdout
    assert f"Sweep {sweep}: {MEMBERS} member(s)" in fresh.stdout and "States: COMPLETED=100" in fresh.stdout
    # a kept row is used while its member's files are as they were: a forged one shows, a rewritten
    # summary is read again
    data = json.loads(cache.read_text())
    data["rows"][members[1]][1]["status"]["metrics"]["loss"] = 777.5  # the metric the sweep ranks by
    cache.write_text(json.dumps(data))
    forged = cli(["status", sweep], project, env=env).stdout
    assert "ranked by loss" in forged and "777.5" in forged
    summary_file = runs / members[1] / "summary.json"
    summary_file.write_text(summary_file.read_text())  # the same text, a new mtime: the row is made again
    assert cli(["status", sweep], project, env=env).stdout == fresh.stdout
