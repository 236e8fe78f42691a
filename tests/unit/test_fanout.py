"""fanout_map: the results of one process, in order, whatever happens to a worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.services import fanout

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


@pytest.fixture(autouse=True)
def _two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.delenv(fanout.ENV, raising=False)


def _square_and_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


SEVERAL = """
import json, os
os.sched_getaffinity = lambda _pid: {0, 1, 2, 3}
os.environ.pop("CLUSTERRUN_WORKERS", None)
from clusterrun.services import fanout
out = fanout.fanout_map(lambda n: (n * n, os.getpid()), list(range(500)))
print(json.dumps({"values": [v for v, _ in out], "pids": sorted({p for _, p in out}), "me": os.getpid()}))
"""


def test_results_are_in_order_and_come_from_several_processes() -> None:
    # in a Python of its own: a thread left running by another test of this session would (rightly)
    # keep fanout_map to one process, and the test would say nothing of the split
    done = subprocess.run([sys.executable, "-c", SEVERAL], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["values"] == [n * n for n in range(500)]
    assert out["me"] in out["pids"] and len(out["pids"]) >= 2  # the parent did a share, and a worker another


def test_small_batches_threads_and_the_setting_keep_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {pid for _v, pid in fanout.fanout_map(_square_and_pid, list(range(10)))} == {os.getpid()}
    monkeypatch.setenv(fanout.ENV, "1")
    assert {pid for _v, pid in fanout.fanout_map(_square_and_pid, list(range(500)))} == {os.getpid()}


def _dies_in_a_worker(n: int) -> tuple[int, int]:
    if os.getpid() != PARENT[0] and n == 400:
        os.kill(os.getpid(), signal.SIGKILL)  # a worker killed in the middle of its share
    return n + 1, os.getpid()


def _raises_in_a_worker(n: int) -> int:
    if os.getpid() != PARENT[0] and n == 300:
        raise RuntimeError("boom")
    return n - 1


PARENT = [os.getpid()]


def test_a_worker_that_dies_or_raises_has_its_share_done_again_here() -> None:
    PARENT[0] = os.getpid()
    out = fanout.fanout_map(_dies_in_a_worker, list(range(500)))
    assert [v for v, _pid in out] == [n + 1 for n in range(500)]
    assert out[400][1] == os.getpid()  # redone in the parent
    assert fanout.fanout_map(_raises_in_a_worker, list(range(500))) == [n - 1 for n in range(500)]


def test_shares_no_worker_could_be_started_for_are_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # a limit on processes reached

    monkeypatch.setattr(os, "fork", no_fork)
    steps: list[int] = []
    out = fanout.fanout_map(_square_and_pid, list(range(300)), steps.append)
    assert out == [(n * n, os.getpid()) for n in range(300)]
    assert steps[-1] == 300 and steps == sorted(steps)


def _raises_everywhere(n: int) -> int:
    if n == 450:
        raise ValueError("the same error one process would have raised")
    return n


def test_an_error_the_work_itself_raises_reaches_the_caller_as_in_one_process() -> None:
    with pytest.raises(ValueError, match="one process would have raised"):
        fanout.fanout_map(_raises_everywhere, list(range(500)))


def _writes(n: int) -> int:
    print(f"item {n}")  # a worker's output is its own; nothing the parent buffered is printed twice
    return n


def test_nothing_the_parent_buffered_is_written_twice(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    print("before", end="")  # in the parent's buffer at the fork
    fanout.fanout_map(_writes, list(range(200)))
    sys.stdout.flush()
    out = capfd.readouterr().out
    assert out.count("before") == 1


STEPS = """
import json, os, time
os.sched_getaffinity = lambda _pid: {0, 1}
os.environ.pop("CLUSTERRUN_WORKERS", None)
from clusterrun.services import fanout
parent = os.getpid()

def work(n):
    time.sleep(0.001 if os.getpid() == parent else 0.004)  # the worker is slower: the parent waits for it
    return n * 3

steps = []
out = fanout.fanout_map(work, list(range(300)), steps.append)
print(json.dumps({"values": out, "steps": steps}))
"""


def test_steps_count_the_workers_items_too_and_go_on_while_the_parent_waits() -> None:
    done = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    steps = out["steps"]
    assert out["values"] == [n * 3 for n in range(300)]  # progress changes nothing of the results
    assert steps == sorted(steps) and steps[-1] == 300  # never backwards; every item counted at the end
    # the parent's share is 150: counts past it include the worker's items, and some came while the
    # parent had nothing left to do but wait (the worker's 150 items take about 0.6 s)
    assert any(150 < s < 300 for s in steps), steps
    after_mine = steps[steps.index(max(s for s in steps if s <= 150)) + 1 :]
    assert len(after_mine) >= 2, steps


def test_a_share_done_again_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    PARENT[0] = os.getpid()
    steps: list[int] = []
    out = fanout.fanout_map(_dies_in_a_worker, list(range(500)), steps.append)
    assert [v for v, _pid in out] == [n + 1 for n in range(500)]
    assert max(steps) == steps[-1] == 500  # the dead worker's partial count is not added to the redo


def test_one_process_steps_after_every_item() -> None:
    steps: list[int] = []
    assert fanout.fanout_map(lambda n: n, list(range(10)), steps.append) == list(range(10))
    assert steps == list(range(1, 11))
