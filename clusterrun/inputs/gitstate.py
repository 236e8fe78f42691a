"""Capture the git state of the experiment's repository: commit, branch, dirty files, patch.

`git` itself answers (six plumbing commands, a few milliseconds each): importing GitPython alone cost
more than the whole capture, and every submit captures. GitPython is imported only where a repository object
is still wanted (`open_repo`, for reproduce).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clusterrun.errors import GitError

if TYPE_CHECKING:
    import git

NO_SUBMODULES = "--ignore-submodules=all"


@dataclass(frozen=True)
class GitState:
    root: str
    commit: str
    branch: str  # "(detached)" when HEAD is not on a branch
    dirty_files: tuple[str, ...] = ()
    untracked_files: tuple[str, ...] = ()
    patch: str = field(default="", repr=False)  # `git diff --binary HEAD` when dirty
    # submodules whose checkout differs from the commit the superproject records (changed files, or
    # another commit checked out): NOT captured, the snapshot holds the recorded commit
    dirty_submodules: tuple[str, ...] = ()

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_files)

    def as_record(self, patch_file: str | None) -> dict[str, object]:
        return {
            "root": self.root,
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "dirty_files": list(self.dirty_files),
            "untracked_files": list(self.untracked_files),
            "dirty_submodules": list(self.dirty_submodules),
            "patch_file": patch_file,
        }


def _not_a_repository(path: Path) -> GitError:
    return GitError(
        f"{path.resolve()} is not inside a git repository",
        hint="clusterrun records the exact code of every run: run 'git init && git add -A && "
        "git commit -m init' first",
    )


def open_repo(path: Path) -> git.Repo:
    import git  # only reproduce needs a repository object (and GitPython costs ~80 ms to import)

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise _not_a_repository(path) from None


class _GitFailed(Exception):
    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr
        self.line = stderr.splitlines()[0] if stderr else f"exit status {returncode}"  # git's first line


def _git(cwd: Path, *args: str) -> str:
    """`git ARGS` in `cwd`: its stdout, decoded as GitPython decoded it (UTF-8, undecodable bytes kept
    as surrogates), in the C locale as GitPython ran it. A failure raises _GitFailed."""
    env = dict(os.environ, LC_ALL="C", LANGUAGE="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed (no 'git' on PATH)",
            hint="install git: clusterrun records the exact code of every run",
        ) from None
    except NotADirectoryError:
        raise _not_a_repository(cwd) from None
    if done.returncode != 0:
        raise _GitFailed(done.returncode, done.stderr.decode("utf-8", "replace").strip())
    return done.stdout.decode("utf-8", "surrogateescape")


def _unreadable(path: Path, exc: _GitFailed) -> GitError:
    """git refused to read the repository (e.g. 'detected dubious ownership'): its own first line."""
    return GitError(
        f"git cannot read the repository at {path.resolve()}: {exc.line}",
        hint=f"check that git works there: git -C {path.resolve()} status",
    )


def _root(path: Path) -> Path:
    """The top of the working tree holding `path` (git searches the parent directories)."""
    start = path if path.is_dir() else path.parent
    if not start.is_dir():
        raise _not_a_repository(path)
    try:
        top = _git(start, "rev-parse", "--show-toplevel").rstrip("\n")
    except _GitFailed as exc:
        if "not a git repository" in exc.stderr or not exc.stderr:
            raise _not_a_repository(path) from None
        if "work tree" in exc.stderr:  # inside .git itself, or a bare repository
            raise GitError(
                f"{path.resolve()} is inside a git directory (.git, a bare repository), not a working tree",
                hint="run clusterrun from the working tree (the directory holding .git)",
            ) from None
        raise _unreadable(path, exc) from None
    if not top:
        raise _not_a_repository(path)
    return Path(top)


def _untracked(root: Path) -> list[str]:
    """`git status --porcelain -z --untracked-files=all`'s untracked paths ('?? ' entries), as
    GitPython's `untracked_files` lists them."""
    entries = _git(root, "status", "--porcelain", "-z", "--untracked-files=all").split("\0")
    found: list[str] = []
    skip = False
    for entry in entries:
        if skip:  # the source path of a rename or copy: its own NUL-separated field
            skip = False
            continue
        if entry.startswith("?? "):
            found.append(entry[3:])
        elif "R" in entry[:2] or "C" in entry[:2]:  # XY of a rename or copy
            skip = True
    return found


def capture(path: Path) -> GitState:
    """Read commit, branch and changes of the repository that contains `path`."""
    root = _root(path)
    try:
        commit = _git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}").strip()
    except _GitFailed:
        raise GitError(
            "the git repository has no commit yet",
            hint="commit your code first: git add -A && git commit -m 'first version'",
        ) from None
    try:
        branch = _git(root, "symbolic-ref", "-q", "--short", "HEAD").strip() or "(detached)"
    except _GitFailed:
        branch = "(detached)"
    try:
        # the working tree against HEAD, staged or not: exactly what the patch will carry. Submodules
        # are left out: a "Subproject commit" line does not apply to the snapshot's plain directory,
        # which holds each submodule at the commit the superproject records
        dirty = tuple(
            sorted(p for p in _git(root, "diff", "HEAD", "--name-only", NO_SUBMODULES).splitlines() if p)
        )
        changed = _git(root, "diff", "HEAD", "--name-only", "--ignore-submodules=untracked").splitlines()
        submodules = tuple(sorted(p for p in set(changed) - set(dirty) if p))
        untracked = tuple(sorted(_untracked(root)))
        patch = _git(root, "diff", "HEAD", "--binary", NO_SUBMODULES) if dirty else ""
    except _GitFailed as exc:
        raise _unreadable(root, exc) from None
    if patch and not patch.endswith("\n"):
        patch += "\n"
    return GitState(
        root=str(root.resolve()),
        commit=commit,
        branch=branch,
        dirty_files=dirty,
        untracked_files=untracked,
        patch=patch,
        dirty_submodules=submodules,
    )


def require_clean(state: GitState, allow_dirty: bool) -> None:
    """Refuse a dirty tree unless the user allowed it (then the patch is saved and applied)."""
    if state.dirty and not allow_dirty:
        shown = ", ".join(state.dirty_files[:10]) + (" ..." if len(state.dirty_files) > 10 else "")
        raise GitError(
            f"uncommitted changes in {len(state.dirty_files)} file(s): {shown}",
            hint="commit them (git commit -am '...'), or pass --allow-dirty to record them as a patch",
        )
