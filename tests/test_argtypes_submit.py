"""A job whose script would refuse its own arguments is not sent (services/plan.py, init/argtypes.py).

The quickstart's train.py declares `--steps` with argparse's type=int, and its smoke test sets steps=5:
`params.steps=2.5` passed the smoke test (which ran `--steps 5`) and failed on the cluster at its first
line (`invalid int value: '2.5'`). It is refused now, before the smoke test, with nothing recorded."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import cli, make_project, no_traceback


def _runs(project: Path) -> list[str]:
    runs = project / "runs"
    return sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) if runs.is_dir() else []


def _refused(project: Path, args: list[str]) -> str:
    """`clusterrun submit ARGS` refused (exit 2, no traceback) with no run recorded: its stderr."""
    result = cli(["submit", *args, "--backend", "local"], project)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert _runs(project) == []
    return result.stderr


def test_a_float_for_an_int_option_is_refused_before_anything_runs(project: Path) -> None:
    stderr = _refused(project, ["configs/quickstart.yaml", "params.steps=2.5"])
    assert (
        "error: examples/quickstart/train.py's --steps takes an integer (type=int), not '2.5' "
        "(params.steps=2.5): "
        "the job would stop at its first line, and the smoke test, which sets steps=5, would not see it"
    ) in stderr
    assert "hint: give it an integer: params.steps=2, or change the type= of --steps in" in stderr
    assert "smoke test: running" not in stderr


def test_a_sweep_names_the_member(project: Path) -> None:
    stderr = _refused(project, ["configs/quickstart.yaml", "--sweep", "params.steps=4,4.5"])
    assert "error: sweep member 1 (params.steps=4.5): examples/quickstart/train.py's --steps takes" in stderr
    assert "hint: sweep params.steps over integers" in stderr


def test_valid_arguments_pass_and_a_skipped_smoke_test_sends_it_with_a_warning(project: Path) -> None:
    result = cli(
        ["submit", "configs/quickstart.yaml", "params.steps=7", "--backend", "local", "--dry-run"], project
    )
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "takes an integer" not in result.stderr
    args = ["submit", "configs/quickstart.yaml", "params.steps=2.5", "--backend", "local", "--dry-run"]
    result = cli([*args, "--skip-smoke", "checking the argument check"], project)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "warning: examples/quickstart/train.py's --steps takes an integer" in result.stderr
    assert "(sent all the same: the smoke test is skipped)" in result.stderr


CHOOSY = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
p.add_argument("--epochs", type=int, default=3)
p.parse_args()
print("loss=0.1")
"""


def test_a_sweep_value_outside_the_choices_is_refused(tmp_path: Path) -> None:
    """The smoke test runs one member of each command shape: a later member's bad choice would pass it."""
    config = (
        "name: choosy\ncommand: python choosy.py --optimizer {optimizer} --epochs {epochs}\n"
        "params: {optimizer: sgd, epochs: 3}\nresources: {time: '00:05:00', mem: 200M}\n"
    )
    project = make_project(tmp_path / "p", {"choosy.py": CHOOSY, "configs/choosy.yaml": config})
    stderr = _refused(project, ["configs/choosy.yaml", "--sweep", "params.optimizer=sgd,adamw"])
    assert (
        "error: sweep member 1 (params.optimizer=adamw): choosy.py's --optimizer takes one of sgd, adam "
        "(choices=), not 'adamw': the job would stop at its first line"
    ) in stderr
    assert (
        "hint: sweep params.optimizer over its choices (sgd, adam), or add 'adamw' to the choices" in stderr
    )
