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


def absolute_outputs(argv: Sequence[str], env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(option or variable, path) of each absolute path a command gives where its program writes:
    `--out-dir /tmp/x`, `--out-dir=/tmp/x`, `out_dir=/tmp/x` (Hydra), `$OUTPUT_DIR` in the job's env."""
    found: list[tuple[str, str]] = []
    previous = ""
    for token in argv:
        flag, previous = previous, token
        if flag.startswith("-") and "=" not in flag and is_output_name(flag) and os.path.isabs(token):
            found.append((flag, token))
        elif "=" in token:
            key, value = token.split("=", 1)
            if is_output_name(key) and os.path.isabs(value):
                found.append((key, value))
    found += [
        (f"${name}", value) for name, value in env.items() if is_output_name(name) and os.path.isabs(value)
    ]
    return found
