"""The status table is tabulate's "simple" table, made in linear time: the same text for the same cells."""

from __future__ import annotations

import random
import string

import pytest
from tabulate import tabulate

from clusterrun.cli.tables import simple_table, status_table, typed_table

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


def _typed_cell(rng: random.Random) -> str:
    """A cell of a sweep's table, or of anything tabulate reads in its own way."""
    pick = rng.random()
    if pick < 0.25:
        return str(rng.randint(-1000, 10**6))
    if pick < 0.5:
        return format(rng.uniform(-5, 5) * 10 ** rng.randint(-6, 8), rng.choice(["g", ".4g", ".6g"]))
    if pick < 0.6:
        return rng.choice(["-", "", "adam", "sgd", "COMPLETED", "0.3s", "*"])
    # what tabulate reads its own way: the fast table must leave these to it (or agree)
    return rng.choice(
        [
            "007",
            "-0",
            "1,000",
            "1e5",
            "1.50",
            "nan",
            "inf",
            "True",
            " 5",
            "5 ",
            "1_0",
            "+3",
            "1e400",
            "ü",
            "1.",
            ".5",
            _word(rng, 1, 8),
        ]
    )


@pytest.mark.parametrize("seed", range(2000))
def test_typed_table_is_tabulates_text_or_leaves_it_to_tabulate(seed: int) -> None:
    rng = random.Random(seed)
    width = rng.randint(1, 6)
    headers = [rng.choice(["", "RUN ID", "seed", "lr", "loss", "ELAPSED", "x"]) for _ in range(width)]
    # a column's cells mostly alike (as a sweep's are), now and then a stray one
    makers = [rng.choice(["int", "float", "text", "any"]) for _ in range(width)]
    rows = []
    for _ in range(rng.randint(1, 40)):
        row = []
        for kind in makers:
            stray = rng.random() < 0.1
            if kind == "int" and not stray:
                row.append(str(rng.randint(0, 500)))
            elif kind == "float" and not stray:
                row.append(format(rng.uniform(0, 3), ".6g"))
            elif kind == "text" and not stray:
                row.append(_word(rng, 1, 12))
            else:
                row.append(_typed_cell(rng))
        rows.append(row)
    fast = typed_table(rows, headers)
    if fast is not None:
        assert fast == tabulate(rows, headers=headers, tablefmt="simple")


def test_typed_table_draws_a_sweeps_usual_table_itself() -> None:
    rows = [
        ["*", "run-3", "COMPLETED", "3", "0.01", "1.69617", "0.3s"],
        ["", "run-8", "CANCELLED", "8", "1e-05", "-", "-"],
    ]
    headers = ["", "RUN ID", "STATE", "seed", "lr", "loss", "ELAPSED"]
    fast = typed_table(rows, headers)
    assert fast is not None and fast == tabulate(rows, headers=headers, tablefmt="simple")
