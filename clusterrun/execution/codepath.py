"""Run by the job's own interpreter after its setup lines: make Python import the run's copy of the code.

A path into the checkout on the interpreter's import path would import the live tree, which later edits
change, instead of the run's copy of the snapshot: an editable install (`pip install -e .`: a `.pth` line
such as `/repo/src`, or setuptools' finder mapping `pkg` to `/repo/pkg`), a `PYTHONPATH` exported by a
shell profile, a `.egg-link`.

`python codepath.py REPO_ROOT WORKDIR SHIM` finds the top-level modules and packages that the
interpreter imports from the checkout (each name from the first place that has it, as Python looks), and
makes SHIM a directory of links to their copies in WORKDIR (WORKDIR/<its path in the checkout>/name). It
prints the `PYTHONPATH` that puts SHIM first, followed by the one it was given; it prints nothing when
nothing is imported from the checkout. command.sh exports it: those names, and only those, now come from
the copy, for the command and every process it starts. A name that comes from elsewhere stays so: a
`datasets.py` at the top of the checkout does not hide the `datasets` package installed in the venv, as
putting the copy of the whole checkout in front of the path would.

Standard library only, and no clusterrun import: the job's interpreter is the user's (a venv, a conda
env, a module), not clusterrun's.
"""

from __future__ import annotations  # the user's interpreter may be older than clusterrun's

import contextlib
import os
import sys
from importlib.machinery import FrozenImporter, PathFinder


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _installed(path: str) -> bool:
    """A directory packages are installed into (a venv committed with the code): not the code itself."""
    return any(part in ("site-packages", "dist-packages") for part in path.split(os.sep))


def _top_level(folder: str) -> dict[str, str]:
    """The names a directory on the path gives: a package or namespace directory, a module file (.py, or
    an extension module's .so/.pyd) -> its file name in the directory."""
    found: dict[str, str] = {}
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return found
    for item in entries:
        if item.startswith(".") or item == "__pycache__":
            continue
        full = os.path.join(folder, item)
        if os.path.isdir(full):
            name = item
        elif item.endswith(".py"):
            name = item[:-3]
        elif item.endswith((".so", ".pyd")):
            name = item.split(".", 1)[0]
        else:
            continue
        if name.isidentifier() and name not in found:
            found[name] = item
    return found


def _finder_mappings() -> list[dict[str, str]]:
    """The MAPPINGs of setuptools' editable finders (package name -> /repo/pkg or /repo/mod.py): a flat
    layout's editable install, imported at startup by its .pth file."""
    found = []
    for name, module in list(sys.modules.items()):
        mapping = getattr(module, "MAPPING", None) if name.startswith("__editable__") else None
        if isinstance(mapping, dict):
            found.append({k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)})
    return found


def _own(name: str) -> bool:
    """A module Python always takes from itself (builtin or frozen): never from a path."""
    return name in sys.builtin_module_names or FrozenImporter.find_spec(name) is not None


def _nowhere(name: str, path: list[str]) -> bool:
    """Whether no directory of `path` has a top-level module or regular package `name`: a namespace
    portion does not count (a regular package later on the path wins over it, as hatchling's editable
    install leaves `site-packages/clusterrun/templates` before the checkout's clusterrun/), nor does an
    entry Python cannot read, as when it imports."""
    try:
        spec = PathFinder.find_spec(name, path)
    except (ImportError, OSError, ValueError):
        return True
    return spec is None or spec.origin is None  # (a namespace package's spec has no origin)


def checkout_imports(
    repo_root: str, workdir: str, path: list[str], mappings: list[dict[str, str]]
) -> dict[str, str]:
    """name -> its copy in `workdir`, for each top-level name the interpreter (its import `path`, then
    setuptools' editable `mappings`) imports from the checkout: from a directory of the checkout on the
    path, when no earlier directory has the name, or from a mapping, when no directory on the path has
    it. Directories inside `workdir` are the copy already; a directory the copy lacks (a venv or build
    directory ignored by git) and a site-packages directory (a venv committed with the code) are left."""
    root = os.path.realpath(repo_root)
    work = os.path.realpath(workdir)
    found: dict[str, str] = {}
    for position, entry in enumerate(path):
        real = os.path.realpath(entry)
        if not _inside(real, root) or _inside(real, work) or _installed(real):
            continue
        relative = os.path.relpath(real, root)
        copy = work if relative == "." else os.path.join(work, relative)
        if not os.path.isdir(copy):
            continue
        live = _top_level(real)
        for name, item in _top_level(copy).items():
            if name in found or name not in live or _own(name):
                continue
            if _nowhere(name, path[:position]):  # no earlier directory has it
                found[name] = os.path.join(copy, item)
    for mapping in mappings:
        for name, location in mapping.items():
            real = os.path.realpath(location)
            if name in found or not _inside(real, root) or _inside(real, work):
                continue
            copy = os.path.join(work, os.path.relpath(real, root))
            if os.path.exists(copy) and _nowhere(name, path):
                found[name] = copy
    return found


def make_shim(shim: str, links: dict[str, str]) -> None:
    """SHIM as a directory holding exactly these links (name on the path -> the copy's file or
    directory). Every rank of a job runs this at once, each finding the same links: a link is made under
    a name of its own and renamed into place (an existing one is replaced only when it points elsewhere,
    as after a checkout changed between attempts), and only links none of them wants are removed."""
    if not links and not os.path.isdir(shim):  # nothing from the checkout: no directory either
        return
    os.makedirs(shim, exist_ok=True)
    wanted = {}  # the name in SHIM -> the copy's file or directory
    for name, target in links.items():
        wanted[name if os.path.isdir(target) else os.path.basename(target)] = target
    for item in os.listdir(shim):
        path = os.path.join(shim, item)
        if item not in wanted and not item.startswith(".tmp-") and os.path.islink(path):
            with contextlib.suppress(FileNotFoundError):  # (another rank removed it)
                os.unlink(path)
    for item, target in wanted.items():
        path = os.path.join(shim, item)
        try:
            if os.readlink(path) == target:
                continue
        except OSError:
            pass
        temporary = os.path.join(shim, f".tmp-{os.getpid()}-{item}")
        os.symlink(target, temporary)
        os.replace(temporary, path)


def main(argv: list[str]) -> int:
    """Never fails the job: what goes wrong is said in one line on its stderr (stderr.log), and the job
    runs with the path it had."""
    try:
        return _main(argv)
    except Exception as exc:  # said, and the job goes on as it would have
        print(
            f"clusterrun: could not tell what this interpreter imports from the checkout "
            f"({type(exc).__name__}: {exc}); the job may import its files as they are now, not the run's "
            "copy",
            file=sys.stderr,
        )
        return 0


def _main(argv: list[str]) -> int:
    repo_root, workdir, shim = argv[0], argv[1], argv[2]
    here = os.path.dirname(os.path.realpath(__file__))  # on sys.path as this script's directory
    path = [entry for entry in sys.path if entry and os.path.realpath(entry) != here]
    links = checkout_imports(repo_root, workdir, path, _finder_mappings())
    make_shim(shim, links)
    if links:
        given = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        print(os.pathsep.join([shim, *given]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
