"""Which options make a run short, and the value the smoke test gives them: what an experienced
colleague sets first (one epoch, a handful of steps or batches)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: options that give a program its seed: the run's seed is put there ({seed}); LightningCLI's seeds every
#: generator with it, scikit-learn's scripts call it random_state (init and ad-hoc runs read the same)
SEED_OPTIONS = ("seed", "seed_everything", "random_state", "random_seed", "rng_seed")
#: Option names that give a script its settings file (`--config configs/base.yaml`).
CONFIG_OPTION = re.compile(r"(config|cfg|conf|hparams|params)(_?(file|path))?", re.I)
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
        if not _number(value):
            continue
        short = short_value(name, "int" if isinstance(value, int) else "float")
        if short is not None and (name.lower() in EPOCHS or value > short):  # one epoch, whatever it was
            out[name] = short
    return out


def short_value(name: str, kind: str = "int") -> int | float | None:
    """The smoke test's value for a length option named `name` that has no value of its own (a script
    that reads its length from its own config file unless told): None when the name is no length."""
    key = name.lower()
    value = 1 if key in EPOCHS else SHORT_STEPS if key in STEPS else SHORT_BATCHES if key in BATCHES else None
    if value is None:
        return None
    return float(value) if kind == "float" else value


def steps_param(params: Mapping[str, Any]) -> str | None:
    """The param counting the run's steps (estimate.steps_param): an integer steps or iterations option."""
    for name, value in params.items():
        if name.lower() in STEPS and isinstance(value, int) and not isinstance(value, bool):
            return name
    return None


def timed_param(params: Mapping[str, Any], smoke: Mapping[str, Any]) -> str | None:
    """The param the wall-time estimate scales with (estimate.steps_param), given the smoke test's
    params: a steps option the smoke test shortens, else an epochs option when the smoke test shortens
    nothing else (its epoch is then a whole epoch of the real run: same data, same batches, so the
    smoke test and a timing run of two epochs time one). Not epochs when batches or steps are cut too:
    those epochs are shorter than the run's, and an estimate too low would skip the cost question."""
    steps = steps_param(params)
    if steps and steps in smoke:
        return steps
    epochs = [name for name in smoke if name.lower() in EPOCHS]
    if len(epochs) == 1 and set(smoke) == set(epochs) and _number(params.get(epochs[0])):
        return epochs[0]
    return None


def is_short_option(name: str) -> bool:
    return name.lower() in (*EPOCHS, *STEPS, *BATCHES)
