"""The promise: a watch of a sweep on the real cluster shows every member as it is now, while it reads a
member's records again only when they changed (services/status.py `wait`: settled members are carried
from one refresh to the next, manifests kept by records/manifest_memo.py). A 1,000-member sweep's
watch read and validated every manifest at every refresh: 0.46 s of CPU each, 0.17 s now. (The memo's
own promise, that it never hands back a manifest whose file changed, is tests/unit/test_manifest_memo.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.records import manifest_memo
from clusterrun.records.manifest_memo import ManifestMemo
from clusterrun.records.registry import Registry, Run
from clusterrun.services import status
from clusterrun.services.listing import expand_ids
from tests.helpers import NAP, cli, make_project

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

MEMBERS = 4


def test_a_watch_shows_every_end_and_reads_what_changed_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "proj", {"configs/nap.yaml": NAP})
    argv = ["submit", "configs/nap.yaml", "--backend", "slurm", "--yes", "--json", "--force"]
    submitted = cli([*argv, "--array-parallelism", "1", "--sweep", "params.seconds=1,2,1,2"], project)
    assert submitted.returncode == 0, submitted.stderr
    registry = Registry(project / "runs")
    ids = expand_ids(registry, [json.loads(submitted.stdout)["sweep_id"]])
    assert len(ids) == MEMBERS
    reads: list[tuple[int, str]] = []  # (the refresh it came in, the run read)
    seen: list[dict[str, str]] = []
    settled: dict[str, int] = {}  # member -> the refresh that first left it settled
    load = Run.load_manifest

    def counted(run: Run) -> object:
        reads.append((len(seen), run.id))
        return load(run)

    def refreshed(report: status.StatusReport) -> None:
        for member in report.settled:
            settled.setdefault(member, len(seen))
        seen.append({s.run_id: s.state for s in report.runs})

    memos: list[ManifestMemo] = []

    class Kept(ManifestMemo):  # the watch's own memo, looked at once it has ended
        def __init__(self) -> None:
            super().__init__()
            memos.append(self)

    monkeypatch.setattr(Run, "load_manifest", counted)
    monkeypatch.setattr(status, "ManifestMemo", Kept)
    monkeypatch.setattr(manifest_memo, "FRESH", 0.0)  # every manifest read is kept, however new
    monkeypatch.setenv("CLUSTERRUN_POLL_MAX_AGE", "0")  # every refresh asks sacct
    monkeypatch.setenv("CLUSTERRUN_WATCH_POLL", "1")  # as often as a watch may: many refreshes
    report = status.wait(registry, ids, on_refresh=refreshed, max_interval=1.0)
    assert [r.state for r in report.runs] == ["completed"] * MEMBERS
    assert len(seen) >= 4  # members one at a time: the watch saw them pending, running and done
    for member in ids:  # never shown going back from its end
        states = [view[member] for view in seen]
        assert set(states[states.index("completed") :]) == {"completed"}, (member, states)
    # a settled member is shown as it was left, never read again; before, each refresh read them all
    assert sorted(settled) == sorted(ids)
    for member, when in settled.items():
        later = [at for at, run_id in reads if run_id == member and at > when]
        assert later == [], (member, when, later)
    # what the watch keeps is never more than the runs still going: a settled member's manifest is dropped
    assert len(memos) == 1 and memos[0]._kept == {}
    after = cli(["status", *ids, "--json"], project)  # a fresh process agrees with the watch's last view
    assert [r["state"] for r in json.loads(after.stdout)["runs"]] == ["completed"] * MEMBERS
