"""Services: take a request, orchestrate the domain, return typed results; never print.

    plan.py         config (or records) -> SubmissionPlan: validation, git, snapshot, duplicates left out
    smoke_tests.py  one smoke test per command shape, its timing, the snapshot kept clean
    prepare.py      SubmissionPlan -> Prepared: run records, job specs, smoke tests, the estimate
    launch.py       Prepared -> submitted arrays (or a dry run, or a declined gate), recorded
    submit.py       the whole of `clusterrun submit`: prepare, review, the cost gate, launch, wait
    status.py       poll once per backend, record state changes, collect summaries, wait
    listing.py      what `status` lists: named runs (a sweep: its members, ranked), else the newest, filtered
    sweeps.py       a sweep's members ranked by a metric, and what the next sweep should request
    compare.py      two runs' metrics, config, code, data and environment, with a verdict
    reproduce.py    a new submission from records alone, then a verdict per (original, new) pair
    cancel.py, doctor.py

Decisions that need a person (the cost gate) and progress meant for one are callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

#: Progress meant for a person (the CLI prints it on stderr); services never print.
Notify = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default Notify: progress goes nowhere."""
