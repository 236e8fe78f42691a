"""The closed choices of the command line, as types typer shows in --help and completes: the backends
(auto and every registered one) and the run states (comma-separated lists, checked with did-you-mean
by services/query.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from clusterrun.scheduler import BACKENDS
from clusterrun.services.query import RUN_STATES, STATE_GROUPS

if TYPE_CHECKING:
    BackendName = str
else:  # auto and the backends registered when the CLI is built: typer shows <auto|slurm|local>
    BackendName = Literal[tuple(BACKENDS)]

STATE_HELP = "Only runs in these states, comma-separated: " + ", ".join(RUN_STATES) + "; or active, ended."


def complete_states(incomplete: str) -> list[str]:
    """Completion of a comma-separated state list: the last word is completed, the ones before kept."""
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + s for s in [*RUN_STATES, *STATE_GROUPS] if s.startswith(last.lower())]
