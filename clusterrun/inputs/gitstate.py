"""Capture the git state of the experiment's repository: commit, branch, dirty files, patch.

`git` itself answers (six plumbing commands, a few milliseconds each, five of them at once): importing
GitPython alone cost more than the whole capture, and every submit captures. GitPython is imported only
where a repository object is still wanted (`open_repo`, for reproduce).
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
COMMIT_OR_ALLOW = "commit them (git commit -am '...'), or pass --allow-dirty to record them as a patch"


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


def _start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """`git ARGS` started in `cwd`, in the C locale as GitPython ran it (`_output` reads it)."""
    env = dict(os.environ, LC_ALL="C", LANGUAGE="C")
    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed (no 'git' on PATH)",
            hint="install git: clusterrun records the exact code of every run",
        ) from None
    except NotADirectoryError:
        raise _not_a_repository(cwd) from None


def _output(process: subprocess.Popen[bytes]) -> str:
    """A started git's stdout, decoded as GitPython decoded it (UTF-8, undecodable bytes kept as
    surrogates). A failure raises _GitFailed."""
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise _GitFailed(process.returncode, stderr.decode("utf-8", "replace").strip())
    return stdout.decode("utf-8", "surrogateescape")


def _git(cwd: Path, *args: str) -> str:
    """`git ARGS` in `cwd`: its stdout (see _output)."""
    return _output(_start(cwd, *args))


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


def _untracked(output: str) -> list[str]:
    """`git status --porcelain -z --untracked-files=all`'s untracked paths ('?? ' entries), as
    GitPython's `untracked_files` lists them."""
    entries = output.split("\0")
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


def untracked_of(root: Path, paths: list[str]) -> list[str]:
    """Those of `paths` (relative to the working tree at `root`, existing) that hold no tracked file:
    what a run's snapshot (tracked files only) would not have. [] when git cannot say."""
    if not paths:
        return []
    try:
        listed = _git(root, "ls-files", "-z", "--", *paths).split("\0")
    except (_GitFailed, GitError):
        return []
    tracked = [entry for entry in listed if entry]
    return [p for p in paths if not any(t == p or t.startswith(p.rstrip("/") + "/") for t in tracked)]


def capture(path: Path) -> GitState:
    """Read commit, branch and changes of the repository that contains `path`."""
    root = _root(path)
    # the five questions below are independent: asked at once, answered in turn (one git's wait, not five)
    started = [
        _start(root, "rev-parse", "-q", "--verify", "HEAD^{commit}"),
        _start(root, "symbolic-ref", "-q", "--short", "HEAD"),
        # the working tree against HEAD, staged or not: exactly what the patch will carry. Submodules
        # are left out: a "Subproject commit" line does not apply to the snapshot's plain directory,
        # which holds each submodule at the commit the superproject records
        _start(root, "diff", "HEAD", "--name-only", NO_SUBMODULES),
        _start(root, "diff", "HEAD", "--name-only", "--ignore-submodules=untracked"),
        _start(root, "status", "--porcelain", "-z", "--untracked-files=all"),
    ]
    outputs: list[str | _GitFailed] = []
    for process in started:  # each read whole, so none is left running whatever happens
        try:
            outputs.append(_output(process))
        except _GitFailed as exc:
            outputs.append(exc)
    commit_out, branch_out, *changes = outputs
    if isinstance(commit_out, _GitFailed):
        raise GitError(
            "the git repository has no commit yet",
            hint="commit your code first: git add -A && git commit -m 'first version'",
        )
    commit = commit_out.strip()
    branch = "(detached)" if isinstance(branch_out, _GitFailed) else branch_out.strip() or "(detached)"
    for answer in changes:
        if isinstance(answer, _GitFailed):
            raise _unreadable(root, answer)
    dirty_out, changed_out, status_out = (str(answer) for answer in changes)
    try:
        dirty = tuple(sorted(p for p in dirty_out.splitlines() if p))
        changed = changed_out.splitlines()
        submodules = tuple(sorted(p for p in set(changed) - set(dirty) if p))
        untracked = tuple(sorted(_untracked(status_out)))
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


def committed_text(root: str, relative: str) -> str | None:
    """A file's text at HEAD (`relative` to the repository's top), or None when HEAD has no such file."""
    try:
        return _git(Path(root), "show", f"HEAD:{relative}")
    except (_GitFailed, GitError):
        return None


def require_clean(state: GitState, allow_dirty: bool, hint: str | None = None) -> None:
    """Refuse a dirty tree unless the user allowed it (then the patch is saved and applied). `hint`:
    the refusal's own (inputs/configedit.py's, when the submitted config is among the changes)."""
    if state.dirty and not allow_dirty:
        shown = ", ".join(state.dirty_files[:10]) + (" ..." if len(state.dirty_files) > 10 else "")
        raise GitError(
            f"uncommitted changes in {len(state.dirty_files)} file(s): {shown}",
            hint=hint
            or "commit them (git commit -am '...'), or pass --allow-dirty to record them as a patch",
        )
