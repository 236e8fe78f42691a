"""Ad-hoc runs (issue 11, item 1): `clusterrun submit -- python train.py --lr 0.1` without a config file,
with everything a config run records; --smoke / --smoke-args / a probe smoke test; resources from flags;
--save writes a config that submits the same run."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from clusterrun.services.adhoc import AdhocRequest, _smoke_example, config_data, name_of, template
from tests.helpers import cli, git, no_traceback

SCRIPT = ["python", "examples/quickstart/train.py"]
LOCAL = ["submit", "--backend", "local"]


def run_dir(project: Path, run_id: str) -> Path:
    return project / "runs" / run_id


def test_a_command_runs_with_everything_recorded(project: Path) -> None:
    result = cli(
        [
            *LOCAL,
            "--wait",
            "--json",
            "--smoke",
            "steps=5",
            "--tag",
            "first",
            "--",
            *SCRIPT,
            "--lr",
            "0.05",
            "--steps",
            "30",
            "--batch-size",
            "16",
            "--seed",
            "3",
        ],
        project,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    run = run_dir(project, record["run_id"])
    assert record["run_id"].startswith("train_") and record["name"] == "train"
    assert record["command"] == [
        *SCRIPT,
        "--lr",
        "0.05",
        "--steps",
        "30",
        "--batch-size",
        "16",
        "--seed",
        "3",
    ]
    assert record["config"]["params"] == {"lr": 0.05, "steps": 30, "batch_size": 16}
    assert record["seed"] == 3 and record["git"]["commit"] and record["snapshot"]["id"]
    assert record["smoke"]["ok"] and not record["smoke"]["skipped"]
    assert record["summary"]["success"] and record["summary"]["metrics"]["loss"] > 0
    assert "loss" in record["config"]["metrics"]["patterns"]  # guessed from the script's prints
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["command"] == [
        *SCRIPT,
        "--lr",
        "{lr}",
        "--steps",
        "{steps}",
        "--batch-size",
        "{batch_size}",
        "--seed",
        "{seed}",
    ]
    assert config["smoke"]["params"] == {"steps": 5}
    source = Path(record["config_file"])
    assert source.parent == project / "runs" / ".adhoc" and source.is_file()  # in the registry: not dirty
    assert "untracked" not in result.stderr
    smoke_out = (run / "smoke" / "stdout.log").read_text().splitlines()
    assert smoke_out[-2].startswith("step 5 ")  # the smoke test ran 5 steps, the job 30
    assert (run / "stdout.log").read_text().count("\nstep ") == 29
    found = cli(["status", "--where", "params.lr==0.05", "--tag", "first", "--format", "ids"], project)
    assert found.stdout.split() == [record["run_id"]]
    again = cli([*LOCAL, "--smoke", "steps=5", "--", *SCRIPT, "--lr", "0.05", "--steps", "30"], project)
    assert again.returncode == 0  # another command (no --batch-size, no --seed): not a duplicate


def test_save_writes_a_config_that_submits_the_same_run(project: Path) -> None:
    argv = [*SCRIPT, "--lr=0.2", "--steps", "12", "--batch-size", "8"]
    adhoc = cli(
        [
            *LOCAL,
            "--dry-run",
            "--json",
            "--name",
            "fit",
            "--mem",
            "600M",
            "--time",
            "00:03:00",
            "--save",
            "configs/fit.yaml",
            "--smoke-args",
            "--steps 2",
            "--",
            *argv,
        ],
        project,
    )
    assert adhoc.returncode == 0, adhoc.stderr
    assert "saved the config as configs/fit.yaml" in adhoc.stderr
    saved = yaml.safe_load((project / "configs" / "fit.yaml").read_text())
    assert saved["command"] == (  # (the script's --seed, not given: its default is the run's seed)
        "python examples/quickstart/train.py --lr={lr} --steps {steps} --batch-size {batch_size} "
        "--seed {seed}"
    )
    assert saved["resources"] == {"time": "00:03:00", "mem": "600M"} and saved["name"] == "fit"
    first = json.loads(adhoc.stdout)
    assert first["resources"]["mem"] == "600M" and first["resources"]["time"] == "00:03:00"
    smoke_log = (run_dir(project, first["run_id"]) / "smoke" / "stdout.log").read_text()
    assert "step 2 " in smoke_log and "step 3 " not in smoke_log  # --smoke-args replaced the arguments

    again = cli(["submit", "configs/fit.yaml", "--backend", "local", "--dry-run", "--json"], project)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    for key in ("command", "command_line", "config_hash", "seed", "resources"):
        assert first[key] == second[key], key
    assert (
        first["config"]["params"] == second["config"]["params"] == {"lr": 0.2, "steps": 12, "batch_size": 8}
    )

    clash = cli([*LOCAL, "--dry-run", "--save", "configs/fit.yaml", "--", *SCRIPT, "--lr", "0.3"], project)
    assert clash.returncode == 2 and "holds another config" in clash.stderr
    same = cli(
        [
            *LOCAL,
            "--dry-run",
            "--name",
            "fit",
            "--mem",
            "600M",
            "--time",
            "00:03:00",
            "--save",
            "configs/fit.yaml",
            "--smoke-args",
            "--steps 2",
            "--",
            *argv,
        ],
        project,
    )
    assert same.returncode == 0, same.stderr  # the same config again: nothing to refuse


def test_without_smoke_flags_the_smoke_test_is_a_short_probe(project: Path) -> None:
    slow = [*SCRIPT, "--steps", "100000", "--step-seconds", "0.01"]
    result = cli([*LOCAL, "--dry-run", "--json", "--smoke-timeout", "3", "--", *slow], project)
    assert result.returncode == 0, result.stderr
    assert "no --smoke or --smoke-args" in result.stderr and "pass --smoke steps=5" in result.stderr
    record = json.loads(result.stdout)
    assert record["smoke"]["ok"] and record["smoke"]["timed_out"] and 2.5 < record["smoke"]["seconds"] < 30
    assert record["estimate"]["wall_seconds"] is None  # stopped at its timeout: not a whole run
    shown = cli(["show", record["run_id"]], project).stdout
    assert "Smoke Test: passed (probe: ran 3 s without failing, then stopped)" in shown
    failing = cli(
        [*LOCAL, "--dry-run", "--smoke-timeout", "20", "--", "python", "-c", "import sys; sys.exit(3)"],
        project,
    )
    assert failing.returncode == 1 and "smoke test FAILED" in failing.stderr  # a probe still catches a crash
    skipped = cli([*LOCAL, "--dry-run", "--json", "--skip-smoke", "tested by hand", "--", *slow], project)
    smoke = json.loads(skipped.stdout)["smoke"]
    assert smoke["skipped"] and smoke["reason"] == "tested by hand"
    # a probe that ended on its own was the job itself: its time is the estimate, not "unknown" (an
    # unknown estimate is bounded by the requested time, and made quick scripts "expensive")
    short = [*SCRIPT, "--steps", "3", "--step-seconds", "0.1"]
    quick = cli([*LOCAL, "--dry-run", "--json", "--", *short], project)
    assert quick.returncode == 0, quick.stderr
    est = json.loads(quick.stdout)["estimate"]
    assert est["basis"] == "the smoke test ran the whole command to its end", est
    assert 0.3 <= est["wall_seconds"] < 30


def test_bad_ad_hoc_input(project: Path) -> None:
    cases = [
        ([*LOCAL, "--"], "nothing after --", "clusterrun submit -- python"),
        (LOCAL, "give a config file, or a command after --", "clusterrun submit -- python train.py"),
        ([*LOCAL, "python", "train.py"], "no config file python", "clusterrun submit -- python"),
        (
            [*LOCAL, "--smoke", "epochs=1", "--", *SCRIPT, "--lr", "0.1"],
            "has no --epochs option; its options: --lr",
            "--smoke-args",
        ),
        (
            [*LOCAL, "--smoke", "steps=1", "--smoke-args", "--steps 1", "--", *SCRIPT],
            "--smoke and --smoke-args",
            "give one",
        ),
        ([*LOCAL, "--", *SCRIPT, "--api-key", "abc123"], "secret", ""),
        (
            ["submit", "configs/quickstart.yaml", "--save", "x.yaml"],
            "--save writes the config of a command",
            "",
        ),
        (
            ["submit", "configs/quickstart.yaml", "--smoke-args", "--steps 1"],
            "--smoke-args is for a command",
            "",
        ),
        ([*LOCAL, "--save", "configs/x.txt", "--", *SCRIPT], "a config file ends in .yaml", ""),
        ([*LOCAL, "--mem", "lots", "--", *SCRIPT], "mem", ""),
    ]
    for args, message, hint in cases:
        result = cli(args, project)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and hint in result.stderr, (args, result.stderr)
        assert "hint: " in result.stderr
        no_traceback(result)
    assert not list(project.glob("runs/*_2*"))  # nothing was recorded for any of them


def test_flags_override_a_config_file_too(project: Path) -> None:
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--dry-run",
            "--json",
            "--mem",
            "700M",
            "--cpus",
            "2",
            "--name",
            "renamed",
            "--smoke",
            "steps=3",
            "--smoke-timeout",
            "50",
        ],
        project,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["resources"]["mem"] == "700M" and record["resources"]["cpus_per_task"] == 2
    assert record["name"] == "renamed" and record["config"]["smoke"] == {
        "params": {"steps": 3},
        "timeout": 50,
    }
    assert "resources.mem=700M" in record["overrides"]


def test_the_argv_becomes_a_template() -> None:
    tokens, params, seed = template(
        [
            "python",
            "-u",
            "train.py",
            "--lr",
            "-0.5",
            "--name=a b",
            "--flag",
            "-v",
            "pos",
            "--x",
            "1e-3",
            "--n",
            "007",
            "--n",
            "8",
            "--seed",
            "9",
            "--json",
            '{"a": 1}',
            "--run-dir",
            "x",
        ]
    )
    assert tokens == [
        "python", "-u", "train.py", "--lr", "{lr}", "--name={name}", "--flag", "-v", "pos", "--x", "{x}",
        "--n", "{n}", "--n", "8", "--seed", "{seed}", "--json", "{json}", "--run-dir", "x",
    ]  # fmt: skip
    assert params == {"lr": -0.5, "name": "a b", "x": "1e-3", "n": "007", "json": '{"a": 1}'}
    assert seed == 9
    # LightningCLI (jsonargparse): dotted options are params by their last part, unless two share it;
    # --seed_everything is the seed (they were kept as typed: a sweep or --where could not name them)
    lightning = ["python", "t.py", "fit", "--trainer.max_epochs", "3", "--model.lr", "0.1"]
    lightning.append("--optimizer.lr=1")
    tokens, params, seed = template([*lightning, "--data.batch-size", "64", "--seed_everything", "7"])
    assert tokens == [
        "python", "t.py", "fit", "--trainer.max_epochs", "{max_epochs}", "--model.lr", "{model_lr}",
        "--optimizer.lr={optimizer_lr}", "--data.batch-size", "{batch_size}", "--seed_everything", "{seed}",
    ]  # fmt: skip
    assert params == {"max_epochs": 3, "model_lr": 0.1, "optimizer_lr": 1, "batch_size": 64} and seed == 7
    assert name_of(["python", "-m", "pkg.fit", "--x", "1"]) == "fit"
    assert name_of(["torchrun", "--nproc-per-node", "2", "src/train_gpt.py"]) == "train_gpt"
    assert name_of(["./bin/solver", "--n", "1"]) == "solver"
    assert name_of(["python3.11", "-c", "print(1)"]) == "python3.11"


def test_the_probe_note_names_how_this_command_is_made_short() -> None:
    """It said `--smoke epochs=1` to a command whose length param is max_epochs, and nothing of
    Lightning's one-batch run to a LightningCLI command (a user trial)."""
    lightning = ["python", "train.py", "fit", "--config", "c.yaml", "--trainer.max_epochs", "3"]
    example = _smoke_example(lightning, template(lightning)[1])
    assert example.startswith("--smoke max_epochs=1 or --smoke-args ")
    assert "'fit --config c.yaml --trainer.max_epochs 3 --trainer.fast_dev_run true'" in example
    assert _smoke_example(["python", "x.py", "--lr", "1"], {"lr": 1}).startswith("e.g. --smoke epochs=1")


HYDRA_SCRIPT = """\
import hydra

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    print(f"loss={cfg.optimizer.lr}")

if __name__ == "__main__":
    main()
"""


def test_a_hydra_commands_overrides_are_params_and_its_configs_seed_the_runs(tmp_path: Path) -> None:
    """A user trial: `submit -- python train.py optimizer=adam trainer.epochs=5` of a `@hydra.main`
    script recorded no hyperparameters (its overrides are not `--options`), and the seed as 42, "only
    as $CLUSTERRUN_SEED", while the script seeded itself with its config's `seed: 0`. Its overrides are
    params now (by their last key, as dotted options are), and the config's seed is the run's, passed
    as seed={seed}. Hydra's own keys, additions, deletions, sweeps and interpolations stay as typed."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "train.py").write_text(HYDRA_SCRIPT)
    (tmp_path / "conf" / "config.yaml").write_text("defaults: [_self_]\nseed: 0\ntrainer: {epochs: 20}\n")
    argv = ["python", "train.py", "optimizer=adam", "trainer.epochs=5", "model.lr=0.1", "optimizer.lr=1"]
    argv += ["+extra=1", "~data", "hydra.run.dir=out", "trainer.devices=0,1", "x=${y}", "db/engine=pg"]
    data, notes = config_data(AdhocRequest(argv=argv, cwd=tmp_path, smoke=["epochs=1"]))
    assert data["command"] == (
        "python train.py optimizer={optimizer} trainer.epochs={epochs} model.lr={model_lr} "
        "optimizer.lr={optimizer_lr} +extra=1 '~data' hydra.run.dir=out trainer.devices=0,1 'x=${{y}}' "
        "db/engine={engine} seed={seed}"
    )
    assert data["params"] == {
        "optimizer": "adam",
        "epochs": 5,
        "model_lr": 0.1,
        "optimizer_lr": 1,
        "engine": "pg",
    }
    assert data["seed"] == 0 and data["smoke"] == {"params": {"epochs": 1}}
    assert "the Hydra config's seed (0) is the run's seed, passed as seed={seed}" in notes
    # a seed typed on the command line is the run's; the config's is not added
    data, _ = config_data(AdhocRequest(argv=["python", "train.py", "seed=5"], cwd=tmp_path))
    assert data["command"] == "python train.py seed={seed}" and data["seed"] == 5
    # a script that is not Hydra's: `key=value` words are its own positionals, kept as typed
    (tmp_path / "plain.py").write_text("import sys\nprint(sys.argv)\n")
    data, notes = config_data(AdhocRequest(argv=["python", "plain.py", "lr=0.1"], cwd=tmp_path))
    assert data["command"] == "python plain.py lr=0.1" and "params" not in data and "seed" not in data


def test_a_command_whose_script_logs_to_tensorboard_or_wandb_reads_its_metrics_there(tmp_path: Path) -> None:
    """As init does (tests/test_init.py): a SummaryWriter's folder is the metrics file; without one, the
    names logged to wandb are read from the run summary it prints as the run finishes."""
    logs = "import wandb\nrun = wandb.init()\nrun.log({'val/acc': 0.5, 'loss': 1.0})\n"
    (tmp_path / "tb.py").write_text(
        logs + "from tensorboardX import SummaryWriter\nw = SummaryWriter('tb')\n"
    )
    (tmp_path / "wb.py").write_text(logs)
    data, notes = config_data(AdhocRequest(argv=["python", "tb.py"], cwd=tmp_path))
    assert data["metrics"] == {"file": "work/tb"}
    assert "metrics from the TensorBoard event files the script writes to work/tb (metrics.file)" in notes
    data, notes = config_data(AdhocRequest(argv=["python", "wb.py"], cwd=tmp_path))
    assert sorted(data["metrics"]["patterns"]) == ["loss", "val/acc"]
    assert data["metrics"]["patterns"]["val/acc"] == r"wandb:[ \t]+val/acc[ \t]+([0-9.eE+-]+)"


def test_a_seed_option_the_command_does_not_give_is_made_the_runs_seed(tmp_path: Path) -> None:
    """A user trial (`submit -- accelerate launch ... train.py --lr 0.05`): the script's `--seed`
    (default 1234) seeded it while clusterrun recorded 42, "only as $CLUSTERRUN_SEED", and `seed=`
    overrides and reproduce never reached it. Its default is the run's seed now, passed as
    `--seed {seed}`; an option without a default (unseeded unless given) gets 42, as init does."""
    script = "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\n"
    (tmp_path / "a.py").write_text(script + "p.add_argument('--seed', type=int, default=1234)\n")
    (tmp_path / "b.py").write_text(script + "p.add_argument('--random-state', type=int, default=None)\n")
    launch = ["accelerate", "launch", "--num_processes", "2"]
    data, notes = config_data(AdhocRequest(argv=[*launch, "a.py", "--lr", "0.1"], cwd=tmp_path))
    assert data["command"] == "accelerate launch --num_processes 2 a.py --lr {lr} --seed {seed}"
    assert (
        data["seed"] == 1234
        and "--seed is the run's seed (its default, 1234), passed as --seed {seed}" in notes
    )
    data, notes = config_data(AdhocRequest(argv=["python", "b.py"], cwd=tmp_path))
    assert data["command"] == "python b.py --random-state {seed}" and data["seed"] == 42
    data, _ = config_data(AdhocRequest(argv=["python", "a.py", "--seed", "7"], cwd=tmp_path))
    assert data["command"] == "python a.py --seed {seed}" and data["seed"] == 7  # given: as typed
    # a module of the project (`python -m pkg.fit`, in src/ too), and a package's __main__.py
    (tmp_path / "src" / "pkg" / "cli").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "fit.py").write_text((tmp_path / "a.py").read_text())
    (tmp_path / "src" / "pkg" / "cli" / "__main__.py").write_text((tmp_path / "a.py").read_text())
    for module in ("pkg.fit", "pkg.cli"):
        data, _ = config_data(AdhocRequest(argv=["python", "-m", module, "--lr", "1"], cwd=tmp_path))
        assert data["command"] == f"python -m {module} --lr {{lr}} --seed {{seed}}" and data["seed"] == 1234


def test_a_command_that_submits_a_job_of_its_own_is_refused_with_what_to_run(tmp_path: Path) -> None:
    """A user trial coming from sbatch scripts: `submit -- sbatch scripts/train.sh` submitted a job that
    submitted another, which nothing tracked; `submit -- bash scripts/train.sh` ran its `srun` inside the
    job and failed on `module`; `submit scripts/train.sh` said "the top level must be a mapping". Each is
    refused now (exit 2, no traceback, nothing written) with the command to submit instead."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.sh").write_text(
        "#!/bin/bash\n#SBATCH --time=01:00:00\nmodule load x\nsrun -c 2 python train.py --lr 0.05\n"
    )
    (tmp_path / "train.py").write_text("print('loss=1')\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "x")
    expected = {
        ("sbatch", "scripts/train.sh"): "clusterrun submit -- python train.py --lr 0.05",
        ("bash", "scripts/train.sh"): "clusterrun submit -- python train.py --lr 0.05",
        ("./scripts/train.sh",): "clusterrun submit -- python train.py --lr 0.05",
        ("srun", "--unbuffered", "-n", "2", "python", "train.py"): "clusterrun submit -- python train.py",
        ("salloc", "-N", "1"): "clusterrun submit -- python train.py ...",
    }
    for command, hint in expected.items():
        refused = cli(["submit", "--backend", "local", "--dry-run", "--", *command], tmp_path)
        assert refused.returncode == 2, refused.stderr
        no_traceback(refused)
        assert hint in refused.stderr, (command, refused.stderr)
    as_config = cli(["submit", "scripts/train.sh", "--backend", "local", "--dry-run"], tmp_path)
    assert as_config.returncode == 2 and "is a batch script (#SBATCH lines), not a clusterrun config" in (
        as_config.stderr
    )
    assert "clusterrun init" in as_config.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*_2*"))
