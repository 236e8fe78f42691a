"""LightningCLI entry points, read from the source (init/lightning.py): never run, no Lightning needed."""

from __future__ import annotations

import ast
from pathlib import Path

from clusterrun.init.lightning import find_main, init_defaults, is_config

SCRIPT = """\
from lightning.pytorch.cli import LightningCLI

class Net:
    def __init__(self, width: int = 8, lr: float = 1e-3, act=None, name: str = "mlp"):
        self.log("loss", 1.0, prog_bar=True)
        self.log("gnorm", 2.0)
        self.log(f"{{name}}_x", 3.0, prog_bar=True)

class MyCLI(LightningCLI):
    pass

def main():
    MyCLI(Net, datamodule_class=None, seed_everything_default=7, run={run})
"""


def test_a_derived_cli_its_classes_seed_run_and_logged_names() -> None:
    main = find_main(ast.parse(SCRIPT.format(run="True")))
    assert main is not None and main.subcommand == "fit" and main.model == "Net" and main.seed_default == 7
    assert main.shown == ["loss"] and main.logged == ["loss", "gnorm"]  # an f-string name is not known
    assert find_main(ast.parse(SCRIPT.format(run="False"))).subcommand == ""  # type: ignore[union-attr]
    assert find_main(ast.parse("import argparse\nargparse.ArgumentParser()\n")) is None
    # literal defaults only, in order (act=None has none to give)
    defaults = init_defaults(ast.parse(SCRIPT.format(run="True")), "Net")
    assert defaults == {"width": 8, "lr": 1e-3, "name": "mlp"}


def test_a_lightning_config_has_trainer_or_model_at_its_top_and_nothing_else() -> None:
    assert is_config({"trainer": {"max_epochs": 3}, "model": {"lr": 0.1}, "seed_everything": 1})
    assert not is_config({"model": {"lr": 0.1}, "hydra": {}})  # a Hydra config with a model group
    assert not is_config({"data": {"path": "x"}}) and not is_config(["trainer"])


def test_a_script_running_lightnings_trainer_is_known_by_its_import_and_call(tmp_path: Path) -> None:
    """Its SLURM auto-requeue listens for SIGUSR1: init writes requeue.signal: USR1 for it."""
    from clusterrun.init.pysource import read_script, uses_lightning_trainer

    cases = {
        "import lightning as L\ntrainer = L.Trainer(max_epochs=2)\n": True,
        "from pytorch_lightning import Trainer\nTrainer().fit(m)\n": True,
        "import lightning\n": False,  # imported, no Trainer made
        "from transformers import Trainer\nTrainer(model=m).train()\n": False,  # another Trainer
    }
    for i, (source, expected) in enumerate(cases.items()):
        path = tmp_path / f"s{i}.py"
        path.write_text(source)
        assert uses_lightning_trainer(read_script(path)) is expected, source
