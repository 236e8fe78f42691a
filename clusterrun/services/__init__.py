"""Services: take a request, orchestrate the domain, return typed results; never print.

    plan.py         config (or records) -> SubmissionPlan: validation, git, snapshot, duplicates left out
    smoke_tests.py  one smoke test per command shape, its timing, the snapshot kept clean
    prepare.py      SubmissionPlan -> Prepared: run records, job specs, smoke tests, the estimate
    launch.py       Prepared -> submitted arrays (or a dry run, or a declined gate), recorded
    submit.py       the whole of `clusterrun submit`: prepare, review, the cost gate, launch, wait
    status.py       poll once per backend, record state changes, collect summaries, wait
    listing.py      what `status` lists: named runs (a sweep: its members, ranked), else the newest, filtered
    query.py        status --where/--sort/--columns and run states: a tiny parser, nothing evaluated
    notes.py        notes and tags in each run's notes.jsonl; disk.py: status --disk
    adhoc.py        `submit -- COMMAND`: the command as a config; init.py: `clusterrun init`
    sweeps.py       a sweep's members ranked by a metric, and what the next sweep should request
    compare.py      two runs' metrics, config, code, data and environment, with a verdict
    reproduce.py    a new submission from records alone, then a verdict per (original, new) pair
    cancel.py, doctor.py

Decisions that need a person (the cost gate) and progress meant for one are callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import cast

#: Progress meant for a person (the CLI prints it on stderr); services never print.
Notify = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default Notify: progress goes nowhere."""


def activity(notify: Notify, message: str, logs: Sequence[Path] = ()) -> AbstractContextManager[None]:
    """A step that takes a while (a smoke test), run inside the returned context.

    A Notify that also has an `activity(message, logs)` method returning a context manager shows the step
    live (the CLI: a spinner with the elapsed time and the last line written to `logs`); any other Notify
    is just given the message."""
    show = getattr(notify, "activity", None)
    if callable(show):
        return cast(AbstractContextManager[None], show(message, tuple(logs)))
    notify(message)
    return nullcontext()


#: step(done): how many items of a long batch are done so far (called after every item: must be cheap)
Step = Callable[[int], None]


def no_step(_done: int) -> None:
    """The Step of a display that shows no counts."""


def counting(notify: Notify, message: str, total: int) -> AbstractContextManager[Step]:
    """A batch of `total` items (a sweep's run directories, the runs a refresh records), run inside the
    returned context, which gives the Step to call as items are done.

    A Notify that also has a `counting(message, total)` method returning such a context shows it (the
    CLI: on a terminal, a bar once the batch has taken a moment); any other Notify hears nothing."""
    show = getattr(notify, "counting", None)
    if callable(show):
        return cast(AbstractContextManager[Step], show(message, total))
    return nullcontext(no_step)
