"""Rendering: the sbatch script (golden file) and command.sh (quoting, re-runnable by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.config.models import spec_from_data
from clusterrun.inputs import workdir
from clusterrun.inputs.gitstate import GitState
from clusterrun.inputs.snapshot import Snapshot
from clusterrun.records.registry import Run
from clusterrun.records.writer import command_script
from clusterrun.scheduler.base import JobSpec
from clusterrun.scheduler.slurm import SlurmScheduler

GOLDEN = Path(__file__).parent / "golden"
REGEN = "CLUSTERRUN_REGEN_GOLDEN"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get(REGEN):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; create it with {REGEN}=1 pytest {__file__}"
    assert text == path.read_text(), (
        f"{name} differs from the golden file; if the change is intended, regenerate it with "
        f"{REGEN}=1 pytest {__file__} and review the diff"
    )


def test_sbatch_script_matches_golden() -> None:
    spec = JobSpec(
        run_dir="/runs/quickstart_20260101-000000",
        folder="/runs/quickstart_20260101-000000/scheduler",
        job_name="quickstart_20260101-000000",
        comment="clusterrun:quickstart_20260101-000000",
        chdir="/runs/quickstart_20260101-000000/scheduler",
        time_seconds=90 * 60 + 1,
        mem_mb=1536,
        nodes=2,
        cpus_per_task=4,
        gpus=1,
        partition="gpu",
        account="lab",
        qos="normal",
        setup=("module load cuda/12.1", "source .venv/bin/activate"),
    )
    script = SlurmScheduler().render(spec).replace(sys.executable, "<python>")
    check_golden("quickstart.sbatch", script)
    assert "#SBATCH --time=91" in script  # rounded up to whole minutes, never down
    assert "#SBATCH --mem=1536M" in script and "#SBATCH --gpus-per-node=1" in script
    # squeue/sacct show the run id, and the comment names the run for programs (scheduler/naming.py)
    assert "#SBATCH --job-name=quickstart_20260101-000000" in script
    assert "#SBATCH --comment=clusterrun:quickstart_20260101-000000" in script
    # setup lines run in command.sh, inside the run's own working directory, never in the sbatch script
    assert "module load cuda/12.1" not in script


def _command_sh(tmp_path: Path, data: dict[str, object]) -> tuple[Path, str]:
    spec = spec_from_data(data, "test.yaml")
    snap_dir = tmp_path / "snap"
    snap_dir.mkdir(exist_ok=True)
    (snap_dir / "tracked.txt").write_text("tracked\n")
    (snap_dir / workdir.LISTING).write_text(json.dumps(workdir.scan(snap_dir).as_record()))
    run = Run(tmp_path / "run")
    run.path.mkdir(exist_ok=True)
    git = GitState(root=str(tmp_path), commit="0" * 40, branch="main")
    text, _argv = command_script(spec, run, Snapshot("abc", snap_dir, False), git, run.path, smoke=False)
    script = run.path / "command.sh"
    script.write_text(text)
    return script, text


@pytest.mark.parametrize(
    "hostile", ["$(touch PWNED)", "`touch PWNED`", "a; touch PWNED", 'it\'s "quoted"', "--flag=$HOME", "*"]
)
def test_values_reach_the_command_as_one_literal_argument(tmp_path: Path, hostile: str) -> None:
    data = {
        "name": "q",
        "params": {"value": hostile},
        "env": {"MY_VAR": hostile},
        "command": [
            sys.executable,
            "-c",
            "import os, sys; print(repr(sys.argv[1:])); print(os.environ['MY_VAR'])",
            "{value}",
            "--seed={seed}",
        ],
    }
    script, _text = _command_sh(tmp_path, data)
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert result.stdout.splitlines() == [repr([hostile, "--seed=42"]), hostile]
    assert not list(tmp_path.rglob("PWNED"))


def test_command_sh_exports_seed_and_runs_setup_in_its_own_workdir(tmp_path: Path) -> None:
    data = {
        "name": "q",
        "seed": 123,
        "setup": ["export FROM_SETUP=$((FROM_SETUP+1))", "cat tracked.txt > from_setup.txt"],
        "command": [
            "bash",
            "-c",
            "echo $CLUSTERRUN_SEED $PYTHONHASHSEED $FROM_SETUP $CLUSTERRUN_SMOKE $PYTHONUNBUFFERED; pwd",
        ],
    }
    script, text = _command_sh(tmp_path, data)
    env = dict(os.environ) | {"FROM_SETUP": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env=env, check=True, cwd=tmp_path
    ).stdout
    work = tmp_path / "run" / "work"
    assert out.split() == ["123", "123", "1", "0", "1", str(work)]
    # the working directory was made from the snapshot (hard links), and the setup ran in it
    assert (work / "tracked.txt").stat().st_ino == (tmp_path / "snap" / "tracked.txt").stat().st_ino
    assert (work / "from_setup.txt").read_text() == "tracked\n"
    assert not (tmp_path / "snap" / "from_setup.txt").exists()
    assert f"cd {work}" in text


def test_failing_setup_line_stops_the_command(tmp_path: Path) -> None:
    data = {"name": "q", "setup": ["false"], "command": ["echo", "SHOULD-NOT-RUN"]}
    script, _ = _command_sh(tmp_path, data)
    env = dict(os.environ) | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "SHOULD-NOT-RUN" not in result.stdout
