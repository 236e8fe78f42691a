"""A process caught in the middle of an exec shows no command line for an instant. The job's wrapper
took the environment probe (`exec python envprobe.py .../python_env.json` from a slow `python` shim)
for the user's leftover `python3` then, and reported and stopped it (CI, tests/test_leftover_processes.py
::test_a_short_job_on_a_slow_starting_python_keeps_its_environment_record). Its command line is read
again until it has one (supervise._settled_cmdline)."""

from __future__ import annotations

from typing import Any

import psutil
import pytest

from clusterrun.execution import supervise

PROBE = ["python3", "/x/envprobe.py", "/runs/r/python_env.json"]


class MidExec:
    """A process whose command line is empty for its first `empty` looks (psutil's own, then ours)."""

    def __init__(self, empty: int) -> None:
        self.pid, self.looks, self.empty = 4321, 0, empty
        self.info: dict[str, Any] = {"pid": self.pid, "ppid": 1, "cmdline": self._look(), "status": "running"}

    def _look(self) -> list[str]:
        self.looks += 1
        return [] if self.looks <= self.empty else PROBE

    def cmdline(self) -> list[str]:
        return self._look()

    def name(self) -> str:
        return "python3"


@pytest.fixture
def group(monkeypatch: pytest.MonkeyPatch) -> list[MidExec]:
    processes: list[MidExec] = []
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(processes))
    monkeypatch.setattr(supervise.os, "getpgid", lambda pid: 99)
    return processes


def test_a_process_mid_exec_is_known_by_its_command_line_once_it_has_one(group: list[MidExec]) -> None:
    group.append(MidExec(empty=3))
    assert supervise._members(99) == [(4321, " ".join(PROBE))]


def test_one_that_never_shows_one_is_known_by_its_name(group: list[MidExec]) -> None:
    group.append(MidExec(empty=10**6))
    assert supervise._members(99) == [(4321, "python3")]
