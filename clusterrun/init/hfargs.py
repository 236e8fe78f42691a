"""A Hugging Face script's options (`HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))`,
the shape of transformers' run_glue.py): no `add_argument` call, its options are the fields of the
dataclasses it is given. Read, never run: the script's own dataclasses from its source, transformers'
TrainingArguments from the few options a run is set with (transformers need not be installed).

Each field becomes an `Option` as argparse's would (`--hidden_size`, its default and type), so that
`init` makes params, the seed and the smoke test of them as of any script: `--seed {seed}`, and the
smoke test `--max_steps 5` (the Trainer stops there whatever its epochs)."""

from __future__ import annotations

import ast

from clusterrun.init.pysource import MISSING, Option, _callee

#: transformers' own argument classes, and the options of theirs a run is set with (name, default): the
#: output directory relative (each run's own), the seed the run's; max_steps without a default, so that
#: only the smoke test gives it (it overrides the epochs)
TRAINING_ARGUMENTS = ("TrainingArguments", "Seq2SeqTrainingArguments")
TRAINING_OPTIONS: tuple[tuple[str, object], ...] = (
    ("output_dir", "outputs"),
    ("num_train_epochs", 3.0),
    ("learning_rate", 5e-5),
    ("per_device_train_batch_size", 8),
    ("seed", 42),
    ("max_steps", MISSING),
)


def parser_classes(tree: ast.Module) -> list[str] | None:
    """The class names given to `HfArgumentParser(...)` (a tuple, a list or one class); None when the
    script makes no such parser."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node.func) == "HfArgumentParser" and node.args):
            continue
        given = node.args[0]
        items = given.elts if isinstance(given, ast.Tuple | ast.List) else [given]
        return [name for name in map(_callee, items) if name]
    return None


def options(tree: ast.Module, classes: list[str]) -> list[Option]:
    """The options of these argument classes: the script's own dataclasses' fields with a literal default
    (booleans are flags, as HfArgumentParser makes them), and TRAINING_OPTIONS for transformers' own."""
    found: list[Option] = []
    defined = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    for name in classes:
        if name in TRAINING_ARGUMENTS and name not in defined:
            found += [_option(field, default) for field, default in TRAINING_OPTIONS]
        elif name in defined:
            found += _fields(defined[name])
    return found


def _option(name: str, default: object, help_text: str = "") -> Option:
    kind = type(default).__name__ if isinstance(default, bool | int | float | str) else "str"
    if name == "max_steps":
        kind = "int"
    return Option(
        name=name,
        flag=f"--{name}",
        default=default,
        type=kind,
        is_flag=isinstance(default, bool),
        help=help_text,
    )


def _fields(cls: ast.ClassDef) -> list[Option]:
    """`name: int = 32` and `name: int = field(default=32, metadata={"help": ...})` of a dataclass body;
    a field without a literal default (default_factory, a required one) is left to the script."""
    found = []
    for item in cls.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value):
            continue
        value, help_text = item.value, ""
        if isinstance(value, ast.Call) and _callee(value.func) == "field":
            words = {k.arg: k.value for k in value.keywords if k.arg}
            if "default" not in words:
                continue
            help_text = _help(words.get("metadata"))
            value = words["default"]
        if isinstance(value, ast.Constant) and isinstance(value.value, bool | int | float | str):
            found.append(_option(item.target.id, value.value, help_text))
    return found


def _help(node: ast.AST | None) -> str:
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "help" and isinstance(value, ast.Constant):
                return str(value.value)
    return ""
