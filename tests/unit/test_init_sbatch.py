"""init/sbatch.py's pure parts: directives, the command behind srun, setup lines (tests/test_init.py runs
init over whole projects)."""

from __future__ import annotations

from pathlib import Path

from clusterrun.init import sbatch


def parsed(tmp_path: Path, text: str) -> sbatch.Sbatch:
    path = tmp_path / "job.sbatch"
    path.write_text(text)
    found = sbatch.parse(path)
    assert found is not None
    return found


def test_directives_in_every_spelling_and_only_before_the_first_command(tmp_path: Path) -> None:
    found = parsed(
        tmp_path,
        "#!/bin/bash -l\n#SBATCH -N 2 --ntasks=8\n#SBATCH --time 0-12\n#SBATCH -G a100:1\n"
        "#SBATCH --mem-per-gpu=10G\n#SBATCH --nodelist=n1\n\necho hi\n#SBATCH --mem=1G\n"
        "srun python t.py\n",
    )
    assert found.resources == {
        "nodes": 2,
        "tasks_per_node": 4,  # 8 tasks over 2 nodes
        "time": "0-12",
        "gpus": 1,
        "gpu_type": "a100",
        "mem": "10G",  # per GPU x 1 GPU; the --mem after `echo` is not SLURM's (nor ours)
        "extra": {"nodelist": "n1"},
    }


def test_the_command_behind_srun_and_its_options(tmp_path: Path) -> None:
    assert sbatch.program(["srun", "-n", "2", "--unbuffered", "-c4", "--mpi=pmix", "python", "t.py"]) == [
        "python",
        "t.py",
    ]
    assert (
        sbatch.program(["exec", "srun", "-l", "torchrun", "--nproc-per-node", "2", "t.py"])[0] == "torchrun"
    )


def test_conda_activate_gets_the_shell_hook_a_login_shell_had(tmp_path: Path) -> None:
    found = parsed(
        tmp_path, "#!/bin/bash -l\n#SBATCH -t 10\nmodule load x\nconda activate env\npython t.py\n"
    )
    setup, hook = sbatch.with_conda_hook(found.setup)
    assert setup == ["module load x", 'eval "$(conda shell.bash hook)"', "conda activate env"]
    assert (
        hook
        and sbatch.with_conda_hook(['source "$HOME/miniconda3/etc/profile.d/conda.sh"', "conda activate e"])[
            1
        ]
        == ""
    )


def test_a_script_that_only_mentions_sbatch_is_not_a_batch_script(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_text("#!/bin/bash\n# no #SBATCH lines here: run it with bash\npython train.py\n")
    assert sbatch.parse(path) is None
