"""Which options name where a script writes (`--output-dir outputs`, `--save-dir`, `--log-dir`): a
path init must never take for data the script reads. A directory named under `data:` is linked into
every run's working directory, so a run writing there writes into the checkout's copy that every
other run (and its smoke test) writes too; left as a relative param, it is each run's own, under its
working directory, and listed as its artifacts."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

# a word that names output on its own ('output', 'outdir', 'save_dir', 'logdir', 'results_path')
_OUTPUT_WORDS = frozenset(
    {
        "out",
        "outs",
        "output",
        "outputs",
        "outdir",
        "outpath",
        "save",
        "saves",
        "savedir",
        "log",
        "logs",
        "logdir",
        "logging",
        "result",
        "results",
        "artifact",
        "artifacts",
        "export",
        "exports",
        "dump",
        "tensorboard",
        "tb",
        "wandb",
        "mlruns",
        "report",
        "reports",
        "figures",
        "plots",
        "predictions",
        "preds",
    }
)
# words that name output only beside a directory word ('checkpoint_dir', 'ckpt_dir', 'run_dir');
# alone or with a file's ('checkpoint', 'ckpt_path') they more often name a file to load
_PLACE_WORDS = frozenset({"dir", "directory", "folder", "root"})
_WITH_PLACE = frozenset(
    {"checkpoint", "checkpoints", "ckpt", "ckpts", "run", "runs", "exp", "experiment", "work"}
)
# words that make it an input whatever else it says ('pretrained_ckpt_dir', 'resume_from', 'data_root')
_INPUT_WORDS = frozenset(
    {
        "data",
        "dataset",
        "input",
        "inputs",
        "in",
        "load",
        "resume",
        "pretrained",
        "init",
        "from",
        "source",
        "src",
    }
)


def _words(name: str) -> list[str]:
    """'outputDir' / 'output-dir' / 'OUTPUT_DIR' -> ['output', 'dir']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_output_name(name: str) -> bool:
    """Whether an option or param of this name says where the script writes its results."""
    words = _words(name)
    if not words or _INPUT_WORDS & set(words):
        return False
    if _OUTPUT_WORDS & set(words):
        return True
    return bool(_WITH_PLACE & set(words)) and bool(_PLACE_WORDS & set(words))


def output_option(previous: str, token: str) -> tuple[str, str] | None:
    """(option, value) when `token` of an argv is the value given where the program writes: after an
    output-named flag (`--out-dir`, then `/tmp/x`), or in one token (`--out-dir=/tmp/x`, Hydra's
    `out_dir=/tmp/x`); `previous` is the token before it."""
    if previous.startswith("-") and "=" not in previous and is_output_name(previous):
        return previous, token
    if "=" in token:
        key, value = token.split("=", 1)
        if is_output_name(key):
            return key, value
    return None


def absolute_outputs(argv: Sequence[str], env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(option or variable, path) of each absolute path a command gives where its program writes:
    `--out-dir /tmp/x`, `--out-dir=/tmp/x`, `out_dir=/tmp/x` (Hydra), `$OUTPUT_DIR` in the job's env."""
    given = [output_option(previous, token) for previous, token in zip(["", *argv], argv, strict=False)]
    found = [option for option in given if option is not None and os.path.isabs(option[1])]
    found += [
        (f"${name}", value) for name, value in env.items() if is_output_name(name) and os.path.isabs(value)
    ]
    return found
