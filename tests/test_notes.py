"""Notes and tags (issue 11, item 9): `clusterrun note RUN "text"` and `submit --tag T` append to the run's
notes.jsonl (the manifest is never rewritten for them); show and status show them; status --tag and
--where 'note~TEXT' find them."""

from __future__ import annotations

import json
from pathlib import Path

from clusterrun.records.models import Note
from tests.helpers import cli, no_traceback

DRY = ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"]


def test_a_note_and_tags_are_appended_without_touching_the_manifest(project: Path) -> None:
    run_id = cli([*DRY, "--format", "ids", "--tag", "baseline"], project).stdout.strip()
    other = cli([*DRY, "--format", "ids", "params.steps=9"], project).stdout.strip()
    run = project / "runs" / run_id
    before = (run / "manifest.json").read_bytes()
    noted = cli(["note", run_id[:12] + "", "lr 0.1 diverged at step 40", "--tag", "lr-sweep"], project)
    assert noted.returncode == 2 and "matches 2 runs" in noted.stderr  # a prefix must be unique
    noted = cli(["note", run_id, "lr 0.1 diverged at step 40", "--tag", "lr-sweep"], project)
    assert noted.returncode == 0, noted.stderr
    assert "tags: baseline, lr-sweep" in noted.stderr
    assert (run / "manifest.json").read_bytes() == before
    lines = [Note.model_validate_json(line) for line in (run / "notes.jsonl").read_text().splitlines()]
    assert [n.tags for n in lines] == [["baseline"], ["lr-sweep"]]
    assert lines[1].text == "lr 0.1 diverged at step 40" and lines[1].by and lines[1].at

    shown = cli(["show", run_id], project).stdout
    assert "Tags: baseline, lr-sweep" in shown and "diverged at step 40" in shown
    record = json.loads(cli(["show", run_id, "--json"], project).stdout)
    assert record["tags"] == ["baseline", "lr-sweep"] and record["notes"][1]["text"].startswith("lr 0.1")

    table = cli(["status"], project).stdout.splitlines()
    assert table[0].split()[-1] == "TAGS"
    row = next(line for line in table if line.split()[0] == run_id)  # ids of one second: x, x-1
    assert row.split()[-1] == "baseline,lr-sweep"
    assert next(line for line in table if line.split()[0] == other).split()[-1] == "-"

    assert cli(["status", "--tag", "lr-sweep", "--format", "ids"], project).stdout.split() == [run_id]
    assert cli(["status", "--tag", "nope", "--format", "ids"], project).stdout.split() == []
    found = cli(["status", "--where", "note~DIVERGED", "--format", "ids"], project)
    assert found.stdout.split() == [run_id]
    listed = json.loads(cli(["status", "--json"], project).stdout)
    assert {r["run_id"]: r["tags"] for r in listed["runs"]} == {run_id: ["baseline", "lr-sweep"], other: []}


def test_submit_tags_every_member_of_a_sweep(project: Path) -> None:
    result = cli([*DRY, "--json", "--sweep", "params.lr=0.1,0.05", "--tag", "a,b", "--tag", "c"], project)
    assert result.returncode == 0, result.stderr
    members = [m["run_id"] for m in json.loads(result.stdout)["members"]]
    assert sorted(
        cli(["status", "--tag", "b", "--tag", "c", "--format", "ids"], project).stdout.split()
    ) == sorted(members)
    for member in members:
        assert "tags" not in json.loads((project / "runs" / member / "manifest.json").read_text())


def test_bad_notes_and_tags_are_refused(project: Path) -> None:
    run_id = cli([*DRY, "--format", "ids"], project).stdout.strip()
    for args, message in [
        (["note", run_id], "nothing to note"),
        (["note", run_id, "   "], "nothing to note"),
        (["note", run_id, "--tag", "has space"], "is not a tag"),
        (["note", "nosuchrun_20260101-000000", "x"], "no run"),
        ([*DRY, "--tag", "bad/tag"], "is not a tag"),
        (["status", "--tag", "-x"], "is not a tag"),
    ]:
        result = cli(args, project)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "hint: " in result.stderr, (args, result.stderr)
        no_traceback(result)
    assert not (project / "runs" / run_id / "notes.jsonl").exists()
