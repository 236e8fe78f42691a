"""The entry points of a repository, best first, as an experienced colleague would look for them: run
scripts (scripts/train.sh, scripts/run.py, train.py, main.py), Makefile targets, the pyproject's
[project.scripts], other Python scripts that run as a program (src/fit.py), and the configs already in
configs/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from clusterrun.init.pysource import MAIN_GUARD
from clusterrun.init.shell import BATCH_DIRECTIVE, Makefile, ShellScript, read_makefile, read_shell

#: Where run scripts usually are, in the order they are tried.
SCRIPTS = (
    "scripts/train.sh",
    "scripts/run.py",
    "scripts/train.py",
    "train.py",
    "main.py",
    "run.py",
    "src/train.py",
    "scripts/run.sh",
    "train.sh",
)
LATE_SCRIPTS = ("scripts/eval.sh", "scripts/eval.py", "eval.py")  # listed, but not what one trains with
#: Where other Python scripts are looked for when they run as a program (an `if __name__ == "__main__"`
#: block): src/fit.py, experiments/mnist.py... Tried after the usual names, trainers first.
SCRIPT_DIRS = (".", "src", "scripts", "experiments", "bin", "tools", "src/*")
#: a script without a main guard that reads its options at the top level (`a = p.parse_args()` in column
#: 0, or `lr = float(sys.argv[1])`): it runs as a program all the same (quick experiment scripts often
#: look so)
TOP_LEVEL_PARSE = re.compile(
    r"^(?:\w+\s*(?:,\s*\w+\s*)*=\s*)?[\w.]+\.parse_(?:known_)?args\(|^\w+\s*=.*\bsys\.argv\[[1-9]",
    re.MULTILINE,
)
NOT_SCRIPTS = re.compile(r"(setup|conftest|__init__|__main__|test_.*|.*_test|noxfile|tasks)\.py")
TRAINER_WORDS = ("train", "fit", "run", "main", "experiment")
MAKE_TARGETS = ("train", "run", "fit", "experiment", "main")


@dataclass
class Entry:
    """One way to run the project's training, and where its options and prints can be read."""

    kind: str  # python, shell, make, pyproject
    label: str  # how the report names it: train.py, scripts/train.sh, make train, pyproject script fit
    command: list[str]  # the program part of the command: python train.py, bash scripts/train.sh...
    python: Path | None = None  # the Python source behind it (options, prints)
    shell: ShellScript | None = None
    make: Makefile | None = None
    target: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Survey:
    root: Path
    entries: list[Entry] = field(default_factory=list)
    looked_at: list[str] = field(default_factory=list)  # what exists of what was looked for
    configs: list[Path] = field(default_factory=list)  # configs/*.yaml|yml|json (not cluster profiles)
    profiles: list[str] = field(default_factory=list)  # configs/clusters/*.yaml


def _python_behind(root: Path, scripts: list[str], shells: list[str]) -> Path | None:
    for rel in scripts:
        if (root / rel).is_file():
            return root / rel
    for rel in shells:
        inner = read_shell(root / rel) if (root / rel).is_file() else None
        found = _shell_python(root, inner) if inner else None
        if found is not None:
            return found
    return None


def _shell_python(root: Path, shell: ShellScript) -> Path | None:
    """The Python source a shell script runs: a script (`python train.py`), a module (`python -m
    pkg.train`), or the project's console script (`exec mlp-train "$@"`: [project.scripts])."""
    for script in shell.python:
        if (root / script).is_file():
            return root / script
    modules = list(shell.modules)
    for name, target in _console_scripts(root).items():
        if shell.runs_program(name):
            modules.append(target.split(":")[0].strip())
    for module in modules:
        source = module_file(root, module)
        if source is not None:
            return source
    return None


def _console_scripts(root: Path) -> dict[str, str]:
    try:
        return project_scripts((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def _script_entry(root: Path, rel: str) -> Entry:
    path = root / rel
    if rel.endswith(".py"):
        return Entry("python", rel, ["python", rel], python=path)
    shell = read_shell(path)
    python = _shell_python(root, shell)
    if python is not None and python.is_relative_to(root) and _is_sbatch(path):
        # a batch script (`#SBATCH` lines, `srun python train.py`): what it runs is the entry point, and
        # the script gives resources, setup and values (init/sbatch.py); run as the command, its `srun`
        # would start inside the job's own step and its `cd $SLURM_SUBMIT_DIR` leave the run's copy
        module = next((m for m in shell.modules if module_file(root, m, run=True) == python), None)
        if module is not None:  # run as the module it is (its relative imports need it)
            return Entry("python", f"python -m {module}", ["python", "-m", module], python=python)
        inner = python.relative_to(root).as_posix()
        return Entry("python", inner, ["python", inner], python=python)
    return Entry("shell", rel, ["bash", rel], python=python, shell=shell)


def _is_sbatch(path: Path) -> bool:
    """Whether the script has `#SBATCH` lines (a batch script)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return BATCH_DIRECTIVE.search(text) is not None


def module_file(root: Path, module: str, run: bool = False) -> Path | None:
    """The source of a module of the project (in `root` or `root/src`); with `run`, what `python -m`
    runs of a package (its __main__.py), else its __init__.py."""
    parts = module.split(".")
    package = "__main__.py" if run else "__init__.py"
    for base in (root, root / "src"):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, package)):
            if candidate.is_file():
                return candidate
    return None


def _pyproject(root: Path, survey: Survey) -> list[Entry]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    survey.looked_at.append("pyproject.toml")
    try:
        scripts = project_scripts(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []
    entries = []
    for name, target in scripts.items():
        module = str(target).split(":")[0].strip()
        source = module_file(root, module)
        guarded = source is not None and MAIN_GUARD.search(source.read_text(errors="replace"))
        command = ["python", "-m", module] if guarded else [str(name)]
        entry = Entry("pyproject", f"pyproject script {name}", command, python=source)
        if not guarded:
            entry.notes.append(
                f"'{name}' is an installed console script: the job needs the package installed where it runs "
                "(e.g. setup: ['source \"$CLUSTERRUN_REPO_ROOT/.venv/bin/activate\"'])"
            )
        entries.append(entry)
    return entries


def project_scripts(text: str) -> dict[str, str]:
    """[project.scripts] of a pyproject.toml: `name = "module:function"` lines (read as text: Python 3.10
    has no TOML reader, and this table is always that simple)."""
    scripts: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        stripped = line.split("#")[0].strip()
        if stripped.startswith("["):
            inside = stripped == "[project.scripts]"
            continue
        match = re.fullmatch(r"""["']?([A-Za-z0-9_.-]+)["']?\s*=\s*["']([^"']+)["']""", stripped)
        if inside and match:
            scripts[match.group(1)] = match.group(2)
    return scripts


def survey(root: Path) -> Survey:
    """What the repository offers to run, best first."""
    found = Survey(root)
    for rel in (*SCRIPTS, *LATE_SCRIPTS):
        if (root / rel).is_file():
            found.looked_at.append(rel)
    found.entries += [_script_entry(root, rel) for rel in SCRIPTS if (root / rel).is_file()]
    makefile_path = root / "Makefile"
    if makefile_path.is_file():
        found.looked_at.append("Makefile")
        makefile = read_makefile(makefile_path)
        order = [t for t in MAKE_TARGETS if t in makefile.targets] + [
            t for t in makefile.targets if t not in MAKE_TARGETS
        ]
        for target in order:
            pythons, shells = makefile.runs(target)
            python = _python_behind(root, pythons, shells)
            if python is None and not shells:
                continue  # clean, lint, install...: nothing that trains
            found.entries.append(
                Entry("make", f"make {target}", ["make", target], python=python, make=makefile, target=target)
            )
    found.entries += _pyproject(root, found)
    found.entries += [_script_entry(root, rel) for rel in LATE_SCRIPTS if (root / rel).is_file()]
    known = {  # every script already an entry (SCRIPTS' and LATE_SCRIPTS' .py files are their own python)
        e.python.relative_to(root).as_posix()
        for e in found.entries
        if e.python is not None and e.python.is_relative_to(root)
    }
    for rel in guarded_scripts(root, known):
        found.entries.append(_script_entry(root, rel))
        found.looked_at.append(rel)
    seen: set[tuple[str, str]] = set()  # (a batch script's entry is its Python script's: listed once)
    unique = []
    for entry in found.entries:
        if (entry.kind, entry.label) not in seen:
            seen.add((entry.kind, entry.label))
            unique.append(entry)
    found.entries = unique
    configs = root / "configs"
    if configs.is_dir():
        for path in sorted(configs.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
                if path.parent.name == "clusters":
                    found.profiles.append(path.stem)
                else:
                    found.configs.append(path)
    return found


def guarded_scripts(root: Path, known: set[str]) -> list[str]:
    """Python files in the usual places (SCRIPT_DIRS) that run as a program (a main guard, or options read
    at the top level), not among `known`: trainers
    first (a name with train, fit, run...), then by name. A few hundred files at most are read."""
    found: list[str] = []
    for pattern in SCRIPT_DIRS:
        for folder in sorted(root.glob(pattern)) if "*" in pattern else [root / pattern]:
            hidden = pattern != "." and folder.name.startswith(".")  # the repository's own name may be
            if not folder.is_dir() or folder.is_symlink() or hidden:
                continue
            for path in sorted(folder.glob("*.py"))[:200]:
                rel = path.relative_to(root).as_posix()
                if rel in known or rel in found or NOT_SCRIPTS.fullmatch(path.name) or not path.is_file():
                    continue
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
                except OSError:
                    continue
                if MAIN_GUARD.search(text) or TOP_LEVEL_PARSE.search(text):
                    found.append(rel)
    return sorted(found, key=lambda rel: (not any(w in Path(rel).stem for w in TRAINER_WORDS), rel))


def find_entry(found: Survey, wanted: str) -> Entry | None:
    """An entry by what the user typed: a path (train.py), `make train` or a make target, a script name."""
    wanted = wanted.strip()
    for entry in found.entries:
        if wanted in (
            entry.label,
            entry.target,
            f"make {entry.target}",
            entry.label.removeprefix("pyproject script "),
        ):
            return entry
    path = found.root / wanted
    if path.is_file() and wanted.endswith((".py", ".sh")):
        return _script_entry(found.root, wanted)
    return None
