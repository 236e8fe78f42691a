"""The run page's attempts table says why each attempt ended (the manifest's `attempts`, or the
summary's where the scheduler had the last word)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from clusterrun.dashboard.pages import _attempt_reasons
from tests.helpers import cli, make_project, no_traceback


def _attempt_rows(page: str) -> list[list[str]]:
    section = page.split("<h2>Attempts and states</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]  # the header row left out
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def test_the_run_page_shows_each_attempts_end_reason(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    local = ["--backend", "local", "--wait", "--yes", "--json"]
    ok = cli(["submit", "configs/quickstart.yaml", *local], project)
    assert ok.returncode == 0, ok.stderr
    bad = cli(
        ["submit", "configs/quickstart.yaml", "params.batch_size=5000", "--skip-smoke", "fails", *local],
        project,
    )
    assert bad.returncode == 1, bad.stderr
    runs = {"completed": json.loads(ok.stdout)["run_id"], "failed": json.loads(bad.stdout)["run_id"]}
    built = cli(["site"], project)
    no_traceback(built)
    assert built.returncode == 0, built.stderr
    for reason, run_id in runs.items():
        manifest = json.loads((project / "runs" / run_id / "manifest.json").read_text())
        assert [a["reason"] for a in manifest["attempts"]] == [reason]  # what the job wrapper recorded
        page = (project / "runs" / "site" / "runs" / f"{run_id}.html").read_text()
        assert "<th>end reason</th>" in page
        (row,) = _attempt_rows(page)
        assert row[5] == reason, row


def test_the_schedulers_word_replaces_the_wrappers() -> None:
    manifest = {"attempts": [{"attempt": 1, "reason": "terminated"}, {"attempt": 2, "reason": ""}]}
    summary = {"attempts": [{"attempt": 1, "reason": "preempted"}, {"attempt": 2, "reason": "completed"}]}
    assert _attempt_reasons(manifest, summary) == {1: "preempted", 2: "completed"}
    assert _attempt_reasons(manifest, None) == {1: "terminated"}  # attempt 2 still runs
    assert _attempt_reasons({"attempts": "damaged"}, {}) == {}
