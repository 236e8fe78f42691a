"""inputs/outputnames.py: which option names say where a script writes (never taken for data it reads)."""

from __future__ import annotations

import pytest

from clusterrun.inputs.outputnames import absolute_outputs, is_output_name


@pytest.mark.parametrize(
    "name",
    [
        "output_dir",
        "out_dir",
        "outdir",
        "output",
        "save_dir",
        "log_dir",
        "logdir",
        "results",
        "results_path",
        "checkpoint_dir",
        "ckpt_dir",
        "run_dir",
        "outputDir",
        "OUTPUT_DIR",
        "tensorboard_dir",
        "export_path",
    ],
)
def test_names_of_where_a_script_writes(name: str) -> None:
    assert is_output_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "data_dir",
        "data",
        "dataset_path",
        "input_dir",
        "checkpoint",
        "ckpt_path",
        "resume_from",
        "pretrained_dir",
        "load_dir",
        "config",
        "train_file",
        "lr",
        "root",
        "init_checkpoint_dir",
        "vocab",
    ],
)
def test_names_of_what_a_script_reads(name: str) -> None:
    assert not is_output_name(name)


def test_absolute_output_paths_are_found_in_every_form_a_command_gives_them() -> None:
    argv = ["python", "t.py", "--out-dir", "/scratch/a", "--save-dir=/scratch/b", "log_dir=/scratch/c"]
    argv += ["--data-dir", "/datasets/d", "--output", "relative/e", "--lr", "/not/output"]
    found = absolute_outputs(argv, {"OUTPUT_DIR": "/scratch/f", "DATA_ROOT": "/datasets/g", "LOG_DIR": "h"})
    assert found == [
        ("--out-dir", "/scratch/a"),
        ("--save-dir", "/scratch/b"),
        ("log_dir", "/scratch/c"),
        ("$OUTPUT_DIR", "/scratch/f"),
    ]
