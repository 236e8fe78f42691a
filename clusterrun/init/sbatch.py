"""An sbatch script of the project's, read as text (never run): how the user runs the entry point on the
cluster today, which `init` carries over instead of starter values.

    #!/bin/bash
    #SBATCH --time=02:00:00 --mem=8G --cpus-per-task=2 --partition=gpu --gres=gpu:a100:1
    module load cuda/12.1
    source "$HOME/venvs/toy/bin/activate"
    srun python train.py --lr 0.05 --epochs 20

gives resources (time, mem, CPUs, GPUs, partition, account...; other sbatch options `resources.extra`),
setup lines (module, source, conda, export, ulimit...; a relative `source venv/bin/activate` through
`$CLUSTERRUN_REPO_ROOT`, since a run works in its own copy of the code), and the command line with its
values (`srun` and its options taken off). What clusterrun does itself (`--output`, `--job-name`,
`--array`, `cd $SLURM_SUBMIT_DIR`...) is left out, and said. As SLURM does, `#SBATCH` lines are read
until the first command.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.config.redact import is_secret_name, secret_in_value
from clusterrun.config.resources import (
    EXTRA_SBATCH_OPTIONS,
    OWNED_SBATCH_OPTIONS,
    format_mem_mb,
    parse_gpus,
    parse_mem_mb,
    parse_time_seconds,
)
from clusterrun.init.repo import module_file
from clusterrun.init.shell import BATCH_DIRECTIVE

#: where sbatch scripts are kept, relative to the repository's top (and the entry point's folder)
FOLDERS = (
    ".", "scripts", "slurm", "jobs", "job", "sbatch", "cluster", "hpc", "bin", "tools", "launch", "submit",
)  # fmt: skip
SUFFIXES = (".sbatch", ".slurm", ".sh", ".job", ".bash", ".batch", ".sub")
MAX_BYTES = 64 * 1024
#: sbatch's short options, by their long names
SHORT = {
    "-t": "time", "-N": "nodes", "-n": "ntasks", "-c": "cpus-per-task", "-p": "partition", "-A": "account",
    "-q": "qos", "-C": "constraint", "-G": "gpus", "-J": "job-name", "-o": "output", "-e": "error",
    "-a": "array", "-D": "chdir", "-d": "dependency", "-w": "nodelist", "-x": "exclude", "-M": "clusters",
}  # fmt: skip
#: options that take no value
FLAGS = frozenset({"exclusive", "requeue", "no-requeue", "hold", "overcommit", "contiguous", "wait"})
#: resources keys named as sbatch names them
SAME = {
    "partition": "partition", "account": "account", "qos": "qos", "constraint": "constraint",
    "reservation": "reservation", "mail-type": "mail_type", "mail-user": "mail_user",
}  # fmt: skip
#: srun's options that take no value (the others take the next word unless written `--x=y` or `-c2`)
SRUN_FLAGS = frozenset({
    "-u", "--unbuffered", "-l", "--label", "-K", "--kill-on-bad-exit", "--exclusive", "--overlap", "-v", "-Q",
})  # fmt: skip
_SETUP = re.compile(
    r"^(module|ml|source|\.|conda|mamba|micromamba|spack|export|ulimit|eval|pyenv|uv|umask)\s"
)
_NOISE = re.compile(r"^(echo|printf|date|hostname|nvidia-smi|sleep|mkdir|pwd|env|which|set|cd|trap|wait)\b")


@dataclass
class Sbatch:
    path: Path
    label: str = ""  # its path relative to the repository's top
    resources: dict[str, Any] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)  # the program's argv, `srun ...` taken off
    left: list[str] = field(default_factory=list)  # what was left out, each with why
    array: str = ""  # --array's indices (0-9, 1-10%4, 0,2,4): a sweep in clusterrun

    def array_sweep(self) -> tuple[str, str] | None:
        """(the command's option that takes $SLURM_ARRAY_TASK_ID, the indices as a --sweep value:
        `range(0,10)` or `0,2,4`), when the script is an array job that passes the index to an option."""
        indices = self.array.split("%")[0]
        match = re.fullmatch(r"(\d+)-(\d+)(?::(\d+))?", indices)
        if match:
            start, stop, step = match.groups()
            values = f"range({start},{int(stop) + 1}{',' + step if step else ''})"
        elif re.fullmatch(r"\d+(,\d+)*", indices):
            values = indices
        else:
            return None
        for option, value in zip(self.command, self.command[1:], strict=False):
            if option.startswith("-") and "SLURM_ARRAY_TASK_ID" in value:
                return option, values
        return None

    @property
    def shown_resources(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.resources.items() if k != "extra")


def candidates(root: Path, near: Path | None = None) -> list[Path]:
    """The files that may be sbatch scripts: in the usual folders of the repository (and the entry
    point's folder), by suffix or without one, small enough to be a script."""
    folders = [root / f for f in FOLDERS] + ([near] if near is not None else [])
    found: list[Path] = []
    for folder in dict.fromkeys(folders):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            named = path.suffix in SUFFIXES or (not path.suffix and not path.name.startswith("."))
            if named and path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_BYTES:
                found.append(path)
    return found


def find(root: Path, script: Path) -> Sbatch | None:
    """The first sbatch script of the project whose command runs `script` (by its path, or its name)."""
    for path in candidates(root, script.parent):
        read = parse(path)
        if read is not None and read.command and _runs(read.command, root, path.parent, script):
            read.label = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
            return read
    return None


def _runs(command: list[str], root: Path, folder: Path, script: Path) -> bool:
    """Whether the command runs `script`: as a file (`python train.py`, from the top or the batch
    script's folder) or as a module of the project (`python -m pkg.train`)."""
    for before, word in zip(["", *command], command, strict=False):
        if before == "-m":
            found = module_file(root, word, run=True)
            if found is not None and found.resolve() == script.resolve():
                return True
        elif word.endswith(".py") and any(
            (base / word).resolve() == script.resolve() for base in (root, folder)
        ):
            return True
    return False


def parse(path: Path) -> Sbatch | None:
    """The script's directives, setup and command; None when it has no `#SBATCH` line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if BATCH_DIRECTIVE.search(text) is None:
        return None
    found = Sbatch(path)
    options: dict[str, str] = {}
    body: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if body or (stripped and not stripped.startswith("#")):
            body.append(stripped)
        elif stripped.startswith("#SBATCH"):
            options.update(_directives(stripped.removeprefix("#SBATCH"), found))
    _resources(options, found)
    _body([line for line in body if line and not line.startswith("#")], found)
    return found


def _directives(text: str, found: Sbatch) -> dict[str, str]:
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        found.left.append(f"#SBATCH{text} (not read)")
        return {}
    out: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        value: str | None = None
        if word.startswith("--"):
            name, eq, given = word[2:].partition("=")
            value = given if eq else None
        elif word[:2] in SHORT:
            name, value = SHORT[word[:2]], (word[2:].lstrip("=") or None)
        else:
            found.left.append(f"{word} (not an sbatch option)")
            i += 1
            continue
        if value is None and name not in FLAGS and i + 1 < len(words) and not words[i + 1].startswith("-"):
            value = words[i + 1]
            i += 1
        out[name] = value if value is not None else ""
        i += 1
    return out


def _resources(options: dict[str, str], found: Sbatch) -> None:
    res: dict[str, Any] = {}
    extra: dict[str, str | bool] = {}
    for name, value in options.items():
        try:
            if name == "time":
                parse_time_seconds(value)
                res["time"] = value
            elif name == "mem":
                res["mem"] = format_mem_mb(parse_mem_mb(value))
            elif name in ("cpus-per-task", "nodes", "ntasks-per-node", "gpus-per-task"):
                key = {"ntasks-per-node": "tasks_per_node"}.get(name, name.replace("-", "_"))
                res[key] = int(value)
            elif name in ("gpus", "gpus-per-node"):
                gpu_type, count = parse_gpus(value)
                res["gpus"] = count
                if gpu_type:
                    res["gpu_type"] = gpu_type
            elif name == "gres" and value.startswith("gpu"):
                parts = value.split(",")[0].split(":")  # gpu:2, gpu:a100:2
                res["gpus"] = int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
                if len(parts) == 3:
                    res["gpu_type"] = parts[1]
            elif name in SAME:
                res[SAME[name]] = value
            elif name == "exclusive":
                res["exclusive"] = True
            elif name in ("ntasks", "mem-per-cpu", "mem-per-gpu"):
                continue  # below, with what they depend on
            elif name == "array":
                found.array = value
                found.left.append(f"--{name} ({OWNED_SBATCH_OPTIONS[name]})")
            elif name in OWNED_SBATCH_OPTIONS:
                found.left.append(f"--{name} ({OWNED_SBATCH_OPTIONS[name]})")
            elif name in EXTRA_SBATCH_OPTIONS:
                extra[name.replace("-", "_")] = value if value != "" else True
            else:
                found.left.append(f"--{name} (not an sbatch option clusterrun knows)")
        except ValueError:
            found.left.append(f"--{name}={value} (not read: {name} as sbatch takes it)")
    nodes = int(res.get("nodes", 1))
    if "ntasks" in options and "tasks_per_node" not in res:
        tasks = options["ntasks"]
        if tasks.isdigit() and int(tasks) % nodes == 0:
            res["tasks_per_node"] = int(tasks) // nodes
        else:
            found.left.append(f"--ntasks={tasks} (not a multiple of the nodes: set resources.tasks_per_node)")
    for name, per, count in (
        ("mem-per-cpu", "CPU", res.get("cpus_per_task", 1)),
        ("mem-per-gpu", "GPU", res.get("gpus", 0)),
    ):
        if name in options and "mem" not in res:
            try:
                ranks = int(res.get("tasks_per_node", 1)) if per == "CPU" else 1
                res["mem"] = format_mem_mb(parse_mem_mb(options[name]) * max(1, int(count)) * ranks)
            except ValueError:
                found.left.append(f"--{name}={options[name]} (not read)")
    if res.get("tasks_per_node", 1) == 1:
        res.pop("tasks_per_node", None)
    if extra:
        res["extra"] = extra
    found.resources = res


def _body(lines: list[str], found: Sbatch) -> None:
    for line in lines:
        words = _words(line)
        if not words:
            continue
        first = words[0]
        runs = first in ("srun", "exec", "time", "stdbuf") or first.endswith(("python", "python3"))
        if not found.command and (runs or any(w.endswith(".py") for w in words)):
            found.command = program(words)
            continue
        exported = re.match(r"^export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if exported and (is_secret_name(exported.group(1)) or secret_in_value(exported.group(2))):
            # never copied into a config (a file that is committed, and recorded in every run)
            found.left.append(
                f"export {exported.group(1)}=... (a secret: export it in your shell before submitting; the "
                "job inherits it)"
            )
        elif _SETUP.match(line) and not re.match(r"^export\s+SLURM_", line):
            found.setup.append(_repo_relative(line))
        elif first == "cd":
            found.left.append(f"`{line}` (a run works in its own copy of the code)")
        elif not _NOISE.match(line):
            found.left.append(f"`{line}`")


#: what makes `conda activate` work in a shell that is not a login shell, by the tool
_HOOKS = {
    "conda": 'eval "$(conda shell.bash hook)"',
    "mamba": 'eval "$(mamba shell hook --shell bash)"',
    "micromamba": 'eval "$(micromamba shell hook --shell bash)"',
}


def with_conda_hook(setup: list[str]) -> tuple[list[str], str]:
    """`setup` with conda's shell hook before its first `conda activate` when nothing before it sets
    conda up (a batch script that starts `#!/bin/bash -l` gets it from the login shell; a job's setup
    does not), and the hook added ("" when none was)."""
    for n, line in enumerate(setup):
        tool = re.match(r"^(conda|mamba|micromamba)\s+activate\b", line)
        if tool is None:
            continue
        if any(re.search(r"conda\.sh|shell(\.bash)? hook|conda init", before) for before in setup[:n]):
            return setup, ""
        hook = _HOOKS[tool.group(1)]
        return [*setup[:n], hook, *setup[n:]], hook
    return setup, ""


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return []


def program(words: list[str]) -> list[str]:
    """The program's argv: `srun [options]`, `exec`, `time` taken off."""
    i = 0
    while i < len(words) and words[i] in ("exec", "time", "srun", "stdbuf"):
        launcher = words[i]
        i += 1
        if launcher == "stdbuf":
            while i < len(words) and words[i].startswith("-"):
                i += 1
        if launcher != "srun":
            continue
        while i < len(words) and words[i].startswith("-"):
            option = words[i]
            i += 1
            takes_value = (
                option not in SRUN_FLAGS
                and "=" not in option
                and (option.startswith("--") or len(option) == 2)
            )
            if takes_value and i < len(words):
                i += 1
    return words[i:]


def _repo_relative(line: str) -> str:
    """A setup line that sources a path relative to where sbatch was run (`source venv/bin/activate`):
    through $CLUSTERRUN_REPO_ROOT, since a run works in its own copy of the code, which holds tracked
    files only."""
    match = re.match(r"^(source|\.)\s+(['\"]?)([^\s'\"$~/][^\s'\"]*)\2(.*)$", line)
    if match is None:
        return line
    command, _quote, path, rest = match.groups()
    return f'{command} "$CLUSTERRUN_REPO_ROOT/{path.removeprefix("./")}"{rest}'
