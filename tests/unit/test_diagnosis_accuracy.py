"""A diagnosis says what the evidence shows and nothing more: a traceback's final exception is not
explained by an unrelated earlier line; a smoke test's diagnosis points to its own logs, which exist;
CPU efficiency divides CPU time by the elapsed time of the same source, and says nothing for runs too
short to measure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from clusterrun.analysis.efficiency import MIN_CPU_ELAPSED_SECONDS, cpu_time, efficiency
from clusterrun.config.models import ExperimentSpec
from clusterrun.diagnose.rules import diagnose
from clusterrun.execution.smoke import run_smoke
from clusterrun.records.summary import smoke_diagnosis

RES = {"time": "00:10:00", "mem": "2G", "cpus_per_task": 1, "nodes": 1}
BENIGN = (
    "/venv/lib/python3.11/site-packages/torch/hub.py:58: UserWarning: cache dir /home/u/.cache/x: "
    "No such file or directory, falling back to /tmp\n"
)


def tb(exception: str, frames: int = 2) -> str:
    body = "".join(f'  File "/snap/train.py", line {10 + i}, in step\n    run()\n' for i in range(frames))
    return f"Traceback (most recent call last):\n{body}{exception}\n"


def test_an_unmatched_final_exception_does_not_borrow_an_earlier_warning() -> None:
    log = BENIGN + "epoch 1 loss=0.5\n" + tb("ValueError: shapes (3,) and (4,) not aligned")
    got = diagnose("failed", 1, logs={"stderr.log": log}, resources=RES)
    assert got.category == "unknown"
    assert "ValueError: shapes (3,) and (4,) not aligned" in got.evidence
    assert "No such file" not in got.evidence and got.details.get("line", "").startswith("ValueError")


def test_the_same_warning_without_a_traceback_still_counts() -> None:
    """Nothing better is known: a tool's own 'No such file or directory' line is the evidence."""
    got = diagnose("failed", 1, logs={"stderr.log": "cat: data/labels.txt: No such file or directory\n"})
    assert got.category == "missing_file" and got.details["path"] == "data/labels.txt"


def test_an_exception_chained_to_the_final_one_is_its_cause() -> None:
    chained = (
        tb("FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'")
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + tb("RuntimeError: could not load the dataset")
    )
    got = diagnose("failed", 1, logs={"stderr.log": BENIGN + chained}, resources=RES)
    assert got.category == "missing_file" and "data/train.csv" in got.evidence
    assert "hub.py" not in got.evidence


def test_lines_after_the_traceback_still_count() -> None:
    """A shell step after the Python one: its error came later, so it is not 'earlier'."""
    log = tb("ValueError: bad value") + "./post.sh: line 3: rsync: command not found\n"
    got = diagnose("failed", 127, logs={"stderr.log": log}, resources=RES)
    assert got.category == "command_not_found"


def test_a_matching_final_exception_still_wins_over_earlier_lines() -> None:
    log = BENIGN + tb("ModuleNotFoundError: No module named 'cv2'")
    got = diagnose("failed", 1, logs={"stderr.log": log}, resources=RES)
    assert got.category == "missing_module" and "cv2" in got.evidence


# -------------------------------------------------------------------------------------- smoke tests


def _failing_smoke(tmp_path: Path, body: str) -> tuple[Any, ExperimentSpec]:
    run_dir = tmp_path / "exp_20261201-120000"
    smoke_dir = run_dir / "smoke"
    smoke_dir.mkdir(parents=True)
    script = smoke_dir / "command.sh"
    script.write_text(f"{sys.executable} -c {body!r}\n")
    result = run_smoke(script, smoke_dir, timeout=30)
    spec = ExperimentSpec.model_validate({"name": "exp", "command": "python train.py"})
    return result, spec


def test_a_smoke_failure_points_to_the_smoke_logs_that_exist(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('warn: x: No such file or directory\\n'); raise ValueError('bad')"
    result, spec = _failing_smoke(tmp_path, code)
    assert not result.ok
    got = smoke_diagnosis(result, spec, run_id="exp_20261201-120000")
    assert got.category == "unknown"
    assert got.evidence.startswith("smoke test exited with code 1; smoke/stderr.log: ValueError: bad")
    run_dir = tmp_path / "exp_20261201-120000"
    assert (run_dir / got.details["log"]).is_file()  # smoke/stderr.log, in the run that ran the test
    assert "clusterrun logs exp_20261201-120000 --smoke --stderr" in got.fix
    assert "traceback.txt" not in got.fix  # not written for smoke tests


def test_a_smoke_failure_without_a_run_names_the_smoke_folder(tmp_path: Path) -> None:
    result, spec = _failing_smoke(tmp_path, "raise SystemExit(3)")
    got = smoke_diagnosis(result, spec)
    assert got.category == "unknown" and "smoke/stderr.log in the run directory" in got.fix


# --------------------------------------------------------------------------------------- efficiency


def _sacct(elapsed: int | None, cpu: float | None) -> dict[str, Any]:
    extra = {"total_cpu_seconds": cpu} if cpu is not None else {}
    return {"elapsed_seconds": elapsed, "extra": extra, "source": "sacct"}


def test_a_tenth_of_a_second_job_gets_no_cpu_percentage() -> None:
    """sacct: Elapsed 0 s, TotalCPU 0.345 s; the job's own timer: 0.1 s. Never '345%'."""
    got = efficiency(RES, _sacct(0, 0.345), {"seconds": 0.1, "cpu_seconds": 0.09})
    assert got["cpu_efficiency"] is None
    assert got["total_cpu_seconds"] == pytest.approx(0.345)
    assert got["elapsed_seconds"] == pytest.approx(0.1)  # the time share still uses the finer timer


def test_cpu_time_and_elapsed_come_from_one_source() -> None:
    assert cpu_time(_sacct(120, 90.0), {"seconds": 119.6, "cpu_seconds": 80.0}) == (90.0, 120.0)
    # sacct without TotalCPU: both from the job's own record, never sacct's elapsed with the job's CPU
    assert cpu_time(_sacct(120, None), {"seconds": 119.6, "cpu_seconds": 80.0}) == (80.0, 119.6)
    assert cpu_time({}, {"seconds": 30.0}) == (None, None)


def test_cpu_efficiency_of_measurable_runs() -> None:
    got = efficiency({**RES, "cpus_per_task": 4}, _sacct(100, 200.0), {"seconds": 99.0})
    assert got["cpu_efficiency"] == pytest.approx(0.5)  # 200 s of CPU over 100 s x 4 cores
    own = efficiency(RES, {}, {"seconds": 40.0, "cpu_seconds": 30.0})
    assert own["cpu_efficiency"] == pytest.approx(0.75) and own["total_cpu_seconds"] == 30.0


@pytest.mark.parametrize("elapsed", [0, 1, 9])
def test_below_the_threshold_there_is_no_percentage(elapsed: int) -> None:
    assert elapsed < MIN_CPU_ELAPSED_SECONDS
    assert efficiency(RES, _sacct(elapsed, elapsed * 0.9), {})["cpu_efficiency"] is None


def test_the_threshold_is_documented() -> None:
    records = (Path(__file__).resolve().parents[2] / "site" / "records.md").read_text()
    assert f"shorter than {MIN_CPU_ELAPSED_SECONDS:g} s" in records
