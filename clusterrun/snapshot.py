"""Immutable, content-addressed copies of the code a run executes.

A snapshot is the tracked tree at a commit, plus the dirty patch when there is one, stored under
`<registry>/.snapshots/<id>/` with `id = sha256(commit, patch)`. Identical code shares one snapshot;
a queued or reproduced job never sees later edits, checkouts or deleted branches.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from clusterrun.errors import GitError

SNAPSHOT_DIR = ".snapshots"
MARKER = ".clusterrun-snapshot"  # written last: a snapshot without it is incomplete


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    reused: bool


def snapshot_id(commit: str, patch: str) -> str:
    digest = hashlib.sha256(commit.encode() + b"\0" + patch.encode())
    return digest.hexdigest()[:20]


def create(repo_root: Path, commit: str, patch: str, registry: Path) -> Snapshot:
    """Materialise the snapshot for (commit, patch), or return the existing one."""
    sid = snapshot_id(commit, patch)
    root = registry / SNAPSHOT_DIR
    final = root / sid
    if (final / MARKER).is_file():
        return Snapshot(sid, final, reused=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{sid}-", dir=root))
    try:
        _extract_commit(repo_root, commit, tmp)
        if patch:
            _apply_patch(tmp, patch, ceiling=root)
        (tmp / MARKER).write_text(f"commit {commit}\nsnapshot {sid}\n")
        _make_read_only(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if (final / MARKER).is_file():  # a concurrent submit made it first
                _remove(tmp)
                return Snapshot(sid, final, reused=True)
            raise
    except BaseException:
        _remove(tmp)
        raise
    return Snapshot(sid, final, reused=False)


def _extract_commit(repo_root: Path, commit: str, dest: Path) -> None:
    repo = git.Repo(repo_root)
    buffer = io.BytesIO()
    try:
        repo.archive(buffer, treeish=commit, format="tar")
    except git.GitCommandError as exc:
        raise GitError(f"cannot archive commit {commit[:12]}: {exc.stderr.strip()}") from None
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        if hasattr(tarfile, "tar_filter"):  # Python >= 3.10.12 / 3.11.4
            # 'tar', not 'data': committed symlinks such as data -> /scratch/datasets must survive
            tar.extractall(dest, filter="tar")
        else:  # pragma: no cover - old patch releases; git archive output is trusted
            tar.extractall(dest)


def _apply_patch(dest: Path, patch: str, ceiling: Path) -> None:
    patch_file = dest / ".clusterrun.patch"
    patch_file.write_text(patch)
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(ceiling.resolve()))
    try:
        git.Git(str(dest)).execute(
            ["git", "apply", "--binary", "--whitespace=nowarn", str(patch_file)], env=env
        )
    except git.GitCommandError as exc:
        raise GitError(
            f"the uncommitted changes do not apply to the snapshot: {str(exc.stderr).strip()}",
            hint="commit your changes and submit again",
        ) from None
    finally:
        patch_file.unlink()


def _make_read_only(tree: Path) -> None:
    """Files lose their write bits; directories stay writable so the tree can still be deleted."""
    for dirpath, _dirs, files in os.walk(tree):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
