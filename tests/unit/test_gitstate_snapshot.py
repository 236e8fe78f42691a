"""Git state capture and immutable code snapshots, against real git repositories in tmp_path."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from clusterrun import gitstate, snapshot
from clusterrun.errors import GitError
from clusterrun.runs import Registry

GIT_ID = ["-c", "user.email=t@t", "-c", "user.name=t"]


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config, and no GIT_DIR leaking in from the environment."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit_all(repo: Path, message: str = "commit") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text("print('v1')\n")
    (root / "pkg" / "model.py").write_text("SIZE = 1\n")
    (root / "data.bin").write_bytes(bytes(range(256)))
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial")
    return root


def read_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o222 == 0


# ----------------------------------------------------------------------------------------- gitstate


def test_clean_repo(repo: Path) -> None:
    state = gitstate.capture(repo)
    assert state.commit == git(repo, "rev-parse", "HEAD")
    assert len(state.commit) == 40
    assert state.branch == "main"
    assert not state.dirty
    assert state.dirty_files == ()
    assert state.untracked_files == ()
    assert state.patch == ""
    assert Path(state.root) == repo.resolve()


def test_capture_from_a_subdirectory_finds_the_root(repo: Path) -> None:
    state = gitstate.capture(repo / "pkg")
    assert Path(state.root) == repo.resolve()


def test_modified_tracked_file_is_dirty_with_a_patch(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    state = gitstate.capture(repo)
    assert state.dirty
    assert state.dirty_files == ("train.py",)
    assert "print('v2')" in state.patch
    assert "train.py" in state.patch
    record = state.as_record("git.patch")
    assert record["dirty"] is True and record["dirty_files"] == ["train.py"]
    assert record["patch_file"] == "git.patch"
    assert "patch" not in record


def test_staged_file_is_dirty(repo: Path) -> None:
    (repo / "pkg" / "model.py").write_text("SIZE = 2\n")
    (repo / "pkg" / "new.py").write_text("NEW = True\n")
    git(repo, "add", "pkg")
    state = gitstate.capture(repo)
    assert state.dirty_files == ("pkg/model.py", "pkg/new.py")
    assert "NEW = True" in state.patch
    assert state.untracked_files == ()


def test_deleted_file_is_dirty(repo: Path) -> None:
    (repo / "pkg" / "model.py").unlink()
    assert gitstate.capture(repo).dirty_files == ("pkg/model.py",)


def test_untracked_file_is_not_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("scratch\n")
    state = gitstate.capture(repo)
    assert state.untracked_files == ("notes.txt",)
    assert state.dirty_files == ()
    assert not state.dirty
    assert state.patch == ""


def test_detached_head(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print('v2')\n")
    commit_all(repo, "second")
    git(repo, "checkout", "-q", "--detach", first)
    state = gitstate.capture(repo)
    assert state.branch == "(detached)"
    assert state.commit == first


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError) as info:
        gitstate.capture(plain)
    assert "not inside a git repository" in info.value.message
    assert "git init" in info.value.hint
    assert info.value.exit_status == 3


def test_repository_without_commits(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    (empty / "a.py").write_text("x = 1\n")
    with pytest.raises(GitError, match="no commit"):
        gitstate.capture(empty)


def test_require_clean(repo: Path) -> None:
    gitstate.require_clean(gitstate.capture(repo), allow_dirty=False)  # clean: fine
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "pkg" / "model.py").write_text("SIZE = 3\n")
    state = gitstate.capture(repo)
    with pytest.raises(GitError) as info:
        gitstate.require_clean(state, allow_dirty=False)
    assert "2 file(s)" in info.value.message
    assert "train.py" in info.value.message and "pkg/model.py" in info.value.message
    assert "--allow-dirty" in info.value.hint
    gitstate.require_clean(state, allow_dirty=True)


def test_require_clean_truncates_a_long_list(repo: Path) -> None:
    state = gitstate.GitState(
        root=str(repo), commit="0" * 40, branch="main", dirty_files=tuple(f"f{i:02d}.py" for i in range(12))
    )
    with pytest.raises(GitError) as info:
        gitstate.require_clean(state, allow_dirty=False)
    assert "12 file(s)" in info.value.message
    assert "f09.py" in info.value.message and "f10.py" not in info.value.message
    assert info.value.message.endswith("...")


# ----------------------------------------------------------------------------------------- snapshot


def test_snapshot_holds_the_committed_content(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print('uncommitted')\n")  # not part of (commit, "")
    (repo / "untracked.py").write_text("x = 1\n")
    snap = snapshot.create(repo, commit, "", tmp_path / "registry")
    assert not snap.reused
    assert snap.path == tmp_path / "registry" / ".snapshots" / snap.id
    assert snap.id == snapshot.snapshot_id(commit, "")
    assert (snap.path / "train.py").read_text() == "print('v1')\n"
    assert (snap.path / "pkg" / "model.py").read_text() == "SIZE = 1\n"
    assert (snap.path / "data.bin").read_bytes() == bytes(range(256))
    assert not (snap.path / "untracked.py").exists()
    assert not (snap.path / ".git").exists()
    assert commit in (snap.path / ".clusterrun-snapshot").read_text()
    # no temporary directories left behind
    assert [p.name for p in snap.path.parent.iterdir()] == [snap.id]


def test_later_edits_do_not_change_the_snapshot(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    snap = snapshot.create(repo, commit, "", tmp_path / "registry")
    (repo / "train.py").write_text("print('v2')\n")
    commit_all(repo, "second")
    (repo / "pkg" / "model.py").unlink()
    assert (snap.path / "train.py").read_text() == "print('v1')\n"
    assert (snap.path / "pkg" / "model.py").read_text() == "SIZE = 1\n"


def test_same_commit_and_patch_reuses_the_snapshot(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    first = snapshot.create(repo, commit, "", tmp_path / "registry")
    again = snapshot.create(repo, commit, "", tmp_path / "registry")
    assert again.reused
    assert again.path == first.path and again.id == first.id
    (repo / "train.py").write_text("print('dirty')\n")
    patched = snapshot.create(repo, commit, gitstate.capture(repo).patch, tmp_path / "registry")
    assert not patched.reused
    assert patched.id != first.id


def test_snapshot_applies_the_patch(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('v2 dirty')\n")
    (repo / "pkg" / "new.py").write_text("NEW = True\n")
    git(repo, "add", "pkg/new.py")
    (repo / "data.bin").write_bytes(bytes(range(255, -1, -1)))
    (repo / "pkg" / "model.py").unlink()
    state = gitstate.capture(repo)
    snap = snapshot.create(repo, state.commit, state.patch, tmp_path / "registry")
    assert (snap.path / "train.py").read_text() == "print('v2 dirty')\n"
    assert (snap.path / "pkg" / "new.py").read_text() == "NEW = True\n"
    assert (snap.path / "data.bin").read_bytes() == bytes(range(255, -1, -1))
    assert not (snap.path / "pkg" / "model.py").exists()
    assert not (snap.path / ".clusterrun.patch").exists()
    # the working tree is untouched by snapshotting
    assert (repo / "train.py").read_text() == "print('v2 dirty')\n"


def test_patch_that_does_not_apply_is_a_git_error(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    bogus = (
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1 +1 @@\n-print('something else')\n+print('x')\n"
    )
    with pytest.raises(GitError, match="do not apply"):
        snapshot.create(repo, commit, bogus, tmp_path / "registry")
    root = tmp_path / "registry" / ".snapshots"
    assert list(root.iterdir()) == []  # the half-made snapshot is removed


def test_unknown_commit_is_a_git_error(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="cannot archive"):
        snapshot.create(repo, "f" * 40, "", tmp_path / "registry")


def test_snapshot_files_are_read_only(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    state = gitstate.capture(repo)
    snap = snapshot.create(repo, state.commit, state.patch, tmp_path / "registry")
    files = [p for p in snap.path.rglob("*") if p.is_file()]
    assert len(files) >= 4
    assert all(read_only(p) for p in files), [p for p in files if not read_only(p)]


def test_snapshot_inside_the_repos_own_registry(repo: Path) -> None:
    registry = Registry(repo / "runs")
    registry.ensure()
    (repo / "train.py").write_text("print('patched in place')\n")
    state = gitstate.capture(repo)
    assert state.untracked_files == ()  # runs/ is ignored by its own .gitignore
    snap = snapshot.create(Path(state.root), state.commit, state.patch, registry.root)
    assert (snap.path / "train.py").read_text() == "print('patched in place')\n"
    # applying the patch inside the repo's tree must not touch the repo's own files
    assert (repo / "train.py").read_text() == "print('patched in place')\n"
    git(repo, "checkout", "--", "train.py")
    assert git(repo, "status", "--porcelain") == ""
    assert gitstate.capture(repo).untracked_files == ()


def test_snapshot_inside_a_clean_repos_registry_keeps_it_clean(repo: Path) -> None:
    registry = Registry(repo / "runs")
    registry.ensure()
    state = gitstate.capture(repo)
    snapshot.create(Path(state.root), state.commit, "", registry.root)
    assert git(repo, "status", "--porcelain") == ""
    assert not gitstate.capture(repo).dirty


def test_staged_then_reverted_change_can_be_snapshotted(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "add", "train.py")
    (repo / "train.py").write_text("print('v1')\n")  # working tree equals HEAD again
    state = gitstate.capture(repo)
    snap = snapshot.create(repo, state.commit, state.patch, tmp_path / "registry")
    assert (snap.path / "train.py").read_text() == "print('v1')\n"


def test_committed_absolute_symlink_is_kept(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "datasets"
    target.mkdir()
    (repo / "data").symlink_to(target)
    commit = commit_all(repo, "link the data")
    snap = snapshot.create(repo, commit, "", tmp_path / "registry")
    assert os.readlink(snap.path / "data") == str(target)
