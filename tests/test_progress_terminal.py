"""A long batch shows its progress on a terminal (issue 13: sweeps of thousands): a sweep's run
directories being written count up in a bar on stderr, drawn in a real terminal (tmux), which leaves one
line behind; off a terminal nothing of it is printed. Local default, a dry run: no cluster needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import cli, git, no_traceback
from tests.live_helpers import Terminal

MEMBERS = 1500  # about 2 s of writing on the test machines: past the bar's COUNT_AFTER (0.5 s)


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    term = Terminal(tmp_path)
    yield term  # type: ignore[misc]
    term.close()


def _sweep(project: Path) -> None:
    config = (project / "configs" / "quickstart.yaml").read_text()
    (project / "configs" / "big.yaml").write_text(
        config + f"sweep:\n  grid: {{seed: {list(range(MEMBERS))}}}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "big sweep")


def test_a_big_sweep_counts_its_run_directories_in_a_real_terminal(
    project: Path, tmp_path: Path, terminal: Terminal
) -> None:
    _sweep(project)
    raw = tmp_path / "pane.raw"
    terminal.start(["submit", "configs/big.yaml", "--dry-run", "params.steps=5"], project)
    terminal.tmux("pipe-pane", "-o", "-t", "t", f"cat >> {raw}")  # every byte drawn, frames included
    screen = terminal.wait_for("exit=", timeout=180)
    assert "exit=0" in screen, screen
    more = MEMBERS - 1  # the smoke test's member is made first
    # what stays: one line saying how long it took, the bar itself erased
    assert re.search(rf"writing {more:,} more run directories: done after [0-9.]+ s", screen), screen
    assert "━" not in screen and f"/{more}" not in screen, screen
    # what was drawn meanwhile: the count going up, by the parent and its forked worker together
    drawn = raw.read_text(errors="replace")
    found = list(re.finditer(rf"(\d+)/{more}\b", drawn))
    counts = [int(m.group(1)) for m in found]
    # (seen once in CI, undiagnosed: 1104 -> 568 -> 1222; the bytes around each count say what drew it)
    around = [repr(drawn[max(0, m.start() - 80) : m.end() + 20]) for m in found]
    assert len(set(counts)) >= 2 and counts == sorted(counts), (counts, around)
    assert len(list((project / "runs").glob("quickstart_*"))) == MEMBERS


def test_off_a_terminal_a_big_sweep_prints_no_bar(project: Path) -> None:
    _sweep(project)
    result = cli(["submit", "configs/big.yaml", "--dry-run", "params.steps=5"], project)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert "run directories" not in result.stderr and "━" not in result.stderr and "\x1b" not in result.stderr
