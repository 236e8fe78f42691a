"""Random numbers the code draws without a seed: where a run will not reproduce, said before it runs and
again when a reproduction differs.

Read from the source (never run): the Python files the command names, and the modules of the snapshot
they import, transitively (at most MAX_FILES). Two kinds of finding:
- a generator made without a seed (`np.random.default_rng()`, `np.random.RandomState()`,
  `random.Random()`), or one no seed can repeat (`random.SystemRandom()`): certain, wherever it is;
- a library's global generator used and never seeded in the files read (numpy's `np.random.rand`,
  Python's `random.shuffle`, torch imported without `torch.manual_seed`): said only when no seeding call
  of that library, nor a call named for a seed that may seed them all (`seed_everything`, `set_seed`, a
  project's own `set_all_seeds(1)`, `LightningCLI(seed_everything_default=1234)`), appears anywhere,
  and the command does not seed them all (LightningCLI's `--seed_everything 42`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_FILES = 30
MAX_BYTES = 1_000_000  # a file larger than this is not read (generated code, data)

#: generator classes whose instance draws from the OS's entropy when made with no seed
_CONSTRUCTORS = {"default_rng": "numpy", "RandomState": "numpy", "Random": "random"}
#: helpers that seed every library's global generator (Lightning, transformers, accelerate, mmcv, own)
_SEED_ALL = frozenset(
    {"seed_everything", "set_seed", "set_random_seed", "set_seeds", "seed_all", "fix_seed", "fix_seeds"}
)
#: seeding calls of one library (np.random.seed, random.seed, torch.manual_seed...); any other call named
#: for a seed (a project's own `set_all_seeds(1)`, in a module not read) is taken to seed them all
_SEEDS_ONE = frozenset({"seed", "manual_seed", "manual_seed_all"})
_NUMPY_NOT_DRAWS = frozenset(
    {
        "seed",
        "default_rng",
        "RandomState",
        "Generator",
        "SeedSequence",
        "PCG64",
        "PCG64DXSM",
        "MT19937",
        "Philox",
        "SFC64",
        "BitGenerator",
        "get_state",
        "set_state",
    }
)
_PYTHON_DRAWS = frozenset(
    {
        "random",
        "shuffle",
        "choice",
        "choices",
        "sample",
        "randint",
        "randrange",
        "uniform",
        "gauss",
        "normalvariate",
        "getrandbits",
        "randbytes",
        "triangular",
        "expovariate",
    }
)


_RELEVANT = re.compile(r"\brandom\b|\btorch\b|\bdefault_rng\b|\bRandomState\b")
_NUMPY_ALIAS = re.compile(r"^\s*import\s+numpy\s+as\s+(\w+)", re.MULTILINE)
_RANDOM_IMPORT = re.compile(r"^\s*import\s+(?:[\w.]+\s*,\s*)*random\b(?!\s+as|\.)", re.MULTILINE)
_TORCH_IMPORT = re.compile(r"^\s*(?:import|from)\s+torch\b", re.MULTILINE)
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<source>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]+)"
    r"|import[ \t]+(?P<plain>[\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*))",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Unseeded:
    path: str  # relative to the code's root
    line: int
    what: str  # e.g. "np.random.default_rng() makes a generator with no seed"

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.what}"


def _dotted(node: ast.AST) -> str:
    """`np.random.default_rng` of a call's function, as written ('' for anything else)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _no_seed(call: ast.Call) -> bool:
    if call.keywords:
        return all(k.arg == "seed" and _is_none(k.value) for k in call.keywords) and not call.args
    return not call.args or (len(call.args) == 1 and _is_none(call.args[0]))


def _a_number(node: ast.AST) -> bool:
    """A literal int (not True, which LightningCLI takes as 'a random seed'), or a name holding one."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    return isinstance(node, ast.Name | ast.Attribute)


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


@dataclass
class _Scan:
    """What the files read say, together: generators made without a seed, the first use of each global
    generator, and which globals something seeds."""

    made: list[Unseeded]
    first_use: dict[str, Unseeded]
    seeded: set[str]

    def read(self, rel: str, text: str, tree: ast.Module) -> None:
        numpy_names = {"np", "numpy", *_NUMPY_ALIAS.findall(text)}
        random_module = _RANDOM_IMPORT.search(text) is not None
        torch = _TORCH_IMPORT.search(text)
        if torch is not None and "torch" not in self.first_use:
            line = text.count("\n", 0, torch.end()) + 1
            self.first_use["torch"] = Unseeded(
                rel, line, "torch is used and torch.manual_seed is never called"
            )
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if not name:
                continue
            head, _, last = name.rpartition(".")
            seeds_all = last in _SEED_ALL or ("seed" in last.lower() and last not in _SEEDS_ONE)
            if seeds_all and (node.args or node.keywords):  # set_all_seeds(1), init_seeds(s), seed_torch(s)
                self.seeded.update({"numpy", "random", "torch"})
            if any(k.arg == "seed_everything_default" and _a_number(k.value) for k in node.keywords):
                self.seeded.update({"numpy", "random", "torch"})  # LightningCLI(..., =1234) seeds them all
            if last == "manual_seed" and (node.args or node.keywords):
                self.seeded.add("torch")
            if last == "seed" and (node.args or node.keywords):
                if head.split(".")[0] in numpy_names and head.endswith("random"):
                    self.seeded.add("numpy")
                elif head == "random":
                    self.seeded.add("random")
            if last == "SystemRandom" and head in ("random", ""):
                self.made.append(
                    Unseeded(rel, node.lineno, f"{name}() draws from the OS: no seed repeats it")
                )
                continue
            library = _CONSTRUCTORS.get(last)
            numpy_generator = library == "numpy" and (head == "" or head.endswith("random"))
            if (numpy_generator or (library == "random" and head == "random")) and _no_seed(node):
                self.made.append(Unseeded(rel, node.lineno, f"{name}() makes a generator with no seed"))
                continue
            root = head.split(".")[0]
            if root in numpy_names and head.endswith(".random") and last not in _NUMPY_NOT_DRAWS:
                self.first_use.setdefault(
                    "numpy",
                    Unseeded(rel, node.lineno, f"{name} draws from numpy's global generator, never seeded"),
                )
            elif random_module and head == "random" and last in _PYTHON_DRAWS:
                self.first_use.setdefault(
                    "random",
                    Unseeded(rel, node.lineno, f"{name} draws from Python's global generator, never seeded"),
                )

    def findings(self) -> list[Unseeded]:
        unseeded_globals = [u for key, u in self.first_use.items() if key not in self.seeded]
        return self.made + unseeded_globals


def _entry_files(root: Path, argv: Iterable[str]) -> list[Path]:
    """The Python files the command names (`train.py`, `python -m pkg.train`), inside `root`."""
    found: list[Path] = []
    tokens = list(argv)
    for position, token in enumerate(tokens):
        if token.endswith(".py"):
            candidate = (root / token).resolve()
            if _inside(candidate, root) and candidate.is_file():
                found.append(candidate)
        elif token == "-m" and position + 1 < len(tokens):
            main = _module_files(root, root, tokens[position + 1] + ".__main__")
            found += main or _module_files(root, root, tokens[position + 1])
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _module_files(root: Path, base: Path, module: str) -> list[Path]:
    parts = [p for p in module.split(".") if p]
    if not parts:
        return []
    for where in (base, root, root / "src"):
        for candidate in (
            where.joinpath(*parts).with_suffix(".py"),
            where.joinpath(*parts, "__init__.py"),
            where.joinpath(*parts, "__main__.py"),
        ):
            if candidate.is_file() and _inside(candidate.resolve(), root):
                return [candidate.resolve()]
    return []


def _imported(root: Path, path: Path, text: str) -> Iterator[Path]:
    """The snapshot's own files a module imports (its directory first, as a script's sys.path[0]),
    read from its import lines (a regular expression: cheaper than a syntax tree, for every file)."""
    for match in _IMPORT_LINE.finditer(text):
        source, names, plain = match.group("source"), match.group("names"), match.group("plain")
        if plain:
            for module in plain.split(","):
                yield from _module_files(root, path.parent, module.split(" as ")[0].strip())
            continue
        level = len(source) - len(source.lstrip("."))
        module = source[level:]
        listed = [n.split(" as ")[0].strip() for n in names.strip("() \\").split(",")]
        listed = [n for n in listed if n.isidentifier()]
        if level:
            base = path.parent
            for _ in range(level - 1):
                base = base.parent
            for name in [module] if module else listed:
                yield from _module_files(root, base, name)
        else:
            yield from _module_files(root, path.parent, module)
            for name in listed:  # `from pkg import module`
                yield from _module_files(root, path.parent, f"{module}.{name}")


#: command-line options that seed every generator (LightningCLI's `--seed_everything 42`)
_SEED_ALL_OPTIONS = ("--seed_everything",)


def _seeds_from_argv(argv: list[str]) -> bool:
    """Whether the command seeds every generator with a number: `--seed_everything 42` (or `=42`)."""
    for position, word in enumerate(argv):
        name, equals, value = word.partition("=")
        if name in _SEED_ALL_OPTIONS:
            value = value if equals else (argv[position + 1] if position + 1 < len(argv) else "")
            if value.lstrip("-").isdigit():
                return True
    return False


def find(root: Path, argv: Iterable[str]) -> list[Unseeded]:
    """What the code the command runs draws at random without a seed (see the module's text)."""
    root = root.resolve()
    argv = list(argv)
    queue = _entry_files(root, argv)
    seen: set[Path] = set()
    scan = _Scan([], {}, set())
    if _seeds_from_argv(argv):
        scan.seeded.update({"numpy", "random", "torch"})
    while queue and len(seen) < MAX_FILES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        queue += [p for p in _imported(root, path, text) if p not in seen]
        if _RELEVANT.search(text) is None:  # most files: no syntax tree at all
            continue
        try:
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        scan.read(path.relative_to(root).as_posix(), text, tree)
    return scan.findings()


def summary_line(found: list[Unseeded]) -> str:
    """One warning for all of them: the first, and how many more."""
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (
        f"the code draws random numbers without a seed, so its runs will not reproduce exactly: "
        f"{found[0]}{more}; seed it from the run's seed ({{seed}} in the command, or $CLUSTERRUN_SEED)"
    )
