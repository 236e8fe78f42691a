"""Which options name where a script writes (`--output-dir outputs`, `--save-dir`, `--log-dir`): a
path init must never take for data the script reads. A directory named under `data:` is linked into
every run's working directory, so a run writing there writes into the checkout's copy that every
other run (and its smoke test) writes too; left as a relative param, it is each run's own, under its
working directory, and listed as its artifacts."""

from __future__ import annotations

import re

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
