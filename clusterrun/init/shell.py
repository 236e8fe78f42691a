"""Shell scripts and Makefiles, read as text (never run): the variables a script reads with a default
(`${EPOCHS:-10}`), the Python scripts it runs, and a Makefile's targets, variables and recipes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}")
_PYTHON = re.compile(r"(?:^|[\s;&|(])(?:python3?|python3\.\d+)\s+(?:-\w+\s+)*([\w./-]+\.py)\b")
_MODULE = re.compile(r"(?:^|[\s;&|(])(?:python3?|python3\.\d+)\s+(?:-[A-Za-ln-z]\w*\s+)*-m\s+([\w.]+)")
_SHELL = re.compile(
    r"(?:^|[\s;&|(])(?:bash|sh|zsh)\s+([\w./-]+\.(?:sh|bash))\b|(?:^|[\s;&|(])\./([\w./-]+\.sh)\b"
)
#: a batch script's directive line (`#SBATCH --time=...`), not a mention of one in a comment
BATCH_DIRECTIVE = re.compile(r"^\s*#SBATCH\s", re.MULTILINE)
_TARGET = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:(?![=:])")
_MAKE_VAR = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|::=|=)\s*(.*?)\s*$")


@dataclass
class ShellScript:
    path: Path
    variables: dict[str, str] = field(default_factory=dict)  # NAME -> default, for ${NAME:-default}
    python: list[str] = field(default_factory=list)  # the .py scripts it runs
    forwards_args: bool = False  # passes "$@" on
    modules: list[str] = field(default_factory=list)  # the modules it runs (`python -m pkg.train`)
    code: list[str] = field(default_factory=list)  # its lines, comments left out

    def runs_program(self, name: str) -> bool:
        """Whether a line runs `name` as a command (an installed console script: `exec mlp-train "$@"`)."""
        word = re.compile(rf"(?:^|[\s;&|(]){re.escape(name)}(?=\s|$|[;&|)])")
        return any(word.search(line) for line in self.code)


@dataclass
class Makefile:
    path: Path
    targets: dict[str, list[str]] = field(default_factory=dict)  # target -> its recipe lines
    variables: dict[str, str] = field(default_factory=dict)  # NAME -> value (?= and =)

    def runs(self, target: str) -> tuple[list[str], list[str]]:
        """(Python scripts, shell scripts) the target's recipe runs."""
        lines = self.targets.get(target, [])
        return _pythons(lines), _shells(lines)

    def used(self, target: str) -> list[str]:
        """The Makefile variables the target's recipe uses: $(NAME) or ${NAME}."""
        text = "\n".join(self.targets.get(target, []))
        return [v for v in self.variables if re.search(rf"\$[({{]{v}[)}}]", text)]


def _pythons(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(m.group(1) for line in lines for m in _PYTHON.finditer(line)))


def _shells(lines: list[str]) -> list[str]:
    found = [m.group(1) or m.group(2) for line in lines for m in _SHELL.finditer(line)]
    return list(dict.fromkeys(f for f in found if f))


def read_shell(path: Path) -> ShellScript:
    script = ShellScript(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return script
    code = [line.split(" #")[0] for line in lines if not line.lstrip().startswith("#")]
    for line in code:
        for name, default in _DEFAULTED.findall(line):
            script.variables.setdefault(name, default.strip().strip("\"'"))
    script.python = _pythons(code)
    script.modules = list(dict.fromkeys(m.group(1) for line in code for m in _MODULE.finditer(line)))
    script.code = code
    script.forwards_args = any('"$@"' in line or "$*" in line for line in code)
    return script


def read_makefile(path: Path) -> Makefile:
    makefile = Makefile(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return makefile
    current: str | None = None
    for line in lines:
        if line.startswith("\t"):
            if current is not None:
                makefile.targets[current].append(line.strip().lstrip("@-"))
            continue
        current = None
        stripped = line.split("#")[0].rstrip()
        variable = _MAKE_VAR.match(stripped)
        if variable and ":" not in variable.group(1):
            makefile.variables.setdefault(variable.group(1), variable.group(3))
            continue
        target = _TARGET.match(stripped)
        if target and not target.group(1).startswith("."):
            current = target.group(1)
            makefile.targets.setdefault(current, [])
    return makefile
