"""The promise of `config_file`: a script configured by a settings file of its own (`python train.py
--config configs/base.yaml`) is given, in each run, its own copy of that file as the run's commit has
it, with the run's params and seed written in; so a param, an override and a sweep axis change what the
script reads, the recorded seed is the one it uses, no run sees another's copy (nor a later edit of the
checkout's file), and reproduce rebuilds the same copy. Found by a user trial: init made the file's
path the only param, so nothing could be swept and the seed clusterrun recorded never reached the
script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clusterrun.config.models import ExperimentSpec
from clusterrun.errors import ConfigError
from clusterrun.records import config_copy
from tests.helpers import cli, committed, git, no_traceback

SETTINGS = """\
# the project's own settings
model: {hidden: 32}
optim:
  lr: 0.01
  nesterov: yes   # PyYAML reads yes as true: the copy must mean the same
train:
  epochs: 4
seed: 0
"""
TRAIN = """\
import argparse, json, yaml
p = argparse.ArgumentParser()
p.add_argument("--config", default="configs/base.yaml")
a = p.parse_args()
cfg = yaml.safe_load(open(a.config))
print("READ", json.dumps(cfg, sort_keys=True))
for e in range(cfg["train"]["epochs"]):
    print(f"epoch={e} loss={cfg['optim']['lr'] / (e + 1) + cfg['seed']:.6f}")
"""


def _project(tmp_path: Path) -> Path:
    return committed(
        tmp_path / "proj", {"configs/base.yaml": SETTINGS, "train.py": TRAIN, ".gitignore": "runs/\n"}
    )


def _read(run: Path, log: str = "stdout.log") -> dict[str, object]:
    line = next(x for x in (run / log).read_text().splitlines() if x.startswith("READ "))
    return dict(json.loads(line[5:]))


def _runs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "runs").iterdir() if (p / "manifest.json").is_file())


def test_init_makes_the_files_settings_params_and_each_run_reads_its_own_copy(tmp_path: Path) -> None:
    root = _project(tmp_path)
    made = cli(["init"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "configs" / "train.yaml").read_text())
    assert config["command"] == "python train.py --config {config_file}"
    assert config["config_file"] == {
        "path": "configs/base.yaml",
        "set": {
            "model.hidden": "{hidden}",
            "optim.lr": "{lr}",
            "optim.nesterov": "{nesterov}",
            "train.epochs": "{epochs}",
            "seed": "{seed}",
        },
    }
    assert config["params"] == {"hidden": 32, "lr": 0.01, "nesterov": True, "epochs": 4}
    assert config["seed"] == 0 and config["smoke"]["params"] == {"epochs": 1}
    assert "reads its seed from configs/base.yaml" not in made.stderr  # it reaches the script now
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    ran = cli(
        ["submit", "configs/train.yaml", "--backend", "local", "--wait", "--yes", "params.lr=0.5", "seed=3"],
        root,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "Key Hyperparameters: epochs=4 hidden=32 lr=0.5 nesterov=True" in ran.stdout, ran.stdout
    assert "only as $CLUSTERRUN_SEED" not in ran.stdout
    (run,) = _runs(root)
    read = _read(run)
    assert (
        read["optim"] == {"lr": 0.5, "nesterov": True}
        and read["seed"] == 3
        and read["train"] == {"epochs": 4}
    )
    assert _read(run / "smoke")["train"] == {"epochs": 1}  # the smoke test's own copy, its params in it
    # the copy is the commit's file: an edit of the checkout's after submission reaches no run
    (root / "configs" / "base.yaml").write_text(SETTINGS.replace("epochs: 4", "epochs: 99"))
    again = cli(["reproduce", run.name, "--backend", "local", "--wait", "--yes"], root)
    assert again.returncode == 0 and "REPRODUCED" in again.stdout, again.stdout + again.stderr
    newest = _runs(root)[-1]
    assert newest != run and _read(newest) == read
    assert (newest / "config_file" / "base.yaml").read_text() == (
        run / "config_file" / "base.yaml"
    ).read_text()


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_sweep_over_the_files_settings_gives_each_member_its_own_copy_on_slurm(tmp_path: Path) -> None:
    """An array's members get their files from the sweep's member files when their jobs start
    (records/memberfiles.py): the copy of the settings file too, each member's own."""
    root = _project(tmp_path)
    config = (
        "name: cf\ncommand: python train.py --config {config_file}\nparams: {lr: 0.01, epochs: 4}\n"
        "config_file:\n  path: configs/base.yaml\n  set: {optim: {lr: '{lr}'}, train.epochs: '{epochs}', "
        "seed: '{seed}'}\nsmoke: {params: {epochs: 1}}\nresources: {time: '00:05:00', mem: 500M}\n"
        "metrics: {patterns: {loss: 'loss=([0-9.]+)'}}\n"
    )
    (root / "configs" / "cf.yaml").write_text(config)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    swept = cli(
        [
            "submit",
            "configs/cf.yaml",
            "--backend",
            "slurm",
            "--yes",
            "--wait",
            "--sweep",
            "params.lr=0.1,0.2,0.3",
        ],
        root,
        timeout=300,
    )
    assert swept.returncode == 0, swept.stderr + swept.stdout
    members = [p for p in _runs(root) if json.loads((p / "manifest.json").read_text()).get("sweep")]
    assert len(members) == 3
    seen = sorted(_read(m)["optim"]["lr"] for m in members)  # type: ignore[index]
    assert seen == [0.1, 0.2, 0.3]
    assert all(_read(m)["seed"] == 42 and _read(m)["train"] == {"epochs": 4} for m in members)


def test_a_wrong_config_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    root = _project(tmp_path)
    base = "name: cf\ncommand: python train.py --config {config_file}\nparams: {lr: 0.1}\n"
    cases = {
        "config_file: {path: configs/base.yaml, set: {optim.lrr: '{lr}'}}": (
            "config_file.set optim.lrr: configs/base.yaml has no optim.lrr (optim has: lr, nesterov)"
        ),
        "config_file: {path: configs/none.yaml, set: {optim.lr: '{lr}'}}": (
            "config_file: configs/none.yaml is not a file of the commit the run uses"
        ),
        "config_file: {path: configs/base.yaml, set: {optim: '{lr}'}}": "it is a dict, not one value",
        "config_file: {path: configs/base.yaml, set: {optim.lr: '{lrate}'}}": "no param 'lrate'",
        "config_file: {path: ../base.yaml, set: {}}": "is not inside the repository",
        "config_file: {path: configs/base.toml}": "a YAML or JSON file is read",
    }
    for i, line in enumerate(cases):
        (root / "configs" / f"bad{i}.yaml").write_text(base + line + "\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bad configs")
    for i, said in enumerate(cases.values()):
        result = cli(["submit", f"configs/bad{i}.yaml", "--backend", "local", "--dry-run"], root)
        assert result.returncode != 0 and said in " ".join(result.stderr.split()), (i, result.stderr)
        no_traceback(result)
    unpassed = cli(["submit", "configs/bad0.yaml", "--dry-run", "command=python train.py"], root)
    assert "neither the command nor env passes its copy" in unpassed.stderr
    assert not (root / "runs").exists() or not _runs(root)  # nothing recorded


def test_a_config_without_config_file_resolves_and_hashes_as_before(tmp_path: Path) -> None:
    plain = ExperimentSpec(name="x", command="python t.py")
    assert "config_file" not in plain.resolved()
    with pytest.raises(ValueError, match="config_file"):  # no settings file: no {config_file} to fill in
        ExperimentSpec(name="x", command="python t.py --c {config_file}")


def test_the_copy_keeps_what_set_does_not_name_and_json_stays_json(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "s.json").write_text('{"a": {"b": 1, "keep": [1, 2]}, "seed": 0, "name": "x"}')
    spec = ExperimentSpec(
        name="x",
        command="python t.py {config_file}",
        params={"b": 2.5},
        seed=9,
        config_file={"path": "configs/s.json", "set": {"a.b": "{b}", "seed": "{seed}", "name": "run-{b}"}},
    )
    text = config_copy.render(spec, tmp_path, "/runs/r")
    assert json.loads(text) == {"a": {"b": 2.5, "keep": [1, 2]}, "seed": 9, "name": "run-2.5"}
    assert config_copy.name(spec) == "config_file/s.json"
    (tmp_path / "configs" / "s.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a mapping of settings"):
        config_copy.render(spec, tmp_path, "/runs/r")


def test_submitting_the_projects_own_settings_file_names_the_config_that_passes_it(tmp_path: Path) -> None:
    """`clusterrun submit configs/base.yaml` (the project's settings, beside clusterrun's configs) said
    "unknown key 'model' ... did you mean 'smoke'?" (a user trial)."""
    root = _project(tmp_path)
    alone = cli(["submit", "configs/base.yaml", "--dry-run"], root)
    assert alone.returncode == 2, alone.stderr
    assert "configs/base.yaml is not a clusterrun config: it has no command" in alone.stderr
    assert "use config_file (clusterrun init writes one)" in alone.stderr and "smoke" not in alone.stderr
    (root / "configs" / "train.yaml").write_text(
        "name: t\ncommand: python train.py --config {config_file}\nconfig_file: {path: configs/base.yaml}\n"
    )
    named = cli(["submit", "configs/base.yaml", "--dry-run"], root)
    assert "hint: submit the config that gives it to the script: clusterrun submit configs/train.yaml" in (
        named.stderr
    )
    no_traceback(named)


def test_init_gives_a_positional_config_the_projects_only_settings_file(tmp_path: Path) -> None:
    """`python train.py CONFIG` (no default): the project's one settings file in configs/ is the one; with
    two, init says how to choose instead of guessing."""
    root = committed(
        tmp_path / "pos",
        {
            "configs/base.yaml": SETTINGS,
            "train.py": TRAIN.replace('"--config", default="configs/base.yaml"', '"config"'),
        },
    )
    made = cli(["init", "--print"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load(made.stdout)
    assert config["command"] == "python train.py {config_file}" and config["config_file"]["path"] == (
        "configs/base.yaml"
    )
    assert "(the project's only settings file: the option has no default)" in made.stderr
    (root / "configs" / "big.yaml").write_text(SETTINGS)
    two = cli(["init", "--print"], root)
    assert two.returncode == 0 and "config_file" not in yaml.safe_load(two.stdout), two.stdout
    assert "config takes a settings file: give the run its own copy of one" in " ".join(two.stderr.split())


def test_a_settings_param_is_named_by_its_last_key_unless_that_clashes_or_says_little() -> None:
    from clusterrun.init.settings import leaf_names

    keys = ["optim.lr", "sched.warmup-steps", "model.enc.width", "model.dec.width", "optimizer.name", "name"]
    assert leaf_names(keys) == {
        "optim.lr": "lr",
        "sched.warmup-steps": "warmup_steps",
        "model.enc.width": "enc_width",
        "model.dec.width": "dec_width",
        "optimizer.name": "optimizer_name",
        "name": "name",
    }


def test_an_ad_hoc_command_giving_a_settings_file_gets_its_settings_as_params(tmp_path: Path) -> None:
    """`submit -- python train.py --config configs/base.yaml`: the file's settings are params (a sweep over
    one reaches the script), as init makes them; a LightningCLI command's config is left as typed."""
    root = _project(tmp_path)
    typed = ["submit", "--backend", "local", "--yes", "--wait", "--smoke", "epochs=1"]
    ran = cli(
        [
            *typed,
            "--sweep",
            "params.lr=0.5,0.25",
            "--",
            "python",
            "train.py",
            "--config",
            "configs/base.yaml",
        ],
        root,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    said = " ".join(ran.stderr.split())
    assert "configs/base.yaml is the script's settings file: each run gets its own copy of it" in said
    members = [r for r in _runs(root) if json.loads((r / "manifest.json").read_text()).get("sweep")]
    assert sorted(_read(m)["optim"]["lr"] for m in members) == [0.25, 0.5]  # type: ignore[index]
    assert all(_read(m)["seed"] == 0 for m in members)  # the file's seed, recorded as the runs'
    command = ["python", "train.py", "--config", "configs/base.yaml", "--trainer.max_epochs", "1"]
    other = cli(["submit", "--backend", "local", "--dry-run", "--", *command], root)
    assert "settings file" not in other.stderr  # LightningCLI's own config


def test_a_secret_in_the_settings_file_is_never_a_param(tmp_path: Path) -> None:
    """`wandb: {api_key: ...}` in the settings file: made a param, it would be written into every record
    (init's draft was refused, an internal error, in a user trial). It stays in the copy, as the commit
    has it, and init says to read it from the environment."""
    settings = SETTINGS + "wandb:\n  api_key: abcdef0123456789abcdef0123456789\n  project: demo\n"
    root = committed(tmp_path / "sec", {"configs/base.yaml": settings, "train.py": TRAIN})
    made = cli(["init", "--print"], root)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load(made.stdout)
    assert "api_key" not in made.stdout and config["params"]["project"] == "demo"
    assert "configs/base.yaml holds what looks like a secret (wandb.api_key)" in made.stderr
