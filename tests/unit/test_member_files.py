"""A sweep's member files (records/memberfiles.py): each member's texts found whole and its own, a run's
own file before its sweep's copy, nothing read outside the registry, and a job whose command.sh is
nowhere says so in one line before bash does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from clusterrun.dashboard import pages
from clusterrun.dashboard.records import RunRecord
from clusterrun.execution import jobrun
from clusterrun.records import memberfiles

TEXTS = {
    "m_20260101-000000-1": {"config.yaml": "seed: 1\nname: é\n", "command.sh": "#!/bin/bash\necho 1 ✓\n"},
    "m_20260101-000000-2": {"config.yaml": "seed: 2\n", "command.sh": "#!/bin/bash\necho 2\n"},
}
SWEEP = "m-sweep_20260101-000000"


def _registry(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    (root / SWEEP).mkdir(parents=True)
    for run_id in TEXTS:
        (root / run_id).mkdir()
    memberfiles.write(root / SWEEP, TEXTS)
    return root


def test_each_member_reads_its_own_texts_whole(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    for run_id, texts in TEXTS.items():
        assert memberfiles.kept(root / run_id, SWEEP) == texts  # multi-byte characters: offsets in bytes
        assert memberfiles.text(root / run_id, "command.sh", SWEEP) == texts["command.sh"]
    assert memberfiles.kept(root / "m_20260101-000000-3", SWEEP) == {}  # not one of its members
    assert memberfiles.kept(root / "m_20260101-000000-1", None) == {}  # not a member at all


def test_a_runs_own_file_comes_before_its_sweeps_copy(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    member = root / "m_20260101-000000-2"
    (member / "config.yaml").write_text("seed: 2\n# edited by hand\n")
    assert memberfiles.text(member, "config.yaml", SWEEP) == "seed: 2\n# edited by hand\n"
    assert memberfiles.materialise(member, SWEEP) == ["command.sh"]  # the missing one only
    assert (member / "config.yaml").read_text().endswith("# edited by hand\n")
    assert (member / "command.sh").read_text() == TEXTS[member.name]["command.sh"]
    assert os.stat(member / "command.sh").st_mode & 0o111  # runnable by hand, as any command.sh


def test_nothing_is_read_outside_the_registry(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    member = root / "m_20260101-000000-1"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    memberfiles.write(outside, {member.name: {"command.sh": "echo planted\n"}})
    for sweep in ("../elsewhere", "..", ".", ".hidden", "/etc", ""):
        assert memberfiles.kept(member, sweep) == {}, sweep
    planted = root / "m-planted_20260101-000000"  # a sweep directory whose index is a symlink out
    planted.mkdir()
    (planted / memberfiles.INDEX).symlink_to(outside / memberfiles.INDEX)
    (planted / memberfiles.TEXTS).symlink_to(outside / memberfiles.TEXTS)
    assert memberfiles.kept(member, planted.name) == {}
    assert memberfiles.materialise(member, planted.name) == [] and not (member / "command.sh").exists()


def test_damaged_member_files_give_nothing_rather_than_a_wrong_text(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    texts = root / SWEEP / memberfiles.TEXTS
    texts.write_bytes(texts.read_bytes()[:-5])  # shorter than its index says
    assert memberfiles.kept(root / "m_20260101-000000-2", SWEEP) == {}
    (root / SWEEP / memberfiles.INDEX).write_text("{not json")
    assert memberfiles.kept(root / "m_20260101-000000-1", SWEEP) == {}


def test_a_job_whose_command_sh_is_nowhere_says_so_before_bash(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    member = root / "m_20260101-000000-1"
    (member / "manifest.json").write_text(json.dumps({"schema_version": 1, "sweep": SWEEP}))
    assert jobrun._member_files(member) == ""  # found in its sweep, written
    assert (member / "command.sh").read_text() == TEXTS[member.name]["command.sh"]
    lost = root / "m_20260101-000000-9"
    lost.mkdir()
    (lost / "manifest.json").write_text(json.dumps({"schema_version": 1, "sweep": SWEEP}))
    line = jobrun._member_files(lost)
    assert f"{lost / 'command.sh'} is missing and its sweep {SWEEP} keeps no copy" in line
    assert line.endswith("('clusterrun reproduce m_20260101-000000-9')\n") and line.count("\n") == 1
    whole = root / "whole_20260101-000000"  # any run made whole: nothing read, nothing said
    whole.mkdir()
    for name in memberfiles.FILES:
        (whole / name).write_text("x")
    assert jobrun._member_files(whole) == ""


def test_the_site_shows_a_waiting_members_config_from_its_sweep(tmp_path: Path) -> None:
    root = _registry(tmp_path)
    member = root / "m_20260101-000000-1"
    record = RunRecord(member.name, member, {"sweep": SWEEP, "config": {"seed": 1}}, None)
    assert pages._config_text(record) == TEXTS[member.name]["config.yaml"]  # as its job will write it
    gone = RunRecord("x_20260101-000000", root / "x_20260101-000000", {"config": {"seed": 3}}, None)
    assert '"seed": 3' in pages._config_text(gone)  # neither: the manifest's config, as before
