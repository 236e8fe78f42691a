"""Which options make a run short, and the value the smoke test gives them: what an experienced
colleague sets first (one epoch, a handful of steps or batches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EPOCHS = ("epochs", "num_epochs", "n_epochs", "max_epochs", "nepochs", "train_epochs", "epoch")
STEPS = (
    "max_steps",
    "steps",
    "num_steps",
    "n_steps",
    "train_steps",
    "total_steps",
    "max_iters",
    "max_iter",
    "iters",
    "iterations",
    "num_iterations",
    "max_iterations",
    "n_iter",
    "n_iters",
    "num_iters",
    "num_updates",
)
BATCHES = ("num_batches", "max_batches", "limit_batches", "limit_train_batches", "n_batches", "train_batches")
SHORT_STEPS = 5
SHORT_BATCHES = 2


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def smoke_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """param -> the smoke test's value, for every param that makes a run short (its type kept)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        key = name.lower()
        if not _number(value):
            continue
        if key in EPOCHS:
            out[name] = 1 if isinstance(value, int) else 1.0
        elif key in STEPS and value > SHORT_STEPS:
            out[name] = SHORT_STEPS if isinstance(value, int) else float(SHORT_STEPS)
        elif key in BATCHES and value > SHORT_BATCHES:
            out[name] = SHORT_BATCHES if isinstance(value, int) else float(SHORT_BATCHES)
    return out


def steps_param(params: Mapping[str, Any]) -> str | None:
    """The param counting the run's steps (estimate.steps_param): an integer steps or iterations option."""
    for name, value in params.items():
        if name.lower() in STEPS and isinstance(value, int) and not isinstance(value, bool):
            return name
    return None


def is_short_option(name: str) -> bool:
    return name.lower() in (*EPOCHS, *STEPS, *BATCHES)
