"""The status table is tabulate's "simple" table, made in linear time: the same text for the same cells."""

from __future__ import annotations

import random
import string

import pytest
from tabulate import tabulate

from clusterrun.cli.tables import simple_table, status_table

HEADERS = ["RUN ID", "STATE", "ELAPSED", "JOB", "NODE", "METRICS"]


def _word(rng: random.Random, low: int = 1, high: int = 30) -> str:
    text = "".join(
        rng.choice(string.ascii_letters + string.digits + "_-.:=, ") for _ in range(rng.randint(low, high))
    )
    return text.strip() or "x"


def _job(rng: random.Random) -> str:
    return rng.choice(
        [str(rng.randint(1, 10**7)), f"{rng.randint(1, 999)}_{rng.randint(0, 99)}", "-", "local-1"]
    )


@pytest.mark.parametrize("seed", range(200))
def test_the_same_text_as_tabulate_for_any_cells(seed: int) -> None:
    rng = random.Random(seed)
    numeric_jobs = rng.random() < 0.5
    rows = [
        [
            _word(rng),
            _word(rng, 3, 20).upper(),
            _word(rng, 1, 9),
            str(rng.randint(1, 10**7)) if numeric_jobs else _job(rng),
            _word(rng, 1, 12),
            _word(rng, 1, 60),
        ]
        for _ in range(rng.randint(0, 25))
    ]
    expected = tabulate(rows, headers=HEADERS, tablefmt="simple")
    assert simple_table(rows, HEADERS, numeric=3) == expected


def test_the_status_table_right_aligns_job_ids_only_when_all_are_numbers() -> None:
    rows = [
        {"run_id": "a_20261202-100000", "state": "completed", "job_id": "7", "metrics": {"loss": 0.5}},
        {"run_id": "b_20261202-100001", "state": "running", "job_id": "12345"},
    ]
    lines = status_table(rows).splitlines()
    end = lines[0].index("JOB") + len("JOB")
    assert lines[2][end - 1] == "7" and lines[3][end - 5 : end] == "12345"  # right-aligned
    mixed = status_table([*rows, {"run_id": "c_20261202-100002", "state": "created"}]).splitlines()
    start = mixed[0].index("JOB")
    assert mixed[2][start] == "7" and mixed[4][start] == "-"  # a run without a job: all left-aligned
