"""Capture the git state of the experiment's repository: commit, branch, dirty files, patch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git

from clusterrun.errors import GitError

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


def open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(
            f"{path.resolve()} is not inside a git repository",
            hint="clusterrun records the exact code of every run: run 'git init && git add -A && "
            "git commit -m init' first",
        ) from None


def capture(path: Path) -> GitState:
    """Read commit, branch and changes of the repository that contains `path`."""
    repo = open_repo(path)
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        raise GitError(
            "the git repository has no commit yet",
            hint="commit your code first: git add -A && git commit -m 'first version'",
        ) from None
    branch = "(detached)" if repo.head.is_detached else repo.active_branch.name
    # the working tree against HEAD, staged or not: exactly what the patch will carry. Submodules are
    # left out: a "Subproject commit" line does not apply to the snapshot's plain directory, which
    # holds each submodule at the commit the superproject records
    dirty = tuple(sorted(p for p in repo.git.diff("HEAD", "--name-only", NO_SUBMODULES).splitlines() if p))
    changed = repo.git.diff("HEAD", "--name-only", "--ignore-submodules=untracked").splitlines()
    submodules = tuple(sorted(p for p in set(changed) - set(dirty) if p))
    untracked = tuple(sorted(repo.untracked_files))
    patch = repo.git.diff("HEAD", "--binary", NO_SUBMODULES) + "\n" if dirty else ""
    return GitState(
        root=str(Path(repo.working_tree_dir or path).resolve()),
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
