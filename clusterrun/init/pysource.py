"""A Python entry point read from its source with `ast` (never imported, never run): its command-line
options as argparse, click or typer declare them (name, flag, default, type), its subcommands, whether
`python file.py` runs it, and the text templates it prints (for metrics.py)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from clusterrun.init.hydra import HydraMain, find_main

if TYPE_CHECKING:  # (lightning builds on this module: imported where it is used)
    from clusterrun.init.lightning import LightningMain

#: `if __name__ == "__main__":`, so `python file.py` runs the file as a program
MAIN_GUARD = re.compile(r"""if\s+__name__\s*==\s*['"]__main__['"]""")
MISSING: Any = object()  # no default, or one that is not a literal (os.environ.get(...), a call)
_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "Path": "str", "INT": "int"}
_TYPES |= {"FLOAT": "float", "STRING": "str", "BOOL": "bool"}
_FLAG_ACTIONS = {"store_true", "store_false", "store_const", "count", "help", "version", "append_const"}
_PRINTERS = {"print", "info", "debug", "warning", "log", "write", "echo", "secho", "set_description"}


@dataclass
class Option:
    """One command-line option (or positional argument) of the script."""

    name: str  # the Python name (dest): batch_size
    flag: str  # how it is given: --batch-size ('' for a positional argument)
    default: Any = MISSING
    type: str = "str"  # int, float, str, bool
    required: bool = False
    is_flag: bool = False  # takes no value (store_true, click is_flag, typer bool)
    multiple: bool = False  # nargs='+', multiple=True: a list
    help: str = ""
    command: str = ""  # the subcommand it belongs to ('' = the main one)
    declared: str = ""  # argparse: the builtin type= it gives (int, float, str...); '' none, '?' another
    choices: tuple[Any, ...] | None = None  # argparse: its choices=, when a literal list of them

    @property
    def positional(self) -> bool:
        return not self.flag

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING and self.default is not None

    def is_int_seed(self) -> bool:
        """An integer option (of a seed's name, the caller checks): an int default, or none
        (`type=int, default=None`: unseeded unless given)."""
        if self.has_default:
            return isinstance(self.default, int) and not isinstance(self.default, bool)
        return self.type == "int" and not self.required and not self.is_flag and not self.multiple


@dataclass
class ScriptInfo:
    path: Path
    framework: str = ""  # argparse, click, typer, or '' (no options found)
    options: list[Option] = field(default_factory=list)
    subcommands: list[str] = field(default_factory=list)  # click/typer commands or argparse sub-parsers
    main_guard: bool = False  # `if __name__ == "__main__":` (so `python file.py` runs it)
    printed: list[list[tuple[str, str]]] = field(default_factory=list)  # templates: [(literal, spec)...]
    mentions_cuda: bool = False
    reads_metrics_file: bool = False  # uses CLUSTERRUN_METRICS_FILE
    #: the folder a TensorBoard SummaryWriter writes its event files to, relative to where the script
    #: runs (`SummaryWriter("tb")`; `runs` when not given); "" for one named otherwise (a variable)
    tensorboard: str | None = None
    #: the names a script logs to wandb (`wandb.log({"train/loss": ...})`, `run.summary["best"] = ...`)
    wandb_keys: list[str] = field(default_factory=list)
    read_paths: list[str] = field(default_factory=list)  # relative paths given to open(), read_csv...
    env_reads: list[str] = field(default_factory=list)  # os.environ["X"], os.getenv("X"), environ.get("X")
    env_defaults: dict[str, str] = field(default_factory=dict)  # os.environ.get("X", "data"): its default
    hydra: HydraMain | None = None  # `@hydra.main(config_path=..., config_name=...)`: framework 'hydra'
    lightning: LightningMain | None = None  # `LightningCLI(Model, Data)`: framework 'lightning'
    tree: ast.Module | None = None  # the parsed source (init reads class defaults from it)
    called: set[str] = field(default_factory=set)  # the names of what the script calls (Trainer, ...)
    error: str = ""  # why it could not be read

    def options_of(self, command: str) -> list[Option]:
        return [o for o in self.options if o.command in ("", command)]


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return MISSING
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING


def _type_name(node: ast.AST | None) -> str:
    if isinstance(node, ast.Name):
        return _TYPES.get(node.id, "str")
    if isinstance(node, ast.Attribute):
        return _TYPES.get(node.attr, "str")
    if isinstance(node, ast.Subscript):  # Optional[int], Annotated[int, ...], list[int]
        return _type_name(node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice)
    if isinstance(node, ast.BinOp):  # int | None
        return _type_name(node.left)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "int" as a string annotation
        return _TYPES.get(node.value.split("|")[0].strip(), "str")
    return "str"


def _choices(node: ast.AST | None) -> tuple[Any, ...] | None:
    """A literal `choices=[...]` (strings, numbers), else None (a name, a call: not known from here)."""
    value = _literal(node) if node is not None else None
    if isinstance(value, list | tuple) and value and all(type(v) in (str, int, float) for v in value):
        return tuple(value)
    return None


def _declared(node: ast.AST | None) -> str:
    """argparse's `type=`: a builtin named as such (int, float, str, bool), '' when there is none (the
    text as given), '?' for anything else (a function of the script's own: not judged from here)."""
    if node is None:
        return ""
    if isinstance(node, ast.Name) and node.id in ("int", "float", "str", "bool"):
        return node.id
    return "?"


def _click_declared(node: ast.AST | None, default: Any) -> str:
    """The type click converts an option's value to (as _declared): its `type=` (int, click.INT...;
    click.Choice: text), else the type of its default, which click infers it from ('' when text)."""
    if node is None:
        return _type_of_default(default, "")
    if isinstance(node, ast.Attribute) and node.attr in ("INT", "FLOAT", "STRING"):
        return {"INT": "int", "FLOAT": "float", "STRING": "str"}[node.attr]
    if _click_choices(node) is not None:
        return ""
    return _declared(node)


def _click_choices(node: ast.AST | None) -> tuple[Any, ...] | None:
    """`type=click.Choice([...])` with literal strings (and case-sensitive, as by default)."""
    if not (isinstance(node, ast.Call) and _callee(node.func) == "Choice" and node.args):
        return None
    if any(k.arg == "case_sensitive" for k in node.keywords):
        return None
    found = _choices(node.args[0])
    return found if found is not None and all(isinstance(c, str) for c in found) else None


def _type_of_default(value: Any, fallback: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return fallback


def _keywords(call: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _strings(nodes: list[ast.expr]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _dest(flags: list[str]) -> str:
    longs = [f for f in flags if f.startswith("--")]
    chosen = longs[0] if longs else (flags[0] if flags else "")
    return chosen.lstrip("-").replace("-", "_")


def _callee(node: ast.AST | None) -> str:
    """`parser.add_argument` -> 'add_argument'; `click.option` -> 'option' ('' for anything else)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _receiver(node: ast.AST) -> str:
    return node.value.id if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) else ""


# ----------------------------------------------------------------------------------------- argparse


def _argparse(tree: ast.Module, info: ScriptInfo) -> None:
    parsers: dict[str, str] = {}  # variable -> subcommand, from `x = sub.add_parser("train")`
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _callee(node.value.func) == "add_parser"
        ):
            names = _strings(node.value.args[:1])
            for target in node.targets:
                if isinstance(target, ast.Name) and names:
                    parsers[target.id] = names[0]
                    info.subcommands.append(names[0])
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node.func) == "add_argument"):
            continue
        flags = _strings(node.args)
        if not flags:
            continue
        kw = _keywords(node)
        action = _literal(kw["action"]) if "action" in kw else None
        if "action" in kw and _callee(kw["action"]) == "BooleanOptionalAction":
            action = "store_true"
        positional = not flags[0].startswith("-")
        dest = _literal(kw.get("dest")) if "dest" in kw else MISSING
        name = dest if isinstance(dest, str) else (flags[0] if positional else _dest(flags))
        default = _literal(kw.get("default")) if "default" in kw else (MISSING if positional else None)
        nargs = _literal(kw.get("nargs")) if "nargs" in kw else None
        option = Option(
            name=name.replace("-", "_"),
            flag="" if positional else ([f for f in flags if f.startswith("--")] or flags)[0],
            default=default,
            type=_type_of_default(default, _type_name(kw["type"]) if "type" in kw else "str"),
            required=bool(_literal(kw.get("required"))) if "required" in kw else positional,
            is_flag=action in _FLAG_ACTIONS,
            multiple=nargs in ("+", "*") or action in ("append", "extend"),
            help=_literal(kw.get("help")) if isinstance(_literal(kw.get("help")), str) else "",
            command=parsers.get(_receiver(node.func), ""),
            declared=_declared(kw.get("type")),
            choices=_choices(kw.get("choices")),
        )
        if positional and nargs == "?":
            option.required = False
        info.options.append(option)
    if info.options or parsers:
        info.framework = "argparse"


def _argv_index(node: ast.AST) -> int | None:
    """N of `sys.argv[N]` (N >= 1), else None."""
    if (
        isinstance(node, ast.Subscript)
        and _callee(node.value) in ("sys.argv", "argv")
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
        and node.slice.value >= 1
    ):
        return int(node.slice.value)
    return None


def _argv_read(value: ast.AST) -> tuple[int, str, Any] | None:
    """(N, type, default) of `float(sys.argv[N]) if len(sys.argv) > N else 0.1`, `int(sys.argv[N])` or
    `sys.argv[N]` (no default: MISSING)."""
    default: Any = MISSING
    if isinstance(value, ast.IfExp):  # `... if len(sys.argv) > N else DEFAULT`
        default = _literal(value.orelse)
        if default is None and not (isinstance(value.orelse, ast.Constant) and value.orelse.value is None):
            return None
        value = value.body
    kind = "str"
    if (
        isinstance(value, ast.Call)
        and _callee(value.func) in ("int", "float", "str")
        and len(value.args) == 1
    ):
        kind = _callee(value.func)
        value = value.args[0]
    index = _argv_index(value)
    if index is None:
        return None
    return index, _type_of_default(default, kind) if default is not MISSING else kind, default


def _sys_argv(tree: ast.Module, info: ScriptInfo) -> None:
    """A script that reads its arguments from sys.argv by position, as names: `lr = float(sys.argv[1]) if
    len(sys.argv) > 1 else 0.1`: positional options, in their order, when they are argv[1], argv[2]...
    without a gap (a param can only stand for a position the command fills)."""
    found: dict[int, Option] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            continue
        read = _argv_read(node.value)
        if read is None or read[0] in found:
            continue
        index, kind, default = read
        found[index] = Option(
            name=node.targets[0].id, flag="", default=default, type=kind, required=default is MISSING
        )
    positions = sorted(found)
    if positions and positions == list(range(1, len(positions) + 1)):
        info.options = [found[i] for i in positions]
        info.framework = "sys.argv"


# -------------------------------------------------------------------------------------- click/typer


def _click(tree: ast.Module, info: ScriptInfo) -> None:
    groups: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = [d for d in node.decorator_list if isinstance(d, ast.Call | ast.Attribute | ast.Name)]
        kinds = [_callee(d.func if isinstance(d, ast.Call) else d) for d in decorators]
        if "group" in kinds:
            groups.add(node.name)
        if not ({"command", "option", "argument"} & set(kinds)):
            continue
        command = ""
        for deco in decorators:
            call = deco if isinstance(deco, ast.Call) else None
            if _callee(call.func if call else deco) == "command" and _receiver(call.func if call else deco):
                receiver = _receiver(call.func if call else deco)
                if receiver != "click":  # `@cli.command()`: a subcommand of the group `cli`
                    named = _strings(call.args[:1]) if call else []
                    given = _literal(_keywords(call).get("name")) if call else MISSING
                    command = named[0] if named else given if isinstance(given, str) else node.name
                    command = command.replace("_", "-")
        if command:
            info.subcommands.append(command)
        for deco in decorators:
            if not isinstance(deco, ast.Call) or _callee(deco.func) not in ("option", "argument"):
                continue
            decls = _strings(deco.args)
            kw = _keywords(deco)
            is_argument = _callee(deco.func) == "argument"
            names = [d for d in decls if d.isidentifier()]
            dashed = [d.split("/")[0] for d in decls if d.startswith("-")]
            name = names[0] if names else _dest(dashed)
            default = _literal(kw.get("default")) if "default" in kw else (MISSING if is_argument else None)
            is_flag = any("/" in d for d in decls) or ("is_flag" in kw and bool(_literal(kw["is_flag"])))
            info.options.append(
                Option(
                    name=name,
                    flag=""
                    if is_argument
                    else ([d for d in dashed if d.startswith("--")] or dashed or [""])[0],
                    default=default,
                    type=_type_of_default(default, _type_name(kw["type"]) if "type" in kw else "str"),
                    required=bool(_literal(kw.get("required"))) if "required" in kw else is_argument,
                    is_flag=is_flag or isinstance(default, bool),
                    multiple=bool(_literal(kw.get("multiple"))) if "multiple" in kw else False,
                    help=_literal(kw.get("help")) if isinstance(_literal(kw.get("help")), str) else "",
                    command=command,
                    declared=_click_declared(kw.get("type"), default),
                    choices=_click_choices(kw.get("type")),
                )
            )
        if any(o.command == command for o in info.options) or command:
            info.framework = info.framework or "click"


def _typer(tree: ast.Module, info: ScriptInfo) -> None:
    """`@app.command()` functions and `typer.run(main)`: parameters are options (with a default) or
    arguments (without one, or typer.Argument)."""
    commands: list[ast.FunctionDef] = []
    run_targets = {
        a.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _callee(node.func) == "run" and _receiver(node.func) == "typer"
        for a in node.args[:1]
        if isinstance(a, ast.Name)
    }
    named: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            target = call.func if call else deco
            if _callee(target) == "command" and _receiver(target) not in ("click", ""):
                commands.append(node)
                given = _strings(call.args[:1]) if call else []
                named[node.name] = given[0] if given else node.name.replace("_", "-")
        if node.name in run_targets:
            commands.append(node)
            named[node.name] = ""
    if not commands or (info.framework == "click" and not run_targets and not _imports(tree, "typer")):
        return
    info.framework = "typer"
    info.options = []
    info.subcommands = []
    several = len(commands) > 1
    for function in commands:
        command = named[function.name] if several else ""
        if command:
            info.subcommands.append(command)
        args = function.args.args
        defaults: list[ast.expr | None] = [None] * (len(args) - len(function.args.defaults))
        defaults += list(function.args.defaults)
        for arg, default_node in zip(args, defaults, strict=True):
            info.options.append(_typer_param(arg, default_node, command))


def _typer_param(arg: ast.arg, default_node: ast.expr | None, command: str) -> Option:
    annotation = arg.annotation
    spec: ast.Call | None = None
    if isinstance(annotation, ast.Subscript) and _callee(annotation.value) == "Annotated":
        parts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else []
        spec = next((p for p in parts[1:] if isinstance(p, ast.Call)), None)
        annotation = parts[0] if parts else annotation
    default: Any = _literal(default_node) if default_node is not None else MISSING
    if isinstance(default_node, ast.Call) and _callee(default_node.func) in ("Option", "Argument"):
        spec = default_node
        first = default_node.args[0] if default_node.args else _keywords(default_node).get("default")
        default = (
            MISSING
            if first is None or (isinstance(first, ast.Constant) and first.value is ...)
            else _literal(first)
        )
    kind = _callee(spec.func) if spec is not None else ("Option" if default_node is not None else "Argument")
    decls = [d for d in _strings(spec.args) if d.startswith("-")] if spec is not None else []
    type_name = _type_of_default(default, _type_name(annotation))
    flag = (
        "" if kind == "Argument" else (decls[0].split("/")[0] if decls else "--" + arg.arg.replace("_", "-"))
    )
    help_node = _keywords(spec).get("help") if spec is not None else None
    return Option(
        name=arg.arg,
        flag=flag,
        default=default,
        type=type_name,
        required=default is MISSING,
        is_flag=type_name == "bool",
        multiple=isinstance(annotation, ast.Subscript) and _callee(annotation.value) in ("list", "List"),
        help=_literal(help_node) if isinstance(_literal(help_node), str) else "",
        command=command,
        declared=_typer_declared(annotation, default),
    )


def _typer_declared(annotation: ast.expr | None, default: Any) -> str:
    """The type typer converts a parameter to (as _declared): its annotation when a builtin named as such,
    the type of its default when it has none (typer infers it so), '?' for anything else."""
    return _type_of_default(default, "?") if annotation is None else _declared(annotation)


def uses_lightning_trainer(info: ScriptInfo) -> bool:
    """Whether the script runs PyTorch Lightning's Trainer (or LightningCLI, which makes one): its SLURM
    auto-requeue saves a checkpoint on SIGUSR1."""
    if info.lightning is not None:
        return True
    tree = info.tree
    lightning = tree is not None and (_imports(tree, "lightning") or _imports(tree, "pytorch_lightning"))
    return bool(lightning) and any(name.rsplit(".", 1)[-1] == "Trainer" for name in info.called)


def lightning_logs(info: ScriptInfo) -> str | None:
    """The folder a Lightning Trainer script's logger writes its metrics under, relative to where it
    runs: a `CSVLogger`/`TensorBoardLogger` whose save_dir (and name, `lightning_logs` unless given) are
    literals; `lightning_logs` for a Trainer given no logger (its default, in the folder it runs in);
    None when the script logs nothing with `self.log` or names its folder otherwise."""
    tree = info.tree
    if tree is None or not uses_lightning_trainer(info) or "log" not in info.called:
        return None
    loggers = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _callee(n.func) in ("CSVLogger", "TensorBoardLogger")
    ]
    if not loggers:
        given = any(
            isinstance(n, ast.Call)
            and _callee(n.func) == "Trainer"
            and any(k.arg == "logger" for k in n.keywords)
            for n in ast.walk(tree)
        )
        return None if given else "lightning_logs"
    words = {k.arg: k.value for k in loggers[0].keywords if k.arg}
    save_dir = loggers[0].args[0] if loggers[0].args else words.get("save_dir")
    name = loggers[0].args[1] if len(loggers[0].args) > 1 else words.get("name")
    parts = []
    for part, default in ((save_dir, None), (name, "lightning_logs")):
        if part is None:
            if default is None:
                return None
            parts.append(default)
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            parts.append(part.value)
        elif isinstance(part, ast.Constant) and part.value is None:
            continue  # name=None: no folder of its own
        else:
            return None
    kept = [part for part in parts if part and part != "."]
    folder = PurePosixPath(*kept) if kept else None
    if folder is None or folder.is_absolute() or ".." in folder.parts or "$" in str(folder):
        return None
    return str(folder)


def _imports(tree: ast.Module, module: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == module for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == module:
            return True
    return False


# ------------------------------------------------------------------------------------------- prints


def _template(node: ast.AST) -> list[tuple[str, str]] | None:
    """A printed text as [(literal, ''), ('', format spec) ...]: f-strings, '%' and .format()."""
    if isinstance(node, ast.JoinedStr):
        out: list[tuple[str, str]] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append((str(part.value), ""))
            elif isinstance(part, ast.FormattedValue):
                spec = ""
                if isinstance(part.format_spec, ast.JoinedStr):
                    spec = "".join(
                        str(v.value) for v in part.format_spec.values if isinstance(v, ast.Constant)
                    )
                out.append(("", spec or "?"))
        return out
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        if "%" in text:
            return _split(text, r"%[-+ #0]*\d*(?:\.\d+)?([diouxXeEfFgGrs])")
        if "{" in text:
            return _split(text, r"\{[^{}]*?(?::([^{}]*))?\}")
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _template(node.left)
    if isinstance(node, ast.Call) and _callee(node.func) == "format" and isinstance(node.func, ast.Attribute):
        return _template(node.func.value)
    if isinstance(node, ast.Call) and _callee(node.func) == "dumps" and node.args:
        return _json_template(node.args[0])
    return None


def _json_template(node: ast.AST) -> list[tuple[str, str]] | None:
    """`json.dumps({"val_loss": v, ...})` (or `dict(val_loss=v)`) as it prints: `"val_loss": <value>`
    for each key a literal names."""
    keys: list[str] = []
    if isinstance(node, ast.Dict):
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    elif isinstance(node, ast.Call) and _callee(node.func) == "dict":
        keys = [k.arg for k in node.keywords if k.arg]
    out: list[tuple[str, str]] = []
    for key in keys:
        out += [(f'"{key}": ', ""), ("", "?")]
    return out or None


def _split(text: str, pattern: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    for match in re.finditer(pattern, text):
        out.append((text[at : match.start()], ""))
        out.append(("", match.group(1) or "?"))
        at = match.end()
    out.append((text[at:], ""))
    return out


def _prints(tree: ast.Module, info: ScriptInfo) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node.func) in _PRINTERS and node.args:
            template = _template(node.args[0])
            if template and any(spec for _, spec in template):
                info.printed.append(template)


#: Calls that read the file named by their first argument (by the callee's last name: `np.loadtxt`,
#: `pd.read_csv`, `open` without a writing mode).
_READERS = frozenset(
    {
        "open",
        "load",  # torch.load, np.load, joblib.load (json.load and pickle.load take a file: no literal)
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "memmap",
        "read_csv",
        "read_table",
        "read_parquet",
        "read_json",
        "read_feather",
        "read_pickle",
        "read_hdf",
        "read_excel",
        "load_from_disk",
        "ImageFolder",
        "DatasetFolder",
        "File",
    }
)
_PATH_LITERAL = re.compile(r"[\w.~-][\w./~-]*")


def _literal_path(node: ast.AST) -> str | None:
    """The path a reader's argument names in literals: `"data/x.csv"`, `os.path.join("data", "x.pt")`,
    `Path("data") / "x.pt"`; for a join with a variable in it, its literal leading part (`os.path.join(
    "data", name)` -> "data"); None when it starts with anything but a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    parts: list[ast.AST] = []
    if isinstance(node, ast.Call) and _callee(node.func) == "join" and node.args:
        parts = list(node.args)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts.insert(0, node.right)
            node = node.left
        if isinstance(node, ast.Call) and _callee(node.func) == "Path" and len(node.args) == 1:
            parts.insert(0, node.args[0])
        else:
            return None
    leading: list[str] = []
    for part in parts:
        if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
            break
        leading.append(part.value)
    return "/".join(leading) if leading else None


def _read_paths(tree: ast.Module, info: ScriptInfo) -> None:
    """Relative path literals read by the script: `np.loadtxt("data/train.csv")`, `open("x.json")`."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node.func) in _READERS and node.args):
            continue
        path = _literal_path(node.args[0])
        if path is None:
            continue
        if not _PATH_LITERAL.fullmatch(path) or len(path) > 200 or path.startswith("~"):
            continue
        positional = node.args[1] if len(node.args) > 1 else None
        mode = next((k.value for k in node.keywords if k.arg == "mode"), positional)
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wax+"):
            continue  # written, not read
        if path not in info.read_paths:
            info.read_paths.append(path)


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ` (from os import environ)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _env_reads(tree: ast.Module, info: ScriptInfo) -> None:
    """Environment variables the script reads by a literal name: `os.environ["DATA_DIR"]`,
    `os.environ.get("DATA_DIR", ...)`, `os.getenv("DATA_DIR")`."""
    for node in ast.walk(tree):
        name: ast.AST | None = None
        default: ast.AST | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            name = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)) or (
                _callee(func) == "getenv"
            ):
                name = node.args[0]
                default = node.args[1] if len(node.args) > 1 else None
        if (
            isinstance(name, ast.Constant)
            and isinstance(name.value, str)
            and isinstance(default, ast.Constant)
            and isinstance(default.value, str)
        ):
            info.env_defaults.setdefault(name.value, default.value)
        if (
            isinstance(name, ast.Constant)
            and isinstance(name.value, str)
            and name.value not in info.env_reads
            and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.value)
        ):
            info.env_reads.append(name.value)


# --------------------------------------------------------------------------------------------- read


def read_script(path: Path) -> ScriptInfo:
    """Everything `init` and ad-hoc runs want to know about a Python script, from its source alone."""
    info = ScriptInfo(path)
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError) as exc:
        info.error = f"{type(exc).__name__}: {exc}"
        return info
    _argparse(tree, info)
    if not info.options:
        _click(tree, info)
    if not info.framework or info.framework == "click":
        _typer(tree, info)
    if not info.options:
        _sys_argv(tree, info)
    info.tree = tree
    info.called = {_callee(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    if not info.options:  # a Hugging Face script: its options are its argument dataclasses' fields
        from clusterrun.init import hfargs  # (it builds on this module's Option)

        classes = hfargs.parser_classes(tree)
        if classes is not None:
            info.options = hfargs.options(tree, classes)
            info.framework = "HfArgumentParser"
    info.hydra = find_main(tree)
    if info.hydra is not None and not info.options:
        info.framework = "hydra"
    from clusterrun.init import lightning  # (it builds on this module's _callee)

    info.lightning = lightning.find_main(tree)
    if info.lightning is not None and not info.options:
        info.framework = "lightning"
    info.subcommands = list(dict.fromkeys(info.subcommands))
    _prints(tree, info)
    _read_paths(tree, info)
    _env_reads(tree, info)
    # `python file.py` runs it: a main guard, or work done at the top level (a script without functions)
    info.main_guard = bool(MAIN_GUARD.search(source)) or _top_level_work(tree)
    info.mentions_cuda = bool(re.search(r"""\.cuda\(|['"]cuda['"]|torch\.device\(\s*['"]cuda""", source))
    info.reads_metrics_file = "CLUSTERRUN_METRICS_FILE" in source
    info.tensorboard = _summary_writer(tree) if "SummaryWriter" in info.called else None
    info.wandb_keys = _wandb_keys(tree) if "wandb" in source else []
    return info


def _wandb_keys(tree: ast.Module) -> list[str]:
    """The literal keys of the dicts a script logs to wandb (`wandb.log({...})`, or `run.log({...})` of
    a `run = wandb.init(...)`), and of `run.summary[...] = ...`, in order."""
    runs = {"wandb"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value.func
            if _callee(call) == "init" and _receiver(call) == "wandb":
                runs |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    keys: list[str] = []
    for node in ast.walk(tree):
        found: list[ast.expr] = []
        if isinstance(node, ast.Call) and _callee(node.func) == "log" and _receiver(node.func) in runs:
            if node.args and isinstance(node.args[0], ast.Dict):
                found = [k for k in node.args[0].keys if k is not None]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            summary = node.value
            if (
                isinstance(summary, ast.Attribute)
                and summary.attr == "summary"
                and _receiver(summary) in runs
            ):
                found = [node.slice]
        keys += [k.value for k in found if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return [k for k in dict.fromkeys(keys) if re.fullmatch(r"[A-Za-z_][\w./-]*", k)]


def _summary_writer(tree: ast.Module) -> str:
    """The folder of the first `SummaryWriter(...)` (PyTorch's `log_dir`, tensorboardX's `logdir`, or
    the first argument), when it is a relative path written as a literal; `runs` (both writers' default
    folder, with a folder per run named by the time in it) when none is given; else ""."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _callee(node.func) != "SummaryWriter":
            continue
        words = {k.arg: k.value for k in node.keywords if k.arg}
        given = node.args[0] if node.args else words.get("log_dir", words.get("logdir"))
        if given is None:
            return "runs"
        text = given.value if isinstance(given, ast.Constant) and isinstance(given.value, str) else ""
        parts = PurePosixPath(text).parts
        ok = text and not text.startswith("/") and ".." not in parts and "$" not in text and "~" not in text
        return str(PurePosixPath(text)) if ok else ""
    return ""


def _top_level_work(tree: ast.Module) -> bool:
    """Whether a top-level statement (not an import, definition or docstring) calls something."""
    skipped = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if isinstance(node, skipped):
            continue
        if any(isinstance(inner, ast.Call) for inner in ast.walk(node)):
            return True
    return False
