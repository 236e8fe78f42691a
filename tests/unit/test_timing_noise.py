"""A timing run times a step only when the time it adds stands out of a process start-up's noise: at
least MIN_TIMED_SECONDS, and at least a quarter of the smoke test's own time (a busy machine's start-ups
vary by as much more as they take longer). What it guards: a 5 ms epoch timed at 60 ms on a loaded
machine, from a timing run that merely started later, and an estimate ten times too long."""

from __future__ import annotations

from clusterrun.execution.smoke import SmokeResult
from clusterrun.services.smoke_tests import _too_short


def _ran(seconds: float) -> SmokeResult:
    return SmokeResult(True, 0, seconds, 50.0, False, "", "")


def test_a_timing_run_within_a_quick_start_ups_noise_is_too_short() -> None:
    assert _too_short(_ran(0.12), _ran(0.16), timeout=60)  # 40 ms more: under 50 ms
    assert not _too_short(_ran(0.12), _ran(0.2), timeout=60)  # 80 ms more: a step is timed


def test_on_a_busy_machine_the_noise_grows_with_the_start_up() -> None:
    # the smoke test took 0.4 s (start-up slowed by the load): 60 ms more is within its noise
    assert _too_short(_ran(0.4), _ran(0.46), timeout=60)
    assert not _too_short(_ran(0.4), _ran(0.55), timeout=60)  # 150 ms more: over a quarter of 0.4 s


def test_no_longer_timing_run_past_half_the_smoke_timeout() -> None:
    # ten times a noise of 2 s would not fit in half of a 30 s timeout: timed as it is
    assert not _too_short(_ran(8.0), _ran(8.1), timeout=30)
    assert not _too_short(_ran(0.4), SmokeResult(False, 1, 0.41, 50.0, False, "", ""), timeout=60)
