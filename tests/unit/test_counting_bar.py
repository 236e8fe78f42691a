"""The bar a long batch shows on a terminal (cli/display.py's Reporter.counting): nothing for a quick
batch, a count of done items once it has taken COUNT_AFTER seconds, one closing line, and nothing at
all off a terminal or with --quiet. Drawn without a thread: fanout_map forks only when no other runs."""

from __future__ import annotations

import io
import re
import threading

import pytest

from clusterrun.cli import display
from clusterrun.cli.display import Reporter
from clusterrun.services import counting, quiet


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(display.time, "monotonic", fake)
    return fake


def test_a_quick_batch_draws_nothing(clock: _Clock) -> None:
    out = io.StringIO()
    with counting(Reporter("live", out), "writing 500 run directories", 500) as step:
        for done in range(1, 501):
            clock.now += display.COUNT_AFTER / 1000  # all 500 within COUNT_AFTER
            step(done)
    assert out.getvalue() == ""


def test_a_long_batch_shows_its_count_then_one_line_without_a_thread(clock: _Clock) -> None:
    out = io.StringIO()
    threads = threading.active_count()
    with counting(Reporter("live", out), "recording the state of 40 runs", 40) as step:
        for done in range(1, 41):
            clock.now += 0.05  # 2 s in all
            step(done)
            assert threading.active_count() == threads  # fanout_map may still fork
            if done == 9:
                assert out.getvalue() == ""  # 0.45 s: not yet
            if done == 20:
                assert "recording the state of 40 runs" in out.getvalue() and "20/40" in out.getvalue()
    text = out.getvalue()
    assert " 0/40" not in text  # the first frame is the count so far
    assert text.rstrip().endswith("recording the state of 40 runs: done after 2.0 s\x1b[0m"), repr(
        text[-120:]
    )


def test_an_interrupted_batch_says_nothing_done(clock: _Clock) -> None:
    out = io.StringIO()
    with (
        pytest.raises(KeyboardInterrupt),
        counting(Reporter("live", out), "writing 9 run directories", 9) as step,
    ):
        clock.now += 1
        step(3)
        raise KeyboardInterrupt
    assert "3/9" in out.getvalue() and "done after" not in out.getvalue()


@pytest.mark.parametrize("mode", ["plain", "quiet"])
def test_off_a_terminal_or_quiet_nothing_is_shown(clock: _Clock, mode: display.Mode) -> None:
    out = io.StringIO()
    with counting(Reporter(mode, out), "writing 9 run directories", 9) as step:
        clock.now += 5
        step(9)
    assert out.getvalue() == ""
    with counting(quiet, "a service's default Notify", 9) as step:
        step(9)  # takes the call, shows nothing


def test_the_count_never_goes_back(clock: _Clock) -> None:
    """A forked worker that failed has its share done again in the parent, and its count starts over
    (services/fanout.py): the bar holds the most it has shown until the redone items pass it."""
    out = io.StringIO()
    with counting(Reporter("live", out), "writing 1,000 run directories", 1000) as step:
        for done in (100, 700, 400, 650, 720):  # the worker's 300 lost at 700, then redone
            clock.now += 1
            step(done)
    counts = [int(n) for n in re.findall(r"(\d+)/1000\b", out.getvalue())]
    assert counts[:5] == [100, 700, 700, 700, 720] and set(counts[5:]) <= {720}, counts
