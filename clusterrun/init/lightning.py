"""A LightningCLI entry point (`LightningCLI(Model, Data)`, PyTorch Lightning's own command line): it
runs a subcommand (`fit`), reads a YAML config (`--config`) and takes every setting as a dotted option
(`--trainer.max_epochs 3`, `--model.lr 0.01`). Read, never run: the classes' `__init__` defaults and the
config file are read as source and data.

What `init` makes of it: the command `python train.py fit [--config FILE] --KEY {param}...`, the run's
seed as `--seed_everything {seed}` (LightningCLI seeds every generator with it), and the smoke test as
Lightning's own one-batch run, `--trainer.fast_dev_run true`."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config.yaml12 import load_yaml
from clusterrun.errors import ClusterrunError
from clusterrun.init.pysource import _callee

#: the top-level keys of a LightningCLI config (one of them makes a YAML file one)
CONFIG_KEYS = frozenset(
    {"trainer", "model", "data", "seed_everything", "optimizer", "lr_scheduler", "ckpt_path"}
)
#: the smoke test: Lightning runs one batch of training and of validation, without logs or checkpoints
FAST_DEV_RUN = ["--trainer.fast_dev_run", "true"]
SUBCOMMAND = "fit"


@dataclass
class LightningMain:
    """A `LightningCLI(...)` call: the classes it is given and its literal seed default."""

    subcommand: str = SUBCOMMAND  # "" with run=False: the script calls trainer.fit itself
    model: str = ""  # the LightningModule class name (first argument or model_class=)
    data: str = ""  # the LightningDataModule class name (second argument or datamodule_class=)
    seed_default: int | None = None  # seed_everything_default=1234 (None: not a literal int)
    #: `self.log("val_loss", ..., prog_bar=True)`: the names the progress bar prints (`val_loss: 0.21`)
    shown: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)  # every name given to self.log


def find_main(tree: ast.Module) -> LightningMain | None:
    """The script's `LightningCLI(...)` call (or of a class of the script derived from it), if any."""
    derived = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(_callee(base).endswith("LightningCLI") for base in node.bases)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node.func)
        if not (name.endswith("LightningCLI") or name in derived):
            continue
        words = {k.arg: k.value for k in node.keywords if k.arg}
        args = [*node.args, None, None]
        main = LightningMain(
            model=_callee(words.get("model_class") or args[0]),
            data=_callee(words.get("datamodule_class") or args[1]),
        )
        run = words.get("run")
        if isinstance(run, ast.Constant) and run.value is False:
            main.subcommand = ""
        seed = words.get("seed_everything_default")
        if isinstance(seed, ast.Constant) and type(seed.value) is int:
            main.seed_default = seed.value
        _logged(tree, main)
        return main
    return None


def _logged(tree: ast.Module, main: LightningMain) -> None:
    """The names given to `self.log(...)` with a literal name, and those shown on the progress bar."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "log" or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        name = first.value
        if name not in main.logged:
            main.logged.append(name)
        bar = next((k.value for k in node.keywords if k.arg == "prog_bar"), None)
        if isinstance(bar, ast.Constant) and bar.value is True and name not in main.shown:
            main.shown.append(name)


def init_defaults(tree: ast.Module, class_name: str) -> dict[str, Any]:
    """The literal defaults of a class's `__init__` arguments (int, float, str, bool), in order."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                names = [a.arg for a in item.args.args[1:]]
                defaults = item.args.defaults
                found: dict[str, Any] = {}
                for name, default in zip(names[len(names) - len(defaults) :], defaults, strict=True):
                    value = default.value if isinstance(default, ast.Constant) else None
                    if isinstance(value, bool | int | float | str):
                        found[name] = value
                return found
    return {}


def is_config(data: Any) -> bool:
    """Whether YAML data is a LightningCLI config: a mapping with `trainer` or `model` at its top."""
    return isinstance(data, dict) and bool({"trainer", "model"} & set(data)) and set(data) <= CONFIG_KEYS


def find_config(candidates: list[Path]) -> tuple[Path, dict[str, Any]] | None:
    """The first of `candidates` (YAML files of the project) that is a LightningCLI config."""
    for path in candidates:
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            data = load_yaml(path)
        except ClusterrunError:
            continue
        if is_config(data):
            return path, data
    return None


def config_files(root: Path, script: Path) -> list[Path]:
    """YAML files a LightningCLI config may be in: beside the script and in the usual folders of the
    repository (configs/, config/, conf/), nearest first."""
    found: list[Path] = []
    for folder in (script.parent, root, *(root / name for name in ("configs", "config", "conf"))):
        if folder.is_dir():
            for path in sorted(folder.glob("*.y*ml")):
                if path not in found:
                    found.append(path)
    return found
