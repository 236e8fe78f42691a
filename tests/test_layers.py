"""The layer contract of DESIGN.md ("Layers"), checked over the package's import graph.

    cli -> services -> domain (config, inputs, records, execution, analysis, diagnose) -> scheduler

A module may import its own layer and the layers below it, never one above. Every module is parsed with
`ast` (nothing is imported or executed), so imports inside functions and under TYPE_CHECKING count too.
A failure names each offending import as file:line. To move a module to another layer, or to allow an
exception, edit the tables below and give the reason next to the entry.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clusterrun"

#: The rank of each layer: a module may import modules of equal or lower rank.
CLI, SERVICES, DOMAIN, SCHEDULER = 3, 2, 1, 0
LAYERS: dict[str, int] = {
    "cli": CLI,
    "__main__": CLI,  # `python -m clusterrun`: the CLI's entry point
    "api": CLI,  # clusterrun/api.py: the commands as Python functions over the services (prints nothing)
    "services": SERVICES,
    "dashboard": SERVICES,  # `clusterrun site` and `plot`: pages and curves from the registry (issue 12)
    "export": SERVICES,  # `clusterrun export`: CSV, JSON lines, MLflow (issue 12)
    "init": SERVICES,  # `clusterrun init` and ad-hoc runs: a repository's scripts read with ast (issue 11)
    "config": DOMAIN,
    "inputs": DOMAIN,
    "records": DOMAIN,
    "execution": DOMAIN,
    "analysis": DOMAIN,
    "diagnose": DOMAIN,
    "scheduler": SCHEDULER,
}
#: Importable from every layer; they import nothing from clusterrun but each other. portable: OS
#: differences (locks, psutil); envknobs: the environment variables that tune clusterrun, read and checked;
#: usercache: the user's own private cache directory (compiled templates, folds of big metrics files).
BASE = {
    "clusterrun",
    "clusterrun.errors",
    "clusterrun.portable",
    "clusterrun.envknobs",
    "clusterrun.usercache",
}

#: What scheduler/ may import from the layers above it. Each is a leaf (it imports nothing from clusterrun
#: but BASE; the rule non_leaf_exceptions checks it), so no domain logic comes along with it.
SCHEDULER_EXCEPTIONS: dict[str, str] = {
    "clusterrun.config.resources": "scheduler/info.py reads partition time limits in SLURM's time syntax",
    "clusterrun.records.jsonio": "scheduler/cache.py writes the shared poll cache atomically",
    "clusterrun.execution.templates": "scheduler/slurm.py renders sbatch.sh from the shared Jinja2 templates",
    "clusterrun.execution.gpus": "scheduler/checks.py shows this machine's GPUs (nvidia-smi) beside the "
    "scheduler's in doctor's gpus row: one GPU probe for env.json and doctor",
}

#: Third-party or standard modules confined to some top-level packages of clusterrun.
CONFINED: dict[str, set[str]] = {
    "submitit": {"scheduler"},
    "subprocess": {"scheduler", "execution"},
}

#: Single modules outside CONFINED's packages that may use a confined library, and why.
CONFINED_MODULES: dict[str, dict[str, str]] = {
    "subprocess": {
        "clusterrun.inputs.snapshot": "`git archive | tar -x` into the snapshot store: git and tar only, "
        "3-7x faster than Python's tarfile (bench/snapshot.py)",
        "clusterrun.inputs.gitstate": "`git rev-parse`, `git diff`, `git status` for the git state of every "
        "submit: importing GitPython alone (~80 ms) cost more than the capture (issue 13)",
    },
}

#: config/ is the pure bottom of the domain: it imports only itself and BASE. Inside it, one loading pass
#: (experiment.py) sits on helpers that never import it back: a module may import only modules listed
#: after it here (resources and yaml12 are leaves).
CONFIG_ORDER = [
    "experiment",  # the one loading pass: file -> overrides -> profile -> validate -> sweep members
    "profiles",
    "sweep",
    "render",
    "models",
    "sections",
    "overrides",
    "placeholders",
    "requeue",  # the requeue section's reasons and bounds, and the policy read back from a record
    "yaml12",
    "redact",  # the one list of secret names and values: config, env.json and the records' writer
    "resources",
    "alike",  # one object for the values the members of a sweep have alike (its configs, its manifests)
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    path: Path
    line: int
    target: str  # the imported module, dotted (a submodule when `from pkg import submodule`)

    def where(self) -> str:
        return f"{self.path.relative_to(PACKAGE.parent)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, source: str | None = None) -> list[Import]:
    """Every import in one file, relative ones resolved; `from pkg import name` is pkg.name when that
    is a module of clusterrun."""
    source = source if source is not None else module_name(path)
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(source, path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = source.split(".")
                if not is_package:
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                target = sub if module.startswith("clusterrun") and _is_module(sub) else module
                found.append(Import(source, path, node.lineno, target))
    return found


def package_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def top(dotted: str) -> str:
    """The top-level package inside clusterrun: clusterrun.config.models -> config."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _report(violations: list[str]) -> str:
    return "\n".join(["the layer contract (DESIGN.md 'Layers') is broken:", *sorted(set(violations))])


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(
        {
            f"{path.relative_to(PACKAGE.parent)}: {top(module_name(path))!r} is in no layer; add it to LAYERS"
            for path in PACKAGE.rglob("*.py")
            if module_name(path) not in BASE and top(module_name(path)) not in LAYERS
        }
    )
    assert not unplaced, "\n".join(unplaced)


def _internal(imp: Import) -> bool:
    return imp.target.startswith("clusterrun") and imp.target not in BASE


def upward_imports(imports: list[Import]) -> list[str]:
    violations = []
    for imp in imports:
        if not _internal(imp):
            continue
        if imp.source in BASE:
            violations.append(f"{imp.where()}: {imp.source} is a base module and imports {imp.target}")
            continue
        src, dst = LAYERS.get(top(imp.source)), LAYERS.get(top(imp.target))
        if src is None or dst is None:
            continue  # test_every_module_has_a_layer names it
        if top(imp.source) == "scheduler" and imp.target in SCHEDULER_EXCEPTIONS:
            continue
        if dst > src:
            what = "the CLI" if dst == CLI else f"{top(imp.target)}/, a layer above"
            violations.append(f"{imp.where()}: {imp.source} imports {imp.target} ({what})")
    return violations


def scheduler_escapes(imports: list[Import]) -> list[str]:
    return [
        f"{imp.where()}: {imp.source} imports {imp.target}; the scheduler layer may import only "
        f"clusterrun.scheduler, {', '.join(sorted(BASE))} and SCHEDULER_EXCEPTIONS"
        for imp in imports
        if top(imp.source) == "scheduler"
        and _internal(imp)
        and top(imp.target) != "scheduler"
        and imp.target not in SCHEDULER_EXCEPTIONS
    ]


def non_leaf_exceptions(imports: list[Import]) -> list[str]:
    return [
        f"{imp.where()}: {imp.source} is imported by scheduler/ as a leaf, but imports {imp.target}"
        for imp in imports
        if imp.source in SCHEDULER_EXCEPTIONS and _internal(imp)
    ]


def escaped_libraries(imports: list[Import]) -> list[str]:
    return [
        f"{imp.where()}: {imp.source} imports {imp.target}; only "
        f"{', '.join(f'clusterrun/{r}/' for r in sorted(CONFINED[library]))} may"
        for imp in imports
        for library in [imp.target.split(".")[0]]
        if library in CONFINED
        and top(imp.source) not in CONFINED[library]
        and imp.source not in CONFINED_MODULES.get(library, {})
    ]


def config_climbs(imports: list[Import]) -> list[str]:
    rank = {f"clusterrun.config.{name}": i for i, name in enumerate(CONFIG_ORDER)}
    violations = []
    for imp in imports:
        if top(imp.source) != "config" or not _internal(imp):
            continue
        if top(imp.target) != "config":
            violations.append(
                f"{imp.where()}: {imp.source} imports {imp.target} (config imports only config)"
            )
        elif imp.source in rank and rank.get(imp.target, len(rank)) <= rank[imp.source]:
            violations.append(
                f"{imp.where()}: {imp.source} imports {imp.target}, which is not below it in CONFIG_ORDER"
            )
    return violations


RULES = [upward_imports, scheduler_escapes, non_leaf_exceptions, escaped_libraries, config_climbs]


@pytest.mark.parametrize("rule", RULES, ids=[rule.__name__ for rule in RULES])
def test_the_package_keeps_the_rule(rule: Callable[[list[Import]], list[str]]) -> None:
    violations = rule(package_imports())
    assert not violations, _report(violations)


def test_config_order_lists_every_config_module() -> None:
    modules = {module_name(p) for p in (PACKAGE / "config").glob("*.py")} - {"clusterrun.config"}
    unranked = sorted(m for m in modules if m.rsplit(".", 1)[-1] not in CONFIG_ORDER)
    assert not unranked, f"config modules missing from CONFIG_ORDER: {', '.join(unranked)}"


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [
        ("clusterrun.records.summary", "clusterrun.services.status", upward_imports),
        ("clusterrun.services.submit", "clusterrun.cli.output", upward_imports),
        ("clusterrun.errors", "clusterrun.config.models", upward_imports),
        ("clusterrun.scheduler.slurm", "clusterrun.config.models", scheduler_escapes),
        ("clusterrun.config.resources", "clusterrun.config.models", non_leaf_exceptions),
        ("clusterrun.records.writer", "submitit", escaped_libraries),
        ("clusterrun.services.submit", "subprocess", escaped_libraries),
        ("clusterrun.config.models", "clusterrun.records.jsonio", config_climbs),
        ("clusterrun.config.sweep", "clusterrun.config.experiment", config_climbs),
    ],
)
def test_a_broken_rule_is_reported_with_file_and_line(
    source: str, target: str, rule: Callable[[list[Import]], list[str]]
) -> None:
    path = PACKAGE.parent.joinpath(*source.split(".")).with_suffix(".py")
    violations = rule([Import(source, path, 7, target)])
    assert len(violations) == 1
    assert violations[0].startswith(f"{path.relative_to(PACKAGE.parent)}:7: ")
    assert target in violations[0]


def test_the_graph_is_read_at_all() -> None:
    """Guards the checks above against passing on an empty or misread graph."""
    targets = {(imp.source, imp.target) for imp in package_imports()}
    assert ("clusterrun.scheduler.slurm_submit", "submitit") in targets
    # `from clusterrun.records import index as registry_index`: the submodule, not the package
    assert ("clusterrun.services.plan", "clusterrun.records.index") in targets
    assert ("clusterrun.services.plan", "clusterrun.config.experiment") in targets


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("from . import sibling\nfrom ..errors import UsageError\nfrom .models import X\n")
    targets = [imp.target for imp in imports_of(path, source="clusterrun.config.mod")]
    assert targets == ["clusterrun.config", "clusterrun.errors", "clusterrun.config.models"]
