"""Run by the job's own interpreter after its setup lines: make Python import the run's copy of the code.

A path into the checkout on the interpreter's import path would import the live tree, which later edits
change, instead of the run's copy of the snapshot: an editable install (`pip install -e .`: a `.pth` line
such as `/repo/src`, or setuptools' finder mapping `pkg` to `/repo/pkg`), a `PYTHONPATH` exported by a
shell profile, a `.egg-link`. `python codepath.py REPO_ROOT WORKDIR` prints the `PYTHONPATH` that puts,
in front, the run's copy of each such directory (WORKDIR/<its path in the checkout>, when the copy has
it), followed by the `PYTHONPATH` it was given; it prints nothing when no such path is found. command.sh
exports it. Entries given by `PYTHONPATH` come before site-packages, and setuptools appends its finder
after Python's own path finder, so the copies win for the command and every process it starts.

Standard library only, and no clusterrun import: the job's interpreter is the user's (a venv, a conda
env, a module), not clusterrun's.
"""

from __future__ import annotations  # the user's interpreter may be older than clusterrun's

import os
import sys


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _installed(path: str) -> bool:
    """A directory packages are installed into (a venv committed with the code): not the code itself."""
    return any(part in ("site-packages", "dist-packages") for part in path.split(os.sep))


def _finder_dirs() -> list[str]:
    """The directories setuptools' editable finders import top-level packages from (their MAPPING: name
    -> /repo/pkg or /repo/mod.py): each one's parent, when its last part is the name (a package_dir that
    renames a package cannot be shadowed through the path, and is left as it is)."""
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("__editable__") or not name.endswith("_finder"):
            continue
        mapping = getattr(module, "MAPPING", None)
        if not isinstance(mapping, dict):
            continue
        for package, location in mapping.items():
            if not isinstance(package, str) or not isinstance(location, str):
                continue
            base = os.path.basename(location.rstrip(os.sep))
            if base in (package, package + ".py"):
                found.append(os.path.dirname(location.rstrip(os.sep)))
    return found


def shadowing_path(repo_root: str, workdir: str, path: list[str], pythonpath: str) -> str:
    """The PYTHONPATH that puts the run's copies of the checkout's directories on `path` first ("" when
    there are none). Entries inside WORKDIR are the copy already; a directory the copy lacks (a venv or
    a build directory inside the checkout, ignored by git) is left as it is, and so is a site-packages
    directory (a venv committed with the code holds installed packages, not the code)."""
    root = os.path.realpath(repo_root)
    work = os.path.realpath(workdir)
    copies: list[str] = []
    for entry in path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if not _inside(real, root) or _inside(real, work) or _installed(real):
            continue
        relative = os.path.relpath(real, root)
        copy = work if relative == "." else os.path.join(work, relative)
        if copy not in copies and os.path.isdir(copy):
            copies.append(copy)
    if not copies:
        return ""
    return os.pathsep.join(copies + [entry for entry in pythonpath.split(os.pathsep) if entry])


def main(argv: list[str]) -> int:
    repo_root, workdir = argv[0], argv[1]
    here = os.path.dirname(os.path.realpath(__file__))  # on sys.path as this script's directory
    path = [entry for entry in sys.path if entry and os.path.realpath(entry) != here]
    value = shadowing_path(repo_root, workdir, path + _finder_dirs(), os.environ.get("PYTHONPATH", ""))
    if value:
        print(value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
