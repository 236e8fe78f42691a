"""The promise: a project in a folder of its repository (a monorepo's projects/vision/) runs as it does
when you run it there. The command runs in that folder of the run's own copy of the code (the config's
`cwd`), so `python train.py` finds its script and its relative paths (data/, out/) mean what they mean
in the checkout; untracked data named under `data:` is linked there; a config whose script is not where
its command runs is refused before anything is written, with the fix.

Found by a user trial: `clusterrun submit -- python train.py` typed in projects/vision/ ran the command
at the top of the run's copy, and the smoke test failed on "can't open file .../work/train.py", with a
diagnosis that blamed a shared filesystem; `clusterrun init` there found no entry point at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from clusterrun.config.models import ExperimentSpec
from clusterrun.diagnose.rules import diagnose
from clusterrun.errors import ConfigError
from clusterrun.inputs.datafp import relative_path
from tests.helpers import cli, committed, git, manifest, no_traceback, only_run

# reads its data and writes its outputs relative to the folder it runs in, as such scripts do
TRAIN = """\
import os
with open(os.path.join("data", "train.txt")) as f:
    rows = f.read().split()
os.makedirs("out", exist_ok=True)
with open(os.path.join("out", "model.txt"), "w") as f:
    f.write(str(len(rows)))
print("CWD", os.getcwd())
print("loss=" + str(1.0 / len(rows)))
"""


def _monorepo(tmp_path: Path) -> Path:
    """A repository with a project in projects/vision/, its data gitignored there."""
    root = committed(
        tmp_path / "mono",
        {
            ".gitignore": "data/\nout/\n",
            "README.md": "two projects\n",
            "projects/vision/train.py": TRAIN,
            "projects/text/train.py": "print('the other project')\n",
        },
    )
    data = root / "projects" / "vision" / "data"
    data.mkdir()
    (data / "train.txt").write_text("a b c d\n")
    return root


def test_a_command_typed_in_a_folder_of_the_repository_runs_there_in_its_own_copy(tmp_path: Path) -> None:
    root = _monorepo(tmp_path)
    here = root / "projects" / "vision"
    result = cli(
        ["submit", "--backend", "local", "--wait", "--yes", "+data.train=data", "--", "python", "train.py"],
        here,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    run = only_run(root)  # the registry is the repository's, wherever one submits from
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["cwd"] == "projects/vision"
    stdout = (run / "stdout.log").read_text()
    assert f"CWD {run / 'work' / 'projects' / 'vision'}" in stdout, stdout
    assert (run / "work" / "projects" / "vision" / "out" / "model.txt").read_text() == "4"
    assert not (here / "out").exists()  # the run wrote its own copy, never the checkout
    # the gitignored data, named relative to the folder, is linked there and fingerprinted
    assert os.path.realpath(run / "work" / "projects" / "vision" / "data") == str((here / "data").resolve())
    fingerprint = manifest(run)["data_fingerprints"]["train"]
    assert fingerprint["files"] == 1, fingerprint
    # what the manifest says is where it ran
    assert f"Working Directory: {run / 'work' / 'projects' / 'vision'} (in its own copy" in result.stdout


def test_init_in_a_folder_writes_a_config_that_runs_there_from_anywhere(tmp_path: Path) -> None:
    root = _monorepo(tmp_path)
    here = root / "projects" / "vision"
    at_top = cli(["init"], root)  # the monorepo's top has no entry point of its own: its projects are named
    assert at_top.returncode == 2, at_top.stderr + at_top.stdout
    assert "hint: projects in folders: projects/text/train.py, projects/vision/train.py; run init in one" in (
        at_top.stderr
    )
    made = cli(["init"], here)
    assert made.returncode == 0, made.stderr + made.stdout
    written = here / "configs" / "train.yaml"
    config = yaml.safe_load(written.read_text())
    assert config["cwd"] == "projects/vision", written.read_text()
    assert config["command"] == "python train.py"
    assert config["data"] == {"train_txt": "data/train.txt"}  # relative to the folder, as read there
    assert "cwd: projects/vision (the project folder init read" in made.stderr
    # from a folder inside the project (its notes/): the nearest folder above with an entry point
    (here / "notes").mkdir()
    printed = cli(["init", "--print"], here / "notes")
    assert printed.returncode == 0 and "\ncwd: projects/vision\n" in printed.stdout, printed.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    # submitted from the top of the repository: the config, not where one stands, says where it runs
    dry = cli(["submit", "projects/vision/configs/train.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert "Smoke Test: passed" in dry.stdout, dry.stdout


def test_a_config_whose_script_is_in_the_folder_submitted_from_is_refused_with_a_fix(tmp_path: Path) -> None:
    root = _monorepo(tmp_path)
    here = root / "projects" / "vision"
    (here / "configs").mkdir()
    (here / "configs" / "t.yaml").write_text("name: t\ncommand: python train.py\n")
    (root / "configs" / "clusters").mkdir(parents=True)  # the site's profile, at the top for every project
    (root / "configs" / "clusters" / "site.yaml").write_text("resources: {mem: 700M}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config without cwd")
    refused = cli(["submit", "configs/t.yaml", "--backend", "local", "--yes"], here)
    assert refused.returncode == 2, refused.stderr + refused.stdout
    no_traceback(refused)
    assert "train.py is not where the command runs (the repository's top) but in projects/vision/" in (
        refused.stderr
    )
    assert "add `cwd: projects/vision` to configs/t.yaml (or pass cwd=projects/vision)" in refused.stderr
    assert not [p for p in (root / "runs").iterdir() if not p.name.startswith(".")]  # nothing written
    # submitted from the top of the repository: the config's own project folder is named
    top = cli(["submit", "projects/vision/configs/t.yaml", "--backend", "local", "--yes"], root)
    assert top.returncode == 2, top.stderr + top.stdout
    assert "train.py is not where the command runs (the repository's top) but in projects/vision/, the " in (
        " ".join(top.stderr.split())
    )
    # the fix the hint names works
    fixed = cli(
        [
            "submit",
            "configs/t.yaml",
            "--backend",
            "local",
            "--dry-run",
            "cwd=projects/vision",
            "+data.d=data",
            "--cluster",
            "site",
        ],
        here,
    )
    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert "mem=700M" in fixed.stdout, fixed.stdout  # the profile at the top, found from the folder
    # a folder the commit does not have is refused too
    missing = cli(["submit", "configs/t.yaml", "--backend", "local", "--yes", "cwd=projects/nope"], here)
    assert missing.returncode == 2, missing.stderr + missing.stdout
    assert "cwd: projects/nope is not a folder of the commit the run uses" in missing.stderr


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_slurm_job_runs_in_its_configs_folder(tmp_path: Path) -> None:
    root = _monorepo(tmp_path)
    config = "name: vision\ncwd: projects/vision\ncommand: python train.py\ndata: {train: data}\n"
    config += "metrics: {patterns: {loss: 'loss=([0-9.]+)'}}\n"
    (root / "configs").mkdir()
    (root / "configs" / "vision.yaml").write_text(config + "resources: {time: '00:05:00', mem: 500M}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    result = cli(
        ["submit", "configs/vision.yaml", "--backend", "slurm", "--wait", "--yes"], root, timeout=300
    )
    assert result.returncode == 0, result.stderr + result.stdout
    run = only_run(root)
    assert f"CWD {run / 'work' / 'projects' / 'vision'}" in (run / "stdout.log").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["state"] == "completed" and summary["metrics"]["loss"] == 0.25, summary


def test_cwd_is_a_folder_inside_the_repository_and_absent_from_configs_that_do_not_set_it() -> None:
    spec = ExperimentSpec(name="x", command="python t.py", cwd="./projects//vision/")
    assert spec.cwd == "projects/vision" and spec.resolved()["cwd"] == "projects/vision"
    # a config without it resolves, and hashes, as before the key existed: finished runs stay duplicates
    plain = ExperimentSpec(name="x", command="python t.py")
    assert "cwd" not in plain.resolved()
    assert plain.config_hash() != spec.config_hash()
    for bad in ("../elsewhere", "/abs/path", "a/../../b", ""):
        with pytest.raises((ValueError, ConfigError)):
            ExperimentSpec(name="x", command="python t.py", cwd=bad)
    # data paths are relative to the folder, and may climb within the repository, not out of it
    assert relative_path("data", "projects/vision") == "projects/vision/data"
    assert relative_path("../shared/x", "projects/vision") == "projects/shared/x"
    assert relative_path("../../../x", "projects/vision") is None


def test_a_missing_file_of_the_runs_copy_is_diagnosed_as_code_not_a_shared_filesystem(tmp_path: Path) -> None:
    top = tmp_path / "repo"
    (top / ".git").mkdir(parents=True)
    (top / "tools").mkdir()
    (top / "tools" / "prep.py").write_text("")  # in the checkout, untracked: the copy lacks it
    run = tmp_path / "runs" / "r_1"
    line = f"python: can't open file '{run}/smoke/work/tools/prep.py': [Errno 2] No such file or directory"
    found = diagnose("failed", 2, None, {"stderr.log": line}, {}, 1.0, None, run_id="r_1", repo_root=str(top))
    assert found.category == "missing_file"
    assert "tools/prep.py exists in your checkout but is not tracked by git" in found.fix, found.fix
    assert "shared filesystem" not in found.fix
    gone = line.replace("tools/prep.py", "train.py")
    found = diagnose("failed", 2, None, {"stderr.log": gone}, {}, 1.0, None, run_id="r_1", repo_root=str(top))
    assert "train.py is not in the run's copy of the code" in found.fix and "cwd" in found.fix, found.fix


def test_untracked_data_is_named_by_the_folder_the_copy_lacks(tmp_path: Path) -> None:
    """A script reading data/x.npy from a gitignored data/ that holds more: the fix names data/, not the
    one file (the next one it reads, y.npy, would fail in turn)."""
    checkout, copy = tmp_path / "checkout", tmp_path / "copy"
    (checkout / "data").mkdir(parents=True)
    (checkout / "data" / "x.npy").write_text("")
    copy.mkdir()
    line = "FileNotFoundError: [Errno 2] No such file or directory: 'data/x.npy'"
    alone = diagnose(
        "failed", 1, None, {"stderr.log": line}, {}, 1.0, None, repo_root=str(checkout), copy_root=str(copy)
    )  # the one file the folder holds: named as the script read it
    assert "data/x.npy exists in your checkout but is not tracked by git" in alone.fix, alone.fix
    (checkout / "data" / "y.npy").write_text("")
    line = "FileNotFoundError: [Errno 2] No such file or directory: 'data/x.npy'"
    found = diagnose(
        "failed", 1, None, {"stderr.log": line}, {}, 1.0, None, repo_root=str(checkout), copy_root=str(copy)
    )
    assert "data/ exists in your checkout but is not tracked by git" in found.fix, found.fix
    assert "+data.data=data " in found.fix, found.fix


def test_init_in_a_folder_reads_the_scripts_relative_defaults_there(tmp_path: Path) -> None:
    """A script's `--config conf/base.yaml` default names the folder's conf/, not the repository top's."""
    script = (
        "import argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--config', default='conf/base.yaml')\na = p.parse_args()\nprint('loss=1')\n"
    )
    root = committed(
        tmp_path / "mono",
        {
            "projects/nlp/train.py": script,
            "projects/nlp/conf/base.yaml": "seed: 7\nlr: 0.1\n",
            "README.md": "",
        },
    )
    made = cli(["init"], root / "projects" / "nlp")
    assert made.returncode == 0, made.stderr + made.stdout
    config = yaml.safe_load((root / "projects" / "nlp" / "configs" / "train.yaml").read_text())
    assert config["seed"] == 7, config
    assert config["cwd"] == "projects/nlp"


def test_init_of_a_lightning_cli_project_in_a_folder_names_its_config_from_there(tmp_path: Path) -> None:
    """The LightningCLI config file is found, and passed, relative to the folder the command runs in."""
    from tests.test_init import LIGHTNING_CONFIG, LIGHTNING_SCRIPT

    root = committed(
        tmp_path / "mono",
        {
            "README.md": "",
            "projects/regress/train.py": LIGHTNING_SCRIPT,
            "projects/regress/conf/base.yaml": LIGHTNING_CONFIG,
        },
    )
    made = cli(["init"], root / "projects" / "regress")
    assert made.returncode == 0, made.stderr + made.stdout
    config = yaml.safe_load((root / "projects" / "regress" / "configs" / "train.yaml").read_text())
    assert config["cwd"] == "projects/regress"
    assert config["command"].startswith("python train.py fit --config conf/base.yaml "), config["command"]
    assert config["seed"] == 3


def test_an_unseeded_script_in_a_folder_is_read_where_the_command_runs(tmp_path: Path) -> None:
    """The check for random numbers drawn without a seed reads the script the command names, in the
    folder it runs in (it looked for projects/rl/train.py's `train.py` at the repository's top)."""
    root = committed(
        tmp_path / "mono",
        {"README.md": "", "projects/rl/train.py": "import random\nprint('loss=' + str(random.random()))\n"},
    )
    result = cli(
        ["submit", "--backend", "local", "--dry-run", "--", "python", "train.py"], root / "projects" / "rl"
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "the code draws random numbers without a seed" in " ".join(result.stderr.split()), result.stderr
