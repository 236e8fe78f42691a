"""The environment variables that tune clusterrun (clusterrun/envknobs.py): one table, one reader. A bad
value is refused with its cause and fix; the readers deep in the code read through the same table."""

from __future__ import annotations

import math

import pytest

from clusterrun import envknobs
from clusterrun.errors import UsageError
from clusterrun.scheduler import slurm_submit
from clusterrun.services import fanout, lost, status

GOOD = [
    (envknobs.WORKERS, "2", 2),
    (envknobs.WORKERS, " 1 ", 1),
    (envknobs.WORKERS, "3.0", 3),
    (envknobs.LOST_AFTER, "0", 0.0),
    (envknobs.LOST_AFTER, "2.5", 2.5),
    (envknobs.SBATCH_TIMEOUT, "0.5", 0.5),
    (envknobs.POLL_MAX_AGE, "0", 0.0),
    (envknobs.WAIT_TIMEOUT, "30", 30.0),
]
BAD = [
    (envknobs.WORKERS, "abc"),
    (envknobs.WORKERS, "0"),
    (envknobs.WORKERS, "-2"),
    (envknobs.WORKERS, "2.5"),
    (envknobs.LOST_AFTER, "-1"),
    (envknobs.LOST_AFTER, "nan"),
    (envknobs.LOST_AFTER, "10m"),
    (envknobs.SBATCH_TIMEOUT, "0"),
    (envknobs.SBATCH_TIMEOUT, "inf"),
    (envknobs.POLL_MAX_AGE, "-0.1"),
    (envknobs.WAIT_TIMEOUT, "0"),
    (envknobs.WAIT_TIMEOUT, "forever"),
]


@pytest.mark.parametrize(("knob", "text", "value"), GOOD, ids=[f"{k.name}={t}" for k, t, _ in GOOD])
def test_a_good_value_is_read(knob: envknobs.Knob, text: str, value: float) -> None:
    assert envknobs.parse(knob, {knob.name: text}) == value
    assert type(envknobs.parse(knob, {knob.name: text})) is (int if knob.whole else float)


@pytest.mark.parametrize("knob", envknobs.KNOBS, ids=[k.name for k in envknobs.KNOBS])
def test_unset_or_empty_is_the_default(knob: envknobs.Knob) -> None:
    assert envknobs.parse(knob, {}) == knob.default
    assert envknobs.parse(knob, {knob.name: "  "}) == knob.default


@pytest.mark.parametrize(("knob", "text"), BAD, ids=[f"{k.name}={t}" for k, t in BAD])
def test_a_bad_value_is_refused_with_its_cause_and_fix(
    knob: envknobs.Knob, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError) as refused:
        envknobs.parse(knob, {knob.name: text})
    assert knob.name in refused.value.message and repr(text) in refused.value.message
    assert "unset it for the default" in refused.value.hint
    with pytest.raises(UsageError):
        envknobs.check_all({knob.name: text})
    monkeypatch.setenv(knob.name, text)  # a reader deep in the code goes on with the default
    assert envknobs.number(knob) == knob.default


def test_the_readers_read_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in envknobs.KNOBS:
        monkeypatch.delenv(knob.name, raising=False)
    assert lost.lost_after() == 600 and slurm_submit.sbatch_timeout() == 60
    assert status._poll_max_age() == 2 and status.wait_limit() is None
    monkeypatch.setenv("CLUSTERRUN_WORKERS", "1")
    monkeypatch.setenv("CLUSTERRUN_LOST_AFTER", "5")
    monkeypatch.setenv("CLUSTERRUN_SBATCH_TIMEOUT", "4")
    monkeypatch.setenv("CLUSTERRUN_POLL_MAX_AGE", "0")
    monkeypatch.setenv("CLUSTERRUN_WAIT_TIMEOUT", "30")
    assert fanout.workers_for(10_000) == 1
    assert lost.lost_after() == 5 and slurm_submit.sbatch_timeout() == 4
    assert status._poll_max_age() == 0 and status.wait_limit() == 30
    with status.waiting_at_most(7):  # a command's --timeout still wins
        assert status.wait_limit() == 7


def test_the_reference_lists_every_knob() -> None:
    table = envknobs.reference()
    for knob in envknobs.KNOBS:
        assert f"`{knob.name}`" in table
    assert "no limit" in table and not math.isinf(envknobs.WORKERS.default)
