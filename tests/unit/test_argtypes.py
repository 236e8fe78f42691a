"""init/argtypes.py: which arguments of a command its script's argparse would refuse, from the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrun.init.argtypes import bad_arguments
from clusterrun.init.pysource import Option

SCRIPT = """\
import argparse

def parse_size(text):
    return int(text)

p = argparse.ArgumentParser()
p.add_argument("--epochs", "-e", type=int, default=3)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--width", default=16)               # no type=: argparse takes any text
p.add_argument("--size", type=parse_size, default=1)  # the script's own function: not judged
p.add_argument("--layers", type=int, nargs="+")
p.add_argument("--name", type=str)
p.add_argument("--optimizer", choices=["sgd", "adam"])
p.add_argument("--depth", type=int, choices=[1, 2, 4])
p.add_argument("--mode", type=parse_size, choices=[1, 2])  # converted by the script's own function
args = p.parse_args()
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


def flags(root: Path, command: str) -> list[tuple[str, str, str, int]]:
    return [(b.flag, b.value, b.type, b.index) for b in bad_arguments(root, command.split())]


def test_a_value_the_declared_type_refuses_is_found_with_its_position(root: Path) -> None:
    assert flags(root, "python train.py --epochs 2.5 --lr 0.1") == [("--epochs", "2.5", "int", 3)]
    assert flags(root, "python -u train.py --epochs=3.0 --lr=abc") == [
        ("--epochs", "3.0", "int", 3),
        ("--lr", "abc", "float", 4),
    ]
    assert str(bad_arguments(root, ["python", "train.py", "--lr", "x"])[0]) == (
        "train.py's --lr takes a number (type=float), not 'x'"
    )


def test_a_value_outside_the_choices_is_found_after_the_type_converts_it(root: Path) -> None:
    assert flags(root, "python train.py --optimizer adamw --depth 3") == [
        ("--optimizer", "adamw", "choices", 3),
        ("--depth", "3", "choices", 5),
    ]
    assert flags(root, "python train.py --optimizer adam --depth 4 --mode 7") == []
    found = bad_arguments(root, ["python", "train.py", "--depth=3"])
    assert str(found[0]) == "train.py's --depth takes one of 1, 2, 4 (choices=), not '3'"


@pytest.mark.parametrize(
    "command",
    [
        "python train.py --epochs 3 --lr 1e-3 --width 2.5 --size 2.5 --name 7.5",  # valid, or not typed
        "python train.py --layers 1.5 2.5",  # nargs: not judged
        "python train.py --epochs -3 --lr -0.5",  # negative numbers are values
        "python train.py --epochs --lr 0.1",  # a flag where a value should be: argparse's own error
        "python train.py -- --epochs 2.5",  # after --: positional text
        "python other.py --epochs 2.5",  # no such script in the snapshot
        "bash run.sh --epochs 2.5",  # not a Python script
    ],
)
def test_what_is_valid_or_not_certain_is_not_found(root: Path, command: str) -> None:
    assert flags(root, command) == []


def test_a_flag_two_parsers_declare_differently_is_not_judged(tmp_path: Path) -> None:
    """A file with a parser for training and one for evaluation: which one parses the command is not
    known from the source, so a flag they declare differently is left alone; the others are judged."""
    (tmp_path / "two.py").write_text(
        "import argparse\n"
        "def train_args():\n    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--epochs', type=float)\n    p.add_argument('--width', type=int)\n"
        "    return p.parse_args()\n"
        "def eval_args():\n    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--epochs', type=int)\n    p.add_argument('--width', type=int)\n"
        "    return p.parse_args()\n"
    )
    assert flags(tmp_path, "python two.py --epochs 2.5 --width 2.5") == [("--width", "2.5", "int", 5)]


def test_a_script_with_sub_commands_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\nsub = p.add_subparsers()\n"
        "train = sub.add_parser('train')\ntrain.add_argument('--epochs', type=int)\n"
    )
    assert flags(tmp_path, "python cli.py train --epochs 2.5") == []


def test_a_script_outside_the_snapshot_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    inner = tmp_path / "code"
    inner.mkdir()
    assert flags(inner, "python ../train.py --epochs 2.5") == []


def test_the_cache_reads_a_script_once_by_its_token(root: Path) -> None:
    cache: dict[str, dict[str, Option]] = {}
    bad_arguments(root, ["python", "train.py", "--epochs", "2.5"], cache)
    (root / "train.py").write_text("")  # a second read would find nothing
    found = bad_arguments(root, ["python", "train.py", "--epochs", "7.5"], cache)
    assert [b.value for b in found] == ["7.5"]


CLICK = """\
import click

@click.command()
@click.option("--epochs", default=3)  # click infers INT from the default
@click.option("--lr", type=float, default=1)  # the type given wins over the default's
@click.option("--width", type=click.INT)
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd")
@click.option("--loose", type=click.Choice(["a"], case_sensitive=False))
@click.option("--name", default="run")
@click.option("--fast/--slow", default=False)
def main(epochs, lr, width, optimizer, loose, name, fast):
    print(epochs)

if __name__ == "__main__":
    main()
"""


def test_click_options_are_judged_as_click_converts_them(tmp_path: Path) -> None:
    (tmp_path / "fit.py").write_text(CLICK)
    assert flags(tmp_path, "python fit.py --epochs 2.5 --lr 0.5 --width x --optimizer adamw --name 7.5") == [
        ("--epochs", "2.5", "int", 3),
        ("--width", "x", "int", 7),
        ("--optimizer", "adamw", "choices", 9),
    ]
    assert (
        flags(tmp_path, "python fit.py --epochs 4 --lr 2 --width 1 --optimizer adam --loose A --fast") == []
    )


def test_a_click_group_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text(
        "import click\n@click.group()\ndef cli():\n    pass\n\n@cli.command()\n"
        "@click.option('--epochs', type=int)\ndef train(epochs):\n    pass\n"
    )
    assert flags(tmp_path, "python cli.py train --epochs 2.5") == []


TYPER = """\
from typing import Annotated

import typer


def main(
    epochs: int = 3,
    lr: Annotated[float, typer.Option(help="step size")] = 0.1,
    steps=5,  # no annotation: typer takes the type of the default
    name: str = "x",
    size: "Size" = None,  # a type of the script's own: not judged
    fast: bool = False,
):
    print(epochs)


if __name__ == "__main__":
    typer.run(main)
"""


def test_typer_parameters_are_judged_as_typer_converts_them(tmp_path: Path) -> None:
    (tmp_path / "fit.py").write_text(TYPER)
    command = "python fit.py --epochs 2.5 --lr x --steps 1.5 --name 3.5 --size 2.5 --fast"
    assert [(flag, value) for flag, value, _kind, _index in flags(tmp_path, command)] == [
        ("--epochs", "2.5"),
        ("--lr", "x"),
        ("--steps", "1.5"),
    ]
    assert flags(tmp_path, "python fit.py --epochs 4 --lr 2 --steps 7") == []


def test_a_typer_app_of_several_commands_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text(
        "import typer\napp = typer.Typer()\n\n@app.command()\ndef train(epochs: int = 3):\n    pass\n\n"
        "@app.command()\ndef test(epochs: int = 3):\n    pass\n\napp()\n"
    )
    assert flags(tmp_path, "python cli.py train --epochs 2.5") == []
