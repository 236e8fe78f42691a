"""The requeue policy read back from a run's record (config/requeue.py, no pydantic) accepts exactly the
sections the config's model (config/sections.py Requeue) accepts, with the same values: a job's wrapper
and status never read a policy the submit would not have recorded, nor drop one it would."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from clusterrun.config.requeue import NEVER, RequeuePolicy
from clusterrun.config.sections import Requeue

SECTIONS: list[Any] = [
    {},
    {"on": []},
    {"on": ["timeout"]},
    {"on": "timeout"},
    {"on": ["preemption", "node_fail", "timeout"], "max_attempts": 5, "signal_grace": 300},
    {"on": ["timeout", "timeout"]},
    {"on": ["reboot"]},
    {"on": "sometimes"},
    {"on": 3},
    {"on": None},
    {"on": {"timeout": True}},
    {"max_attempts": 1},
    {"max_attempts": 100},
    {"max_attempts": 0},
    {"max_attempts": 101},
    {"max_attempts": "4"},
    {"max_attempts": 4.0},
    {"max_attempts": 4.5},
    {"max_attempts": True},
    {"max_attempts": None},
    {"max_attempts": "four"},
    {"max_attempts": [3]},
    {"max_attempts": " 4 "},
    {"max_attempts": "1_0"},
    {"max_attempts": "4.0"},
    {"max_attempts": "4.5"},
    {"max_attempts": "+4"},
    {"max_attempts": "0x10"},
    {"max_attempts": "\u0663"},
    {"max_attempts": "nan"},
    {"max_attempts": float("inf")},
    {"max_attempts": 2**70},
    {"signal_grace": 1e2},
    {"signal_grace": 9},
    {"signal_grace": 10},
    {"signal_grace": 65535},
    {"signal_grace": 65536},
    {"signal_grace": "120"},
    {"signal_grace": -5},
    {"signal": "USR1"},
    {"signal": "SIGUSR1"},
    {"signal": " usr1 "},
    {"signal": "USR2"},
    {"signal": "TERM"},
    {"signal": 10},
    {"signal": None},
    {"on": ["timeout"], "signal": "USR1", "signal_grace": 60},
    {"when": "always"},
    {"on": ["timeout"], "max_attempts": 2, "extra": 1},
]


@pytest.mark.parametrize("section", SECTIONS, ids=[repr(s) for s in SECTIONS])
def test_the_record_reader_accepts_what_the_config_model_accepts(section: dict[str, Any]) -> None:
    try:
        model = Requeue.model_validate(section)
    except ValidationError:
        assert RequeuePolicy.from_record(section) is None
        return
    policy = RequeuePolicy.from_record(section)
    assert policy is not None
    assert policy.as_dict() == model.model_dump()
    assert policy.enabled == model.enabled
    for reason in ("preemption", "node_fail", "timeout", "other"):
        assert policy.allows(reason) == model.allows(reason)


def test_a_recorded_section_reads_back_as_it_was_recorded() -> None:
    for section in SECTIONS:
        try:
            dumped = Requeue.model_validate(section).model_dump()
        except ValidationError:
            continue
        assert RequeuePolicy.from_record(dumped) == RequeuePolicy.from_record(section)
    assert not NEVER.enabled and NEVER.as_dict()["on"] == []


def test_a_job_wrapper_starts_without_the_config_models() -> None:
    """The point of the plain policy: the job side does not import config/sections.py (pydantic's
    model building for every config section, ~30 ms of each job's start)."""
    code = "import sys, clusterrun.execution.jobrun; print('clusterrun.config.sections' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
