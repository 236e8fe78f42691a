"""`clusterrun init` (issue 11, item 2) on three repositories of different shapes (tests/fixtures/init/):
an argparse script, a Makefile + shell script, a click CLI installed through pyproject scripts. The
config it writes must load and pass `submit --dry-run`; a full run must find the guessed metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusterrun.init.pysource import read_script
from tests.helpers import REPO, cli, committed, git, no_traceback, require_torch

FIXTURES = REPO / "tests" / "fixtures" / "init"


def repo(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clusterrun init")


def init_config(
    root: Path, name: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`clusterrun init` in `root`, which must succeed: what it said, and configs/NAME.yaml as written."""
    made = cli(["init"], root, env=env)
    assert made.returncode == 0, made.stderr
    config: dict[str, Any] = yaml.safe_load((root / "configs" / f"{name}.yaml").read_text())
    return made, config


def test_an_argparse_script(tmp_path: Path) -> None:
    root = repo(tmp_path, "argparse_repo")
    made, config = init_config(root, "train")
    assert config["name"] == "train"
    assert config["command"] == (
        "python train.py --epochs {epochs} --lr {lr} --batch-size {batch_size} --optimizer {optimizer} "
        "--seed {seed} --data-dir {data_dir}"
    )
    assert config["params"] == {
        "epochs": 20,
        "lr": 0.01,
        "batch_size": 64,
        "optimizer": "adam",
        "data_dir": "data",
    }
    assert config["seed"] == 7 and config["smoke"]["params"] == {"epochs": 1}
    assert set(config["metrics"]["patterns"]) == {"train_loss", "val_acc"}
    assert config["resources"]["time"] == "01:00:00"
    err = made.stderr
    assert "entry point: train.py" in err and "check:   flags left out" in err and "--verbose" in err
    assert "takes no seed option" not in err  # --seed {seed}
    assert "left at the script's own default: --resume" in err
    assert "configs/hydra_defaults.yaml: an existing config of the project" in err
    assert "next: clusterrun submit configs/train.yaml --dry-run" in err

    kept = (root / "configs" / "train.yaml").read_text()
    again = cli(["init"], root)
    assert again.returncode == 2 and "configs/train.yaml exists: not overwritten" in again.stderr
    assert "--force" in again.stderr and (root / "configs" / "train.yaml").read_text() == kept
    no_traceback(again)
    assert cli(["init", "--force"], root).returncode == 0

    commit(root)
    dry = cli(["submit", "configs/train.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr
    run = cli(
        [
            "submit",
            "configs/train.yaml",
            "--backend",
            "local",
            "--wait",
            "--yes",
            "--json",
            "params.epochs=3",
        ],
        root,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)["summary"]["metrics"]
    assert metrics["train_loss"] > 0 and 0 < metrics["val_acc"] < 1  # the guessed patterns match


SEEDED_SHELL = """\
#!/usr/bin/env bash
set -euo pipefail
python fit.py --lr "${LR:-0.05}" --seed "${SEED:-1234}"
"""
SEEDED_FIT = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--seed", type=int)
a = p.parse_args()
print(f"seed {a.seed} loss={a.lr * a.seed:.3f}")
"""


def test_a_shell_scripts_seed_variable_is_the_runs_seed(tmp_path: Path) -> None:
    """What a user met with `python fit.py --seed "${SEED:-1234}"` in scripts/train.sh: init made LR a
    param and dropped SEED without a word, so every run, whatever its recorded seed, trained with 1234.
    SEED is now the run's seed (its default recorded as `seed:`), through the environment for a script
    and as `SEED={seed}` for make."""
    files = {
        "scripts/train.sh": SEEDED_SHELL,
        "fit.py": SEEDED_FIT,
        "Makefile": "SEED ?= 7\ntrain:\n\tpython fit.py --lr 0.1 --seed $(SEED)\n",
    }
    root = tmp_path / "seeded"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    commit(root)
    made = cli(["init", "--entry", "scripts/train.sh"], root)
    assert made.returncode == 0, made.stderr
    assert "$SEED is the run's seed (SEED={seed}, seed: 1234)" in made.stderr
    config = yaml.safe_load((root / "configs" / "train.yaml").read_text())
    assert config["seed"] == 1234 and config["env"] == {"LR": "{lr}", "SEED": "{seed}"}
    assert config["params"] == {"lr": 0.05}
    via_make = yaml.safe_load(cli(["init", "--entry", "make train", "--print"], root).stdout)
    assert via_make["command"] == "make train SEED={seed}" and via_make["seed"] == 7
    commit(root)
    ran = cli(["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes", "seed=5"], root)
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = [p for p in (root / "runs").iterdir() if (p / "summary.json").is_file()]
    assert (run_dir / "stdout.log").read_text() == "seed 5 loss=0.250\n"  # the run's seed, not 1234


JSON_CONFIGURED = """\
import argparse, json
p = argparse.ArgumentParser()
p.add_argument("--config", default="experiments/base.json")
args = p.parse_args()
cfg = json.load(open(args.config))
print(f"seed {cfg['seed']} loss={cfg['lr']}")
"""


def test_a_seed_in_the_config_file_a_script_reads_is_the_recorded_seed(tmp_path: Path) -> None:
    """`train.py --config experiments/base.json` with `"seed": 7` in the file: init recorded seed 42
    (the default) and said the script takes no seed, while every run trained with 7. The file is the
    config's config_file now: the file's seed is the run's, and a seed set by clusterrun reaches the
    script through the run's copy of the file (tests/test_config_file.py)."""
    root = tmp_path / "jsonconf"
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "base.json").write_text('{"lr": 0.5, "seed": 7}')
    (root / "train.py").write_text(JSON_CONFIGURED)
    git(root, "init", "-q", "-b", "main")
    commit(root)
    made = cli(["init"], root)
    assert made.returncode == 0, made.stderr
    assert "experiments/base.json's seed is the run's seed ({seed}, seed: 7)" in made.stderr
    assert "takes no seed option" not in made.stderr
    config = yaml.safe_load((root / "configs" / "train.yaml").read_text())
    assert config["seed"] == 7 and config["command"] == "python train.py --config {config_file}"
    assert config["config_file"]["set"] == {"lr": "{lr}", "seed": "{seed}"}
    commit(root)
    ran = cli(["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes", "seed=5"], root)
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = [p for p in (root / "runs").iterdir() if (p / "summary.json").is_file()]
    assert json.loads((run_dir / "manifest.json").read_text())["seed"] == 5
    assert (run_dir / "stdout.log").read_text() == "seed 5 loss=0.5\n"


def test_a_makefile_and_a_shell_script(tmp_path: Path) -> None:
    root = repo(tmp_path, "make_repo")
    made = cli(["init", "--json"], root)
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert report["entry"] == "scripts/train.sh" and report["written"]
    config = report["config"]
    assert config["command"] == "bash scripts/train.sh"
    assert config["params"] == {"epochs": 10, "lr": 0.001}
    assert config["env"] == {"EPOCHS": "{epochs}", "LR": "{lr}"}
    assert config["smoke"]["params"] == {"epochs": 1}
    assert set(config["metrics"]["patterns"]) == {"loss", "val_loss"}  # %-format and logging, in src/fit.py
    assert any(line.startswith("make train") for line in report["others"])
    commit(root)
    assert cli(["submit", "configs/train.yaml", "--backend", "local", "--dry-run"], root).returncode == 0

    printed = cli(["init", "--entry", "make train", "--name", "viamake", "--print"], root)
    assert printed.returncode == 0, printed.stderr
    assert not (root / "configs" / "viamake.yaml").exists()  # --print writes nothing
    via_make = yaml.safe_load(printed.stdout)
    assert via_make["command"] == "make train EPOCHS={epochs} LR={lr}" and via_make["params"]["lr"] == 0.001
    assert cli(["init", "--entry", "make train", "--name", "viamake"], root).returncode == 0
    commit(root)
    run = cli(
        [
            "submit",
            "configs/viamake.yaml",
            "--backend",
            "local",
            "--wait",
            "--yes",
            "--json",
            "params.epochs=3",
        ],
        root,
    )
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout)["summary"]["metrics"]) >= {"loss", "val_loss"}


def test_a_click_cli_from_pyproject_scripts(tmp_path: Path) -> None:
    root = repo(tmp_path, "click_repo")
    made = cli(["init"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "configs" / "fitcli.yaml").read_text())
    assert (
        config["command"]
        == "python -m cli train --max-steps {max_steps} --learning-rate {lr} --model {model}"
    )
    assert config["params"] == {"max_steps": 1000, "lr": 0.0003, "model": "small"}
    assert config["smoke"]["params"] == {"max_steps": 5} and config["estimate"] == {
        "steps_param": "max_steps"
    }
    assert "loss" in config["metrics"]["patterns"]
    assert "subcommand 'train' (the others: evaluate)" in made.stderr and "--fp16" in made.stderr
    # it has no seed option and never reads $CLUSTERRUN_SEED: said, since the seed would reach it only so
    assert (
        "check:   cli.py takes no seed option: the run's seed reaches it only as $CLUSTERRUN_SEED"
        in made.stderr
    )
    commit(root)
    dry = cli(["submit", "configs/fitcli.yaml", "--backend", "local", "--dry-run", "--json"], root)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["estimate"]["timing"]  # the smoke test timed max_steps


def test_typer_options_are_read_too(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(
        "from typing import Annotated\nimport typer\napp = typer.Typer()\n\n"
        "@app.command()\n"
        "def fit(data: str, epochs: int = 3, lr: Annotated[float, typer.Option(help='x')] = 0.1,\n"
        "        amp: bool = False, name: str = typer.Option('base', '--run-name')) -> None:\n"
        "    print(f'epoch={epochs} val_loss={lr:.3f}')\n\n"
        "if __name__ == '__main__':\n    app()\n"
    )
    info = read_script(source)
    assert info.framework == "typer" and info.main_guard and info.subcommands == []
    options = {o.name: o for o in info.options}
    assert options["data"].positional and options["data"].required
    assert (options["epochs"].flag, options["epochs"].default, options["epochs"].type) == (
        "--epochs",
        3,
        "int",
    )
    assert (options["lr"].default, options["lr"].type) == (0.1, "float")
    assert (
        options["amp"].is_flag and options["name"].flag == "--run-name" and options["name"].default == "base"
    )
    assert len(info.printed) == 1


def test_init_never_runs_the_script_and_says_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    nothing = cli(["init"], root)
    assert nothing.returncode == 2 and "no entry point found" in nothing.stderr
    assert "clusterrun init PATH" in nothing.stderr
    (root / "main.py").write_text(
        "import pathlib\npathlib.Path('RAN').write_text('x')\nimport argparse\n"
        "p = argparse.ArgumentParser()\np.add_argument('--steps', type=int, default=100)\n"
        "p.add_argument('--api-key', default='')\nargs = p.parse_args()\n"
    )
    made = cli(["init"], root)
    assert made.returncode == 0, made.stderr
    assert not (root / "RAN").exists()  # read with ast, never imported or run
    assert "--api-key look like secrets" in made.stderr
    config = yaml.safe_load((root / "configs" / "main.yaml").read_text())
    assert config["params"] == {"steps": 100} and config["smoke"]["params"] == {"steps": 5}
    unknown = cli(["init", "--entry", "nope.py"], root)
    assert unknown.returncode == 2 and "no such file, make target" in unknown.stderr
    assert "main.py" in unknown.stderr


SRC_SCRIPT = """\
import argparse, logging, time
log = logging.getLogger("fit")
if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.05)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO)  # to stderr, as the logging module does by default
    for epoch in range(args.epochs):
        time.sleep(0.02)
        log.info("epoch %d train_loss %.4f", epoch, 1.0 / (epoch + 1))
    print(f"final val_mse={0.5 / args.epochs:.5f}")
"""


def test_a_script_under_src_by_position_with_an_epoch_estimate(tmp_path: Path) -> None:
    """What a user met with a script of their own, src/fit.py, that logs through `logging`: `init` found
    no entry point and refused `clusterrun init src/fit.py`; the config it then wrote (given --entry) had
    no estimate, so the 1-hour starter time made the first submit 'expensive' and refused without a
    terminal; and the loss it logged to stderr was never read, without a word."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "fit.py").write_text(SRC_SCRIPT)
    (root / "src" / "helpers.py").write_text("def helper():\n    return 1\n")  # no __main__: not a script
    (root / "setup.py").write_text("if __name__ == '__main__':\n    pass\n")  # never an entry point
    git(root, "init", "-q", "-b", "main")
    found = cli(["init", "--print"], root)
    assert found.returncode == 0, found.stderr
    assert "entry point: src/fit.py" in found.stderr and "setup.py" not in found.stderr
    both = cli(["init", "src/fit.py", "--entry", "setup.py"], root)
    assert both.returncode == 2 and "two entry points given" in both.stderr
    no_traceback(both)
    made = cli(["init", "src/fit.py"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "configs" / "fit.yaml").read_text())
    assert config["command"].startswith("python src/fit.py --epochs {epochs}")
    assert config["smoke"]["params"] == {"epochs": 1}
    assert config["estimate"] == {"steps_param": "epochs"}  # a smoke epoch is a whole epoch of the run
    commit(root)
    dry = cli(["submit", "configs/fit.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr
    # smoke runs of 1 and more epochs of 20 ms time an epoch: about 0.4 s for 20, and nothing to confirm
    pattern = (
        r"Estimate: ([0-9.]+) s per run "
        r"\(smoke test, two runs of different lengths, ([0-9.]+) ms/epoch x 20 epochs\)"
    )
    estimate = re.search(pattern, dry.stdout)
    assert estimate, dry.stdout
    assert 10 <= float(estimate.group(2)) <= 200, estimate.group(0)
    assert "expensive" not in dry.stderr
    # the loss logged to stderr (logging's default) is read there, the one printed on stdout from stdout
    ran = cli(["submit", "configs/fit.yaml", "--backend", "local", "--wait", "--yes"], root)
    assert ran.returncode == 0, ran.stderr
    assert "Missing Metrics" not in ran.stdout and "printed on stderr" not in ran.stderr
    (run_dir,) = [p for p in (root / "runs").iterdir() if (p / "summary.json").is_file()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["metrics"] == {"train_loss": 0.05, "val_mse": 0.025}, summary["metrics"]
    rows = [json.loads(line) for line in (run_dir / "stdout_metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in rows if "train_loss" in r] == [round(1 / (e + 1), 4) for e in range(20)]
    assert [r["val_mse"] for r in rows if "val_mse" in r] == [0.025]


TABLE_PRINTS = """\
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--workers", type=int, default=7)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
rows = open("data/points.csv").read().split()
scale = float(open("settings.txt").read())
with open("notes.txt", "w") as out:
    out.write("written, not read")
for epoch in range(args.epochs):
    started = time.time()
    loss, acc = scale / (epoch + 1), 0.5 + epoch / 10 + 0 * len(rows)
    print(f"epoch {epoch} | loss {loss:.4f} | val_acc {acc:.3f} | took {time.time() - started:.2f} s")
"""


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_starter_config_fits_the_cluster_and_reads_space_separated_metrics(tmp_path: Path) -> None:
    """The promise: the config init writes is one the next command it suggests accepts, and runs. Seven
    DataLoader workers ask for 8 CPUs; the local cluster's largest node has fewer, so the starter asks for
    what it has (it was refused with 'the cluster cannot run this request' before). And `loss {x:.4f}` prints,
    the usual table of a training loop, give patterns (not `took`, not `epoch`). The data it reads from a
    gitignored directory is named under data: (a run's snapshot holds tracked files only: its first run
    failed with FileNotFoundError before)."""
    root = tmp_path / "table"
    (root / "data").mkdir(parents=True)
    (root / "data" / "points.csv").write_text("1\n2\n")
    (root / ".gitignore").write_text("data/\nnotes.txt\n")
    (root / "notes.txt").write_text("an old output")
    (root / "settings.txt").write_text("1.0")
    (root / "train.py").write_text(TABLE_PRINTS)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    made, config = init_config(root, "train")
    largest = max(
        int(n)
        for n in subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%c"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert largest < 8  # the premise: num_workers + 1 does not fit
    assert config["resources"]["cpus_per_task"] == largest
    assert f"cpus_per_task: {largest} (not 8)" in made.stderr
    assert set(config["metrics"]["patterns"]) == {"loss", "val_acc"}
    # the untracked file it reads is linked into the runs; the tracked one and the one it writes are not
    assert config["data"] == {"points_csv": "data/points.csv"}
    commit(root)
    dry = cli(["submit", "configs/train.yaml", "--dry-run"], root)  # the default backend: SLURM here
    assert dry.returncode == 0, dry.stderr
    run = cli(["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes", "--json"], root)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["metrics"] == {"loss": 0.3333, "val_acc": 0.7}


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_controller_that_does_not_answer_delays_init_a_few_seconds_only(tmp_path: Path) -> None:
    """sinfo waits about 9 s for a controller that is down; init waits FIT_SECONDS, says the resources
    were not checked, and writes the starter as it is. (A copy of the cluster's slurm.conf naming a
    port nobody listens on: the running cluster is not touched.)"""
    import os
    import time

    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith("SlurmctldPort")]
    bogus = tmp_path / "slurm.conf"
    bogus.write_text("\n".join([*lines, "SlurmctldPort=6999"]) + "\n")
    root = tmp_path / "table"
    root.mkdir()
    (root / "train.py").write_text(TABLE_PRINTS)
    git(root, "init", "-q", "-b", "main")
    started = time.monotonic()
    made = cli(["init"], root, {"SLURM_CONF": str(bogus)})
    took = time.monotonic() - started
    assert made.returncode == 0, made.stderr
    assert "resources: not checked against the cluster (slurm did not answer within 3 s)" in made.stderr
    assert yaml.safe_load((root / "configs" / "train.yaml").read_text())["resources"]["cpus_per_task"] == 8
    assert took < 8, took  # not sinfo's 9 s


ENV_READER = """\
import argparse, os
from os import environ
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
args = p.parse_args()
data_dir = os.environ.get("DATA_DIR", "data")
key = os.getenv("WANDB_API_KEY")
mode = environ["RUN_MODE"]
rank = int(os.environ.get("LOCAL_RANK", 0))
print(f"loss={1.0 / args.epochs:.3f} data={data_dir}")
"""


def test_environment_variables_the_script_reads_are_recorded_or_named(tmp_path: Path) -> None:
    """A script that reads $DATA_DIR ran with the submitting shell's value, and its reproduction, from a
    shell without it, read another directory: nothing recorded the value. init now puts each variable the
    script reads, and this shell sets, under env: (recorded, and set for every run); a secret-looking one
    stays out of the config; one not set here, and those SLURM or the launcher set, are not written."""
    root = tmp_path / "envs"
    root.mkdir()
    (root / "train.py").write_text(ENV_READER)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    shell = {"DATA_DIR": "/scratch/me/data", "WANDB_API_KEY": "abc123def", "LOCAL_RANK": "0"}
    made = cli(["init"], root, env=shell)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "configs" / "train.yaml").read_text())
    assert config["env"] == {"DATA_DIR": "/scratch/me/data"}
    assert "guessed: env: DATA_DIR: /scratch/me/data" in made.stderr
    assert "$WANDB_API_KEY: read by the script and secret-looking" in made.stderr
    assert "$RUN_MODE: read by the script and not set in this shell" in made.stderr
    assert "abc123def" not in (root / "configs" / "train.yaml").read_text() + made.stderr
    commit(root)
    run = cli(
        ["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes"], root, env={"RUN_MODE": "x"}
    )
    assert run.returncode == 0, run.stderr
    (run_dir,) = [p for p in (root / "runs").iterdir() if p.name.startswith("train_")]
    assert (
        "data=/scratch/me/data" in (run_dir / "stdout.log").read_text()
    )  # set from the config, not the shell


def test_a_metric_printed_in_two_forms_is_read_in_both(tmp_path: Path) -> None:
    """`val_mse {v:.4f}` each epoch and `val_mse={v:.5f}` at the end: the pattern took the first form it
    met only, so either every epoch's value or the final one was never read."""
    from clusterrun.init.metrics import patterns

    script = tmp_path / "fit.py"
    script.write_text(
        "for e in range(3):\n    print(f'epoch {e} val_mse {0.5:.4f}')\nprint(f'final val_mse={0.25:.5f}')\n"
    )
    found = patterns(read_script(script).printed)
    assert re.findall(found["val_mse"], "epoch 0 val_mse 0.5000\nfinal val_mse=0.25000") == [
        "0.5000",
        "0.25000",
    ]


HYDRA_SCRIPT = """\
import hydra
from omegaconf import DictConfig

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    for epoch in range(cfg.trainer.max_epochs):
        print(f"epoch={epoch} loss={1.0 / (epoch + 1):.4f}")

if __name__ == "__main__":
    main()
"""
HYDRA_CONFIG = """\
defaults:
  - _self_
seed: 7
trainer: {max_epochs: 10, lr: 0.01}
model: {hidden: 64, name: mlp}
data: {path: "${oc.env:DATA,data}", splits: [train, val]}
hydra: {job: {chdir: false}}
"""


def test_a_hydra_script_gets_its_config_values_as_overrides(tmp_path: Path) -> None:
    """A `@hydra.main` script has no argparse options: init wrote `command: python train.py` and no params,
    so nothing could be swept or recorded as a param. Its primary config's values now become params,
    passed back as Hydra overrides (read as YAML, never run: Hydra need not be installed here)."""
    root = tmp_path / "hydra"
    (root / "conf").mkdir(parents=True)
    (root / "train.py").write_text(HYDRA_SCRIPT)
    (root / "conf" / "config.yaml").write_text(HYDRA_CONFIG)
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert config["command"] == (
        "python train.py seed={seed} trainer.max_epochs={max_epochs} trainer.lr={lr} model.hidden={hidden} "
        "model.name={name}"
    )
    assert config["params"] == {"max_epochs": 10, "lr": 0.01, "hidden": 64, "name": "mlp"}
    assert config["seed"] == 7 and config["smoke"]["params"] == {"max_epochs": 1}
    assert config["estimate"] == {"steps_param": "max_epochs"}
    assert "left to the Hydra config (lists, nulls, interpolations): data.path, data.splits" in made.stderr
    assert "Hydra writes its outputs under outputs/" in made.stderr


HYDRA_GROUPS_CONFIG = """\
defaults:
  - model: mlp
  - optimizer: sgd
  - data: toy
  - extras@aux: small
  - override hydra/job_logging: disabled
  - _self_
seed: 0
trainer: {epochs: 20}
"""
HYDRA_OPTIONS = {
    "model/mlp.yaml": "hidden: 32\nname: mlp\n",
    "model/linear.yaml": "hidden: 0\nname: linear\n",
    "optimizer/sgd.yaml": "name: sgd\nlr: 0.05\nmomentum: 0.9\n",
    "optimizer/adam.yaml": "name: adam\nlr: 0.001\n",
    "data/toy.yaml": "n_samples: 2000\nnoise: 0.1\n",  # one option: nothing to choose
    "extras/small.yaml": "width: 3\n",
}


def test_a_hydra_defaults_list_makes_its_group_choices_params_and_leaves_their_values_to_the_option(
    tmp_path: Path,
) -> None:
    """A user's Hydra project chose its model and optimizer in the defaults list (conf/optimizer/sgd.yaml,
    adam.yaml): init left the list to Hydra, so the optimizer and its lr were neither params nor recorded,
    and `--sweep params.optimizer=...` could not be typed. The choices are params now. The chosen option's
    values are not: sgd's lr pinned as a param would override adam's own in a sweep over optimizers
    (init says which values each option keeps, and how to sweep one); a group with one option has no
    choice, and its values are params as the primary config's are."""
    root = tmp_path / "hydra-groups"
    (root / "conf").mkdir(parents=True)
    (root / "train.py").write_text(HYDRA_SCRIPT)
    (root / "conf" / "config.yaml").write_text(HYDRA_GROUPS_CONFIG)
    for name, text in HYDRA_OPTIONS.items():
        (root / "conf" / name).parent.mkdir(exist_ok=True)
        (root / "conf" / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert config["params"] == {
        "model": "mlp",
        "optimizer": "sgd",
        "n_samples": 2000,
        "noise": 0.1,
        "epochs": 20,
    }
    assert config["command"] == (
        "python train.py model={model} optimizer={optimizer} data.n_samples={n_samples} "
        "data.noise={noise} seed={seed} trainer.epochs={epochs}"
    )
    assert "lr" not in config["params"] and "momentum" not in config["params"]
    said = " ".join(made.stderr.split())  # (init's lines are wrapped to the terminal)
    assert (
        "optimizer=sgd is a Hydra group choice (param optimizer; options: adam, sgd): each option keeps "
        "its own values (optimizer.name, optimizer.lr, optimizer.momentum), which are not params; to "
        "sweep one, add it to params and optimizer.lr={lr} to the command" in said
    )
    assert "model=mlp is a Hydra group choice (param model; options: linear, mlp)" in said
    assert "width" not in config["command"] and "extras" not in config["command"]  # a package: Hydra's


OWN_CONFIG_SCRIPT = """\
import click, yaml


@click.command()
@click.option("--config", "config_path", default="conf/base.cfg")
@click.option("--max-steps", type=int, default=None, help="the config's max_steps unless given")
@click.option("--seed", type=int, default=0)
def main(config_path, max_steps, seed):
    cfg = yaml.safe_load(open(config_path))
    steps = max_steps if max_steps is not None else cfg["max_steps"]
    for step in range(steps):
        print(f"step {step + 1}: loss={1 / (step + 1):.4f}", flush=True)


if __name__ == "__main__":
    main()
"""


def test_a_length_option_without_a_default_shortens_the_smoke_test_through_its_command(
    tmp_path: Path,
) -> None:
    """What a user met with a click script that reads its length from its own YAML unless told
    (`--max-steps` defaults to None): init left --max-steps out and said nothing makes a run short, so
    the smoke test was a 60 s probe of the whole run. The smoke test now gives the option a short value
    (smoke.command); the run itself still leaves it to the script's config."""
    root = tmp_path / "own-config"
    (root / "conf").mkdir(parents=True)
    (root / "train.py").write_text(OWN_CONFIG_SCRIPT)
    # (a settings file init does not read: a .yaml one would be the config's config_file, its
    # max_steps a param the smoke test shortens: tests/test_config_file.py)
    (root / "conf" / "base.cfg").write_text("max_steps: 400000\n")
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert "--max-steps" not in config["command"]  # the run's length stays the script's own
    # one line, as the command is: the command and the short length after it
    assert config["smoke"]["command"] == config["command"] + " --max-steps 5"
    assert "probe" not in config["smoke"]
    assert "smoke test: the command with --max-steps 5 (smoke.command)" in made.stderr
    commit(root)
    dry = cli(["submit", "configs/train.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr
    assert "smoke test: running it locally with smoke.command" in dry.stderr
    smoke_out = next((root / "runs").glob("train_*/smoke/stdout.log")).read_text().splitlines()
    assert smoke_out[-1].startswith("step 5: loss=") and len(smoke_out) == 5  # 5 steps, not 400,000


def test_metrics_printed_as_json_get_patterns_that_read_them(tmp_path: Path) -> None:
    """The click script's last line was `print(json.dumps({"final_val_loss": round(val, 5)}))`: init read
    its `loss=` prints and never this one, the run's result."""
    from clusterrun.init.metrics import patterns

    script = tmp_path / "train.py"
    script.write_text(
        "import json\nval, steps = 0.1, 3\n"
        "print(f'step {steps}: loss={val:.4f}')\n"
        "print(json.dumps({'final_val_loss': round(val, 5), 'steps': steps, 'tag': 'x'}))\n"
        "print(json.dumps(dict(best_acc=0.9)))\n"
    )
    found = patterns(read_script(script).printed)
    assert set(found) == {"loss", "final_val_loss", "best_acc"}  # not the counter, not the word
    out = subprocess.run(["python", str(script)], capture_output=True, text=True, check=True).stdout
    assert re.search(found["final_val_loss"], out).group(1) == "0.1"  # type: ignore[union-attr]
    assert re.search(found["best_acc"], out).group(1) == "0.9"  # type: ignore[union-attr]
    assert re.search(found["loss"], out).group(1) == "0.1000"  # type: ignore[union-attr]


WRITES_OUTPUTS = """\
import argparse, os

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--data-dir", default="data")
parser.add_argument("--output-dir", default="outputs")
args = parser.parse_args()
rows = open(os.path.join(args.data_dir, "rows.csv")).read().split()
os.makedirs(args.output_dir, exist_ok=True)
with open(os.path.join(args.output_dir, "model.txt"), "w") as out:
    out.write(f"lr={args.lr} rows={len(rows)}\\n")
print(f"loss={args.lr * 2:.3f}")
"""


def test_an_output_directory_is_each_runs_own_not_data(tmp_path: Path) -> None:
    """The promise: no run sees another's files. `--output-dir outputs` names a gitignored directory that
    exists in the checkout (the user ran the script by hand once); init took it for data the script reads,
    named it under data:, and every run, its smoke test and every sweep member then wrote its checkpoints
    into the checkout's one outputs/ through the link (each overwriting the others'; 'Artifacts: (none)').
    The data directory beside it is still data:; the output directory is each run's own."""
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "data" / "rows.csv").write_text("1\n2\n3\n")
    (root / "outputs").mkdir()
    (root / "outputs" / "model.txt").write_text("from a run by hand\n")
    (root / ".gitignore").write_text("data/\noutputs/\nruns/\n")
    (root / "train.py").write_text(WRITES_OUTPUTS)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    made, config = init_config(root, "train")
    assert config["data"] == {"data": "data"}
    assert config["params"]["output_dir"] == "outputs"
    assert "output_dir = 'outputs' is where the script writes" in made.stderr
    commit(root)
    sweep = cli(
        [
            "submit",
            "configs/train.yaml",
            "--backend",
            "local",
            "--wait",
            "--yes",
            "--json",
            "--sweep",
            "params.lr=0.1,0.2",
        ],
        root,
    )
    assert sweep.returncode == 0, sweep.stderr
    runs = sorted(p for p in (root / "runs").iterdir() if (p / "manifest.json").is_file())
    assert len(runs) == 2
    for run, lr in zip(runs, ("0.1", "0.2"), strict=True):
        written = run / "work" / "outputs"
        assert not written.is_symlink()
        assert (written / "model.txt").read_text() == f"lr={lr} rows=3\n"
        assert "work/outputs/model.txt" in json.loads((run / "summary.json").read_text())["artifacts"]
    assert (root / "outputs" / "model.txt").read_text() == "from a run by hand\n"  # the checkout's: untouched


def test_an_absolute_output_directory_default_becomes_each_runs_own(tmp_path: Path) -> None:
    """`--out-dir` defaulting to /tmp/results: init kept it (with a word of advice), so every run, smoke
    test and sweep member wrote that one directory, and each run's results said 'Artifacts: (none)'. It
    now writes the relative name: each run's own directory, listed as its artifacts."""
    root = tmp_path / "proj"
    root.mkdir()
    outside = tmp_path / "shared-results"
    (root / "train.py").write_text(WRITES_OUTPUTS.replace('default="outputs"', f'default="{outside}"'))
    assert str(outside) in (root / "train.py").read_text()
    git(root, "init", "-q", "-b", "main")
    commit(root)
    made, config = init_config(root, "train")
    assert config["params"]["output_dir"] == "shared-results"
    assert f"not the script's '{outside}'" in made.stderr


def test_paths_read_through_joins_and_loaders_are_found(tmp_path: Path) -> None:
    """`torch.load(os.path.join("data", "test.pt"))` read a gitignored file init did not see (the
    reader was not one it knew, the path not one literal): the runs' evaluation failed on it."""
    source = tmp_path / "train.py"
    source.write_text(
        "import os, json\nfrom pathlib import Path\nimport numpy as np, torch\n"
        "a = torch.load(os.path.join('data', 'test.pt'))\n"
        "b = np.load(Path('cache') / 'feats' / 'x.npy')\n"
        "c = open(os.path.join('splits', name))\n"
        "d = json.load(handle)\n"
        "e = torch.load(os.path.join(root, 'w.pt'))\n"
        "open(os.path.join('out', 'log.txt'), 'w')\n"
    )
    assert read_script(source).read_paths == ["data/test.pt", "cache/feats/x.npy", "splits"]


ENV_CONFIGURED = """\
import os
import random

data = os.environ.get("DATA_DIR", "data")
out = os.environ.get("OUT_DIR", "{shared}")
logs = os.getenv("LOG_DIR", "logs")
random.seed(int(os.environ["SEED"]))
value = random.random()
rows = open(os.path.join(data, "rows.csv")).read().split()
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "value.txt"), "w") as f:
    f.write(f"{{value}} {{len(rows)}}")
print(f"value: {{value}}")
"""


def test_a_script_configured_by_environment_variables_gets_its_seed_and_its_own_outputs(
    tmp_path: Path,
) -> None:
    """A script that reads $SEED, $OUT_DIR (default: one absolute directory) and $DATA_DIR (default: a
    gitignored data/): init wires the seed to each run's, gives every run its own outputs, links the data;
    two runs with different seeds then write different values, each in its own directory, and nothing
    reaches the shared default."""
    shared = tmp_path / "shared-results"
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "data" / "rows.csv").write_text("1\n2\n3\n")
    (root / ".gitignore").write_text("data/\nruns/\n")
    (root / "fit.py").write_text(ENV_CONFIGURED.format(shared=shared))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    for name in ("SEED", "OUT_DIR", "DATA_DIR", "LOG_DIR"):
        assert name not in os.environ  # what init sees in this shell: not set
    made = cli(["init", "fit.py"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "configs" / "fit.yaml").read_text())
    assert config["env"] == {"SEED": "{seed}", "OUT_DIR": "outputs"}, config  # LOG_DIR: relative already
    assert config["data"] == {"data": "data"}
    assert "takes no seed option" not in made.stderr and f"its default '{shared}'" in made.stderr
    # set in this shell to one absolute directory: recorded as set, and said to be shared by every run
    printed = cli(["init", "fit.py", "--print"], root, env={"OUT_DIR": str(shared)})
    assert f"$OUT_DIR = '{shared}' is where the script writes, and every run would write" in printed.stderr
    commit(root)
    values = []
    for seed in ("1", "2"):
        done = cli(
            ["submit", "configs/fit.yaml", f"seed={seed}", "--backend", "local", "--wait", "--json"], root
        )
        assert done.returncode == 0, done.stderr
        run = root / "runs" / json.loads(done.stdout)["run_id"]
        value, rows = (run / "work" / "outputs" / "value.txt").read_text().split()
        assert rows == "3"
        values.append(value)
    assert values[0] != values[1] and not shared.exists()


LIGHTNING_SCRIPT = """\
import torch
import lightning as L
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from lightning.pytorch.cli import LightningCLI


class Model(L.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        loss = nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss, prog_bar=True)
        self.log("grad_steps", float(batch_idx))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", nn.functional.mse_loss(self.net(batch[0]), batch[1]), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class Data(L.LightningDataModule):
    def __init__(self, batch_size: int = 32, num_workers: int = 0):
        super().__init__()
        self.batch_size, self.num_workers = batch_size, num_workers

    def setup(self, stage=None):
        x = torch.randn(512, 8)
        y = x.sum(1, keepdim=True).sin()
        self.train, self.val = TensorDataset(x[:448], y[:448]), TensorDataset(x[448:], y[448:])

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=64)


if __name__ == "__main__":
    LightningCLI(Model, Data)
"""
LIGHTNING_CONFIG = """\
seed_everything: 3
trainer: {max_epochs: 2, accelerator: cpu, enable_model_summary: false}
model: {hidden: 16, lr: 0.02}
data: {batch_size: 64}
"""


def _lightning_project(root: Path, config: bool) -> Path:
    files = {"train.py": LIGHTNING_SCRIPT, ".gitignore": ".venv/\nruns/\nlightning_logs/\n"}
    return committed(root, files | ({"conf/base.yaml": LIGHTNING_CONFIG} if config else {}))


def test_a_lightning_cli_script_gets_fit_its_config_and_a_one_batch_smoke_test(tmp_path: Path) -> None:
    """`LightningCLI(Model, Data)` has no argparse options: init wrote `command: python train.py`, which
    LightningCLI refuses ('expected "subcommand" to be one of {fit,validate,test,predict}'), a probe as its
    smoke test, no seed and no metrics (a user trial). Read, never run: Lightning need not be installed."""
    root = _lightning_project(tmp_path / "with-config", config=True)
    made, config = init_config(root, "train")
    assert config["command"] == (
        "python train.py fit --config conf/base.yaml --trainer.max_epochs {max_epochs} --trainer.accelerator "
        "{accelerator} --trainer.enable_model_summary {enable_model_summary} --model.hidden {hidden} "
        "--model.lr {lr} --data.batch_size {batch_size} --seed_everything {seed}"
    )
    assert config["params"] == {
        "max_epochs": 2,
        "accelerator": "cpu",
        "enable_model_summary": False,
        "hidden": 16,
        "lr": 0.02,
        "batch_size": 64,
    }
    assert config["seed"] == 3  # the config's seed_everything
    assert config["requeue"] == {"signal": "USR1"}  # Lightning's auto-requeue listens for SIGUSR1
    assert config["smoke"]["command"] == config["command"] + " --trainer.fast_dev_run true"
    assert set(config["metrics"]["patterns"]) == {"train_loss", "val_loss"}  # what the progress bar shows
    assert "not printed, so not read: grad_steps" in made.stderr
    assert "to read every logged metric, set metrics.file: work/lightning_logs (the TensorBoardLogger's" in (
        " ".join(made.stderr.split())
    )
    # without a config file: the classes' __init__ defaults, and LightningCLI's random seed made explicit
    root = _lightning_project(tmp_path / "without", config=False)
    made, config = init_config(root, "train")
    assert config["command"] == (
        "python train.py fit --model.hidden {hidden} --model.lr {lr} --data.batch_size {batch_size} "
        "--data.num_workers {num_workers} --seed_everything {seed}"
    )
    assert "seed" not in config  # clusterrun's default (42), made explicit on the command line


LIGHTNING = ["lightning", "jsonargparse[signatures]>=4.27.7"]  # LightningCLI needs jsonargparse's extra


def _lightning_venv(root: Path) -> dict[str, str]:
    """The project's own venv (beside this interpreter's packages: PyTorch), with Lightning installed."""
    return _venv_with(root, LIGHTNING)


def _venv_with(root: Path, packages: list[str]) -> dict[str, str]:
    """The project's own venv (beside this interpreter's packages: PyTorch), with `packages` installed;
    the environment of a shell that activated it."""
    require_torch()
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    pip = subprocess.run(
        [*install, *packages],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}


@pytest.mark.torch
def test_a_lightning_cli_run_as_init_wrote_it_completes_with_its_metrics_and_logs(tmp_path: Path) -> None:
    """The config init wrote, run by real Lightning on this machine: Lightning's one-batch smoke test
    passes, the run completes with the progress bar's metrics, its lightning_logs are the run's artifacts,
    and nothing is said about an unseeded torch (--seed_everything seeds it)."""
    root = _lightning_project(tmp_path / "proj", config=True)
    env = _lightning_venv(root)
    assert cli(["init"], root, env=env).returncode == 0
    git(root, "add", "configs")
    git(root, "commit", "-q", "-m", "config")
    result = cli(["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes"], root, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "without a seed" not in result.stderr + result.stdout
    run = next(p for p in (root / "runs").iterdir() if (p / "summary.json").is_file())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["state"] == "completed" and set(summary["metrics"]) >= {"train_loss", "val_loss"}
    assert any("lightning_logs/version_0/checkpoints/" in path for path in summary["artifacts"])
    smoke = (run / "smoke" / "stdout.log").read_text() + (run / "smoke" / "stderr.log").read_text()
    assert "fast_dev_run" in smoke  # Lightning says it ran one batch


HF_SCRIPT = (REPO / "tests" / "fixtures" / "hf_run_cls.py").read_text()


def _hf_project(root: Path) -> Path:
    return committed(root, {"run_cls.py": HF_SCRIPT, ".gitignore": ".venv/\nruns/\n"})


def test_a_hugging_face_scripts_argument_dataclasses_are_its_options(tmp_path: Path) -> None:
    """`HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))` has no add_argument call:
    init wrote `command: python run_cls.py`, a probe, no seed, no metrics (a user trial). Its dataclasses'
    fields are its options now, TrainingArguments' by the few a run is set with; the smoke test stops
    the Trainer at --max_steps 5. Read, never run: transformers need not be installed."""
    root = _hf_project(tmp_path / "hf")
    _, config = init_config(root, "run_cls")
    assert config["command"] == (
        "python run_cls.py --hidden_size {hidden_size} --num_layers {num_layers} --n_train {n_train} "
        "--max_length {max_length} --output_dir {output_dir} --num_train_epochs {num_train_epochs} "
        "--learning_rate {learning_rate} --per_device_train_batch_size {per_device_train_batch_size} "
        "--seed {seed}"
    )
    assert config["params"]["hidden_size"] == 32 and config["params"]["output_dir"] == "outputs"
    assert config["seed"] == 42
    assert config["smoke"]["command"] == config["command"] + " --max_steps 5"
    assert set(config["metrics"]["patterns"]) == {"loss", "eval_loss", "train_loss"}


@pytest.mark.torch
def test_a_hugging_face_trainer_run_as_init_wrote_it_completes_with_the_metrics_it_logs(
    tmp_path: Path,
) -> None:
    """Real transformers (5: it logs its numbers as text, `{'eval_loss': '0.69'}`) in the project's own
    venv, a tiny BERT made from a config (no download), on this machine: the smoke test stops at
    --max_steps 5, the run completes, its eval and train losses are read, its checkpoints are artifacts."""
    root = _hf_project(tmp_path / "proj")
    env = _venv_with(root, ["transformers", "accelerate"])
    assert cli(["init"], root, env=env).returncode == 0
    git(root, "add", "configs")
    git(root, "commit", "-q", "-m", "config")
    submit = ["submit", "configs/run_cls.yaml", "--backend", "local", "--wait", "--yes"]
    result = cli([*submit, "params.num_train_epochs=2", "params.n_train=256"], root, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    run = next(p for p in (root / "runs").iterdir() if (p / "summary.json").is_file())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["state"] == "completed" and {"eval_loss", "train_loss"} <= set(summary["metrics"])
    assert any(path.startswith("work/outputs/checkpoint-") for path in summary["artifacts"])
    assert "--max_steps 5" in (run / "smoke" / "command.sh").read_text()
    assert "'train_runtime'" in (run / "smoke" / "stdout.log").read_text()  # the Trainer ran to its end


SKLEARN_SCRIPT = """\
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--n-samples", type=int, default=4000)
p.add_argument("--n-jobs", type=int, default=-1)
p.add_argument("--random-state", type=int, default=0)
a = p.parse_args()
t = time.time()
print(f"cv_acc={0.9:.4f} test_acc={0.91:.4f} fit_seconds={time.time() - t:.1f}")
"""


def test_a_scikit_learn_script_without_a_main_guard_gets_its_seed_workers_and_timing(tmp_path: Path) -> None:
    """A quick experiment script (experiments/gridsearch.py: options read at its top level, no main
    guard) was not found at all; its --random-state is scikit-learn's seed; n_jobs=-1 starts a worker per
    CPU the job sees; fit_seconds is a time, which would make every reproduction differ (a user trial)."""
    root = tmp_path / "sk"
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "gridsearch.py").write_text(SKLEARN_SCRIPT)
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "gridsearch")
    assert config["command"] == (
        "python experiments/gridsearch.py --n-samples {n_samples} --n-jobs {n_jobs} --random-state {seed}"
    )
    assert config["seed"] == 0 and "random_state" not in config["params"]
    assert "n_jobs=-1 starts a worker for each CPU the job sees" in made.stderr
    assert config["metrics"]["ignore"] == ["fit_seconds"]
    # n_jobs given: the job asks for that many CPUs (then fitted to the cluster's largest node)
    (root / "experiments" / "gridsearch.py").write_text(SKLEARN_SCRIPT.replace("default=-1", "default=4"))
    made = cli(["init", "--force", "--print"], root)
    assert made.returncode == 0, made.stderr
    assert "cpus_per_task: 4 (n_jobs=4)" in made.stderr


def test_a_seed_option_without_a_default_is_the_runs_seed_not_left_unseeded(tmp_path: Path) -> None:
    """`--random-state` of `type=int, default=None` (scikit-learn's convention: None is unseeded) was
    left at the script's default, and init then said the script took no seed option: every run was
    unseeded (a user trial). It is the run's seed now, 42 unless said otherwise."""
    root = tmp_path / "sk"
    root.mkdir()
    (root / "train.py").write_text(
        SKLEARN_SCRIPT.replace("default=0)", "default=None)").replace("a = p.parse", "p.add_argument("
        "'--seed-file', default=None)\na = p.parse")
    )  # fmt: skip
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert config["command"].endswith("--random-state {seed}") and config["seed"] == 42, config
    assert "--random-state is the run's seed ({seed}, seed: 42); its own default, None" in made.stderr
    assert "takes no seed option" not in made.stderr and "seed_file" not in config["params"]


PACKAGE_TRAIN = """\
import argparse
def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.01)
    a = p.parse_args()
    for e in range(a.epochs):
        print(f"epoch {e} loss {1 / (e + 1):.4f}")
if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize(
    "runs", ['exec mlp-train "$@"', 'python -u -m mlp.train "$@"', "python -m mlp.train $*"]
)
def test_a_shell_wrapper_that_forwards_its_arguments_gets_its_python_options(
    tmp_path: Path, runs: str
) -> None:
    """scripts/train.sh that runs the project's console script (or its module) and passes "$@" on: init
    read no Python behind it (no options, no metrics) and ran the smoke test as a 60 s probe (a user
    trial: a src-layout package). Now the options of the module behind it are its params."""
    root = committed(
        tmp_path / "pkg",
        {
            "pyproject.toml": '[project]\nname = "mlp"\n[project.scripts]\nmlp-train = "mlp.train:main"\n',
            "src/mlp/__init__.py": "",
            "src/mlp/train.py": PACKAGE_TRAIN,
            "scripts/train.sh": f"#!/bin/bash\nset -e\n{runs}\n",
        },
    )
    made = cli(["init", "--entry", "scripts/train.sh", "--print"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load(made.stdout)
    assert config["command"] == "bash scripts/train.sh --epochs {epochs} --lr {lr}", config
    assert config["params"] == {"epochs": 10, "lr": 0.01} and config["smoke"]["params"] == {"epochs": 1}
    assert set(config["metrics"]["patterns"]) == {"loss"}


ARGV_SCRIPT = """\
import sys, time
lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
name = sys.argv[3] if len(sys.argv) > 3 else "base"
for e in range(epochs):
    print(f"epoch {e}: loss {lr / (e + 1):.4f}")
"""


def test_a_script_reading_its_arguments_from_sys_argv_by_position_gets_them_as_params(tmp_path: Path) -> None:
    """`lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1` (a quick experiment script): init found no
    entry point at all, and given the script, wrote `python run_exp.py` with a 60 s probe (a user trial).
    Its positions are params now, in order, and the one that counts epochs shortens the smoke test."""
    root = committed(tmp_path / "argv", {"run_exp.py": ARGV_SCRIPT})
    made, config = init_config(root, "run_exp")
    assert config["command"] == "python run_exp.py {lr} {epochs} {name}", config
    assert config["params"] == {"lr": 0.1, "epochs": 3, "name": "base"}
    assert config["smoke"]["params"] == {"epochs": 1}
    commit(root)
    ran = cli(
        ["submit", "configs/run_exp.yaml", "--backend", "local", "--wait", "--yes", "params.lr=0.5"], root
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "loss=0.1667" in ran.stdout  # 0.5 / 3: the run's lr and epochs reached the script
    gap = committed(tmp_path / "gap", {"g.py": ARGV_SCRIPT.replace("sys.argv[2]", "sys.argv[5]")})
    made = cli(["init", "g.py", "--print"], gap)  # argv[1] and argv[3] without [2]: not params
    assert made.returncode == 0 and "{lr}" not in made.stdout, made.stdout


LOGGER_SCRIPT = """\
import argparse
import wandb
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()
run = wandb.init(project="toy", config=vars(args))
{writer}
for epoch in range(args.epochs):
    loss = 1.0 / (epoch + 1)
    run.log({{"train/loss": loss, "val/loss": loss * 1.1, "epoch": epoch}})
    print(f"epoch {{epoch + 1}}/{{args.epochs}}")
run.summary["best_val_loss"] = loss
"""


def test_a_script_that_logs_to_tensorboard_or_wandb_gets_its_metrics_read_from_there(tmp_path: Path) -> None:
    """A user trial: a script that logged with SummaryWriter and wandb and printed only its progress got
    'metrics: no name=value print found' and runs with no metrics. A SummaryWriter's folder is now the
    metrics file (its event files' scalars, analysis/tfevents.py); without one, the names it logs to
    wandb are read from the run summary wandb prints as it finishes; a folder init cannot read from the
    source is said, not guessed."""
    cases = {
        'writer = SummaryWriter("tb")': ({"file": "work/tb"}, "the event files train.py writes to tb/"),
        "writer = SummaryWriter()": ({"file": "work/runs"}, "writes to runs/"),  # its default folder
        'writer = SummaryWriter(log_dir="logs/tb/")': ({"file": "work/logs/tb"}, "writes to logs/tb/"),
    }
    for number, (writer, (metrics, said)) in enumerate(cases.items()):
        root = tmp_path / f"tb{number}"
        root.mkdir()
        (root / "train.py").write_text(LOGGER_SCRIPT.format(writer=writer))
        git(root, "init", "-q", "-b", "main")
        made, config = init_config(root, "train")
        assert config["metrics"] == metrics, writer
        assert said in " ".join(made.stderr.split())
    root = tmp_path / "unknown-folder"
    root.mkdir()
    (root / "train.py").write_text(LOGGER_SCRIPT.format(writer="writer = SummaryWriter(args.out)"))
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert "metrics" not in config
    assert "logs to TensorBoard in a folder not named by a literal" in " ".join(made.stderr.split())
    root = tmp_path / "wandb-only"
    root.mkdir()
    (root / "train.py").write_text(LOGGER_SCRIPT.format(writer=""))
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    patterns = config["metrics"]["patterns"]
    assert sorted(patterns) == ["best_val_loss", "epoch", "train/loss", "val/loss"]
    summary = "wandb: Run summary:\nwandb: best_val_loss 0.0333\nwandb:         epoch 29\n"
    summary += "wandb:    train/loss 0.03\n"
    history = "wandb: Run history:\nwandb: train/loss █▄▁\n"
    found = {n: re.findall(p, history + summary) for n, p in patterns.items()}
    assert found == {"train/loss": ["0.03"], "val/loss": [], "epoch": ["29"], "best_val_loss": ["0.0333"]}


def test_a_hydra_script_logging_to_tensorboard_has_its_event_files_found_in_hydras_output_folder(
    tmp_path: Path,
) -> None:
    """Hydra before 1.2 (version_base "1.1", or none given) runs the job in outputs/<date>/<time>/: a
    SummaryWriter("tb") there writes work/outputs/2026-12-08/00-21-33/tb/, which the next run names by
    its own time; metrics.file is the folder above the time (its event files are found below it)."""
    script = HYDRA_SCRIPT.replace(
        "def main(cfg: DictConfig) -> None:\n",
        "def main(cfg: DictConfig) -> None:\n    from torch.utils.tensorboard import SummaryWriter\n"
        '    writer = SummaryWriter("tb")\n',
    )
    cases = [
        ("version_base=None", "hydra: {job: {chdir: false}}", "work/tb"),  # runs where it is started
        ('version_base="1.1"', "", "work/outputs"),
        ("", "", "work/outputs"),  # no version_base: 1.1's defaults
        ("version_base=None", "hydra: {job: {chdir: true}, run: {dir: 'exp/${now:%H-%M-%S}'}}", "work/exp"),
        ('version_base="1.1"', "hydra: {run: {dir: '/scratch/${now:%H-%M-%S}'}}", None),
    ]
    for number, (version, section, expected) in enumerate(cases):
        root = tmp_path / f"hydra-tb{number}"
        (root / "conf").mkdir(parents=True)
        decorator = (
            f'@hydra.main({version + ", " if version else ""}config_path="conf", config_name="config")'
        )
        (root / "train.py").write_text(
            script.replace(
                '@hydra.main(version_base=None, config_path="conf", config_name="config")', decorator
            )
        )
        (root / "conf" / "config.yaml").write_text(f"trainer: {{max_epochs: 3}}\n{section}\n")
        git(root, "init", "-q", "-b", "main")
        made, config = init_config(root, "train")
        assert (config.get("metrics") or {}).get("file") == expected, (version, section)
        if expected is None:
            assert "hydra.run.dir names outside the run's working directory" in " ".join(made.stderr.split())


SBATCH_SCRIPT = """\
#!/bin/bash
#SBATCH --job-name=toy
#SBATCH -p gpu -A mylab            # partition and account
#SBATCH -t 1-00:00:00
#SBATCH --nodes=1 --ntasks-per-node=1
#SBATCH -c 4
#SBATCH --mem-per-cpu=2G
#SBATCH --gres=gpu:a100:2
#SBATCH --exclude=node07
#SBATCH --array=1-10
#SBATCH --output=logs/%x-%j.out
#SBATCH --bogus-option=1

set -euo pipefail
module load cuda/12.1
source venv/bin/activate
export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK
export WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567
cd "$SLURM_SUBMIT_DIR"
echo "start $(date)"
srun --unbuffered -c 4 python train.py --lr 0.05 --epochs 20 \\
    --seed 3
nvidia-smi
"""


def test_an_sbatch_script_of_the_project_gives_its_resources_setup_and_values(tmp_path: Path) -> None:
    """A user trial: a project run on the cluster by `sbatch scripts/train.sbatch` got starter resources
    (1 h, 4G, 1 CPU) where its script asks for a day, 8G and 2 GPUs, no setup (its venv and modules),
    and the argparse defaults where the script passes other values. init reads the sbatch script that
    runs the entry point: its #SBATCH lines (until the first command, as SLURM reads them), its setup
    lines (a relative venv through $CLUSTERRUN_REPO_ROOT: a run works in its own copy), and its command's
    values; what clusterrun does itself, and what it cannot read, is said."""
    root = repo(tmp_path, "argparse_repo")
    (root / "scripts").mkdir(exist_ok=True)
    (root / "scripts" / "train.sbatch").write_text(SBATCH_SCRIPT)
    made, config = init_config(root, "train")
    assert config["params"]["lr"] == 0.05 and config["params"]["epochs"] == 20 and config["seed"] == 3
    assert config["setup"] == [
        "module load cuda/12.1",
        'source "$CLUSTERRUN_REPO_ROOT/venv/bin/activate"',
        "export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK",
    ]
    resources = config["resources"]
    assert {k: resources[k] for k in ("partition", "account", "time", "cpus_per_task", "mem", "gpus")} == {
        "partition": "gpu",
        "account": "mylab",
        "time": "1-00:00:00",
        "cpus_per_task": 4,
        "mem": "8G",  # 2G per CPU x 4 CPUs
        "gpus": 2,
    }
    assert resources["gpu_type"] == "a100" and resources["extra"] == {"exclude": "node07"}
    said = " ".join(made.stderr.split())
    assert "scripts/train.sbatch runs it on the cluster now" in said
    assert "the values its command passes (lr=0.05, epochs=20, seed 3)" in said
    assert "--array (sweeps are job arrays: use sweep:" in said
    assert "--bogus-option (not an sbatch option clusterrun knows)" in said
    assert '`cd "$SLURM_SUBMIT_DIR"` (a run works in its own copy of the code)' in said
    assert "resources: from scripts/train.sbatch" in said
    # a secret the script exports is never copied into the config (committed, recorded in every run)
    assert "0123456789abcdef" not in (root / "configs" / "train.yaml").read_text()
    assert "export WANDB_API_KEY=... (a secret: export it in your shell before submitting" in said


def test_a_batch_script_named_like_a_run_script_is_read_not_run(tmp_path: Path) -> None:
    """scripts/train.sh with #SBATCH lines and `srun python train.py` was init's entry point, `bash
    scripts/train.sh`: in a job its srun starts a step inside the job's own, and its `cd
    $SLURM_SUBMIT_DIR` leaves the run's copy of the code. What it runs is the entry point now, and the
    script gives resources, setup and values, as a .sbatch file does."""
    root = repo(tmp_path, "argparse_repo")
    (root / "scripts").mkdir(exist_ok=True)
    (root / "scripts" / "train.sh").write_text(SBATCH_SCRIPT)
    made, config = init_config(root, "train")
    assert config["command"].startswith("python train.py --epochs {epochs}")
    assert "srun" not in config["command"] and config["resources"]["gpus"] == 2
    assert "entry point: train.py" in made.stderr and "scripts/train.sh (clusterrun init" not in made.stderr


def test_an_array_job_script_is_said_as_the_sweep_it_stands_for(tmp_path: Path) -> None:
    """`#SBATCH --array=0-9` with `--seed $SLURM_ARRAY_TASK_ID`: a sweep does the same, each run with
    its own record; init says which (the array itself is a sweep's, never an sbatch option here)."""
    root = repo(tmp_path, "argparse_repo")
    (root / "run.slurm").write_text(
        "#!/bin/bash\n#SBATCH --array=0-9%2\n#SBATCH -t 30\n"
        "srun python train.py --seed $SLURM_ARRAY_TASK_ID\n"
    )
    made, config = init_config(root, "train")
    assert config["resources"]["time"] == "30" and config["seed"] == 7  # the script's own default
    assert "--sweep seed=range(0,10)" in " ".join(made.stderr.split())
    assert "clusterrun submit configs/train.yaml --sweep seed=range(0,10)" in " ".join(made.stderr.split())


def test_a_batch_script_that_runs_a_module_gives_the_module_command(tmp_path: Path) -> None:
    """`srun python -m pkg.train` in scripts/train.sh: the entry point is the module, run as one (its
    relative imports need it), with the script's resources and values."""
    root = tmp_path / "module-batch"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "train.py").write_text((FIXTURES / "argparse_repo" / "train.py").read_text())
    (root / "scripts").mkdir()
    (root / "scripts" / "train.sh").write_text(
        "#!/bin/bash\n#SBATCH -c 2\nsrun python -m pkg.train --lr 0.5 --epochs 2\n"
    )
    git(root, "init", "-q", "-b", "main")
    made, config = init_config(root, "train")
    assert config["command"].startswith("python -m pkg.train --epochs {epochs} --lr {lr}")
    assert config["params"]["lr"] == 0.5 and config["params"]["epochs"] == 2
    # (the script's 2 CPUs; the config's fitted to the largest node of the machine's cluster)
    assert "its resources (cpus_per_task 2)" in " ".join(made.stderr.split())


LIGHTNING_TRAINER = """\
import lightning as L
{imports}

class Model(L.LightningModule):
    def training_step(self, batch, _):
        loss = batch.sum()
        self.log("train_loss", loss)
        return loss

if __name__ == "__main__":
    L.Trainer(max_epochs=3{logger}).fit(Model())
"""


def test_a_lightning_trainer_scripts_metrics_are_read_from_its_loggers_folder(tmp_path: Path) -> None:
    """A user trial: a Trainer script (not LightningCLI) that logs with self.log to a CSVLogger printed
    nothing: init said "no name=value print found" and its runs had no metrics. Its logger's folder is
    the metrics file now, every version below it (a requeued run starts a new version per attempt)."""
    cases = [
        ("", "", "work/lightning_logs"),  # no logger given: Lightning's default folder
        (
            "from lightning.pytorch.loggers import CSVLogger",
            ', logger=CSVLogger("logs", name="csv")',
            "work/logs/csv",
        ),
        (
            "from lightning.pytorch.loggers import CSVLogger",
            ', logger=CSVLogger(save_dir="out")',
            "work/out/lightning_logs",
        ),
        ("from lightning.pytorch.loggers import TensorBoardLogger", ", logger=TensorBoardLogger(ROOT)", None),
        ("", ", logger=False", None),
    ]
    for number, (imports, logger, expected) in enumerate(cases):
        root = tmp_path / f"trainer{number}"
        root.mkdir()
        (root / "train.py").write_text(LIGHTNING_TRAINER.format(imports=imports, logger=logger))
        git(root, "init", "-q", "-b", "main")
        _made, config = init_config(root, "train")
        assert (config.get("metrics") or {}).get("file") == expected, logger
