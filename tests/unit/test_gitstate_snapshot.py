"""Git state capture and immutable code snapshots, against real git repositories in tmp_path."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from clusterrun.errors import GitError
from clusterrun.inputs import gitstate, snapshot
from clusterrun.inputs.workdir import GIT_VIEW
from clusterrun.records.registry import Registry

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
    # the code; not the git view beside it, whose index git refreshes (a job's `git status`)
    files = [p for p in snap.path.rglob("*") if p.is_file() and GIT_VIEW not in p.parts]
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


# --------------------------------------------------------------------------------------- submodules


def _library(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    lib = tmp_path / name
    lib.mkdir()
    for rel, text in files.items():
        (lib / rel).parent.mkdir(parents=True, exist_ok=True)
        (lib / rel).write_text(text)
    git(lib, "init", "-q", "-b", "main")
    commit_all(lib, f"{name} v1")
    return lib


def _add_submodule(repo: Path, source: Path, path: str) -> None:
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(source), path)


@pytest.fixture
def nested(repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """repo/sub (a submodule) holding sub/inner (its own submodule), all committed."""
    inner = _library(tmp_path, "inner-src", {"inner.py": "DEPTH = 2\n"})
    sub = _library(tmp_path, "sub-src", {"sublib/__init__.py": "VALUE = 1\n"})
    _add_submodule(sub, inner, "inner")
    commit_all(sub, "with inner")
    _add_submodule(repo, sub, "sub")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "update", "--init", "--recursive", "-q")
    commit_all(repo, "add sub")
    return repo, sub, inner


def test_snapshot_holds_submodules_recursively(nested: tuple[Path, Path, Path], tmp_path: Path) -> None:
    repo, sub, _inner = nested
    commit = git(repo, "rev-parse", "HEAD")
    snap = snapshot.create(repo, commit, "", tmp_path / "registry")
    assert (snap.path / "sub" / "sublib" / "__init__.py").read_text() == "VALUE = 1\n"
    assert (snap.path / "sub" / "inner" / "inner.py").read_text() == "DEPTH = 2\n"
    assert (snap.path / ".gitmodules").is_file()
    assert not (snap.path / "sub" / ".git").exists()
    # the submodule's later commits are not what the superproject records: the snapshot keeps its commit
    (sub / "sublib" / "__init__.py").write_text("VALUE = 2\n")
    commit_all(sub, "v2 upstream")
    checkout = repo / "sub"
    git(checkout, "-c", "protocol.file.allow=always", "pull", "-q", "origin", "main")
    assert (checkout / "sublib" / "__init__.py").read_text() == "VALUE = 2\n"
    again = snapshot.create(repo, commit, "", tmp_path / "registry2")
    assert (again.path / "sub" / "sublib" / "__init__.py").read_text() == "VALUE = 1\n"


def test_uninitialised_submodule_is_a_git_error_with_the_fix(nested: tuple[Path, Path, Path]) -> None:
    repo, _sub, _inner = nested
    clone = repo.parent / "clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))  # submodules are not initialised by a clone
    commit = git(clone, "rev-parse", "HEAD")
    with pytest.raises(GitError) as info:
        snapshot.create(clone, commit, "", repo.parent / "registry")
    assert "submodule sub is not initialised" in info.value.message
    assert info.value.hint == "git submodule update --init --recursive"
    assert list((repo.parent / "registry" / ".snapshots").iterdir()) == []


def test_submodule_commit_missing_from_its_checkout_is_a_git_error(
    nested: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    repo, _sub, _inner = nested
    fake = "0123456789abcdef0123456789abcdef01234567"
    git(repo, "update-index", "--cacheinfo", f"160000,{fake},sub")
    git(repo, "commit", "-q", "-m", "point sub at a commit nobody has")
    with pytest.raises(GitError) as info:
        snapshot.create(repo, git(repo, "rev-parse", "HEAD"), "", tmp_path / "registry")
    assert "commit 0123456789ab" in info.value.message and "sub" in info.value.message
    assert "submodule update --init --recursive" in info.value.hint


def test_dirty_submodule_is_not_in_the_patch_and_is_named(
    nested: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    repo, _sub, _inner = nested
    (repo / "sub" / "sublib" / "__init__.py").write_text("VALUE = 'edited in the submodule'\n")
    (repo / "train.py").write_text("print('v2')\n")
    state = gitstate.capture(repo)
    assert state.dirty_files == ("train.py",)
    assert state.dirty_submodules == ("sub",)
    assert "Subproject commit" not in state.patch
    assert state.as_record(None)["dirty_submodules"] == ["sub"]
    snap = snapshot.create(repo, state.commit, state.patch, tmp_path / "registry")  # applies cleanly
    assert (snap.path / "train.py").read_text() == "print('v2')\n"
    assert (snap.path / "sub" / "sublib" / "__init__.py").read_text() == "VALUE = 1\n"
    # only the submodule dirty: the superproject is clean, the submodule is still named
    git(repo, "checkout", "--", "train.py")
    only_sub = gitstate.capture(repo)
    assert not only_sub.dirty and only_sub.patch == "" and only_sub.dirty_submodules == ("sub",)


# ------------------------------------------------------------------------------------ snapshot notes


LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 123456\n"


def test_notes_name_lfs_pointers_and_untracked_paths_the_command_names(repo: Path, tmp_path: Path) -> None:
    (repo / "weights.bin").write_text(LFS.format("a" * 64))
    (repo / "big.bin").write_bytes(b"version https://git-lfs.github.com/spec/v1" + b"x" * 2000)  # not small
    (repo / ".gitignore").write_text("data/\n")
    commit = commit_all(repo, "lfs pointer")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x,y\n")
    (repo / "data" / "linked.csv").write_text("x,y\n")
    (repo / "conf").mkdir()
    (repo / "conf" / "x.yaml").write_text("a: 1\n")  # untracked
    (repo / "outputs").mkdir()  # where the command writes: made by each run itself, never a note to link it
    (repo / "ckpt").mkdir()
    snap = snapshot.create(repo, commit, "", tmp_path / "registry")
    argv = [
        "python",
        "train.py",  # tracked: in the snapshot
        "data/train.csv",
        "--config=conf/x.yaml",
        "--data",
        "./data/linked.csv",  # a data: value: linked into the working directory, no note
        "--out",
        str(tmp_path / "abs"),
        "missing/in/both.txt",
        "../outside",
        "--output-dir",
        "outputs",
        "--save_dir=ckpt",
    ]
    notes = snapshot.snapshot_notes(snap.path, repo, argv, ["data/linked.csv", 3])
    assert len(notes) == 3, notes
    assert (
        notes[0].startswith("1 file(s) in the snapshot are Git LFS pointer files")
        and "weights.bin" in notes[0]
    )
    assert "big.bin" not in notes[0] and "git lfs pull" in notes[0]
    assert notes[1].startswith("data/train.csv (named in the command) exists in your checkout but not in")
    assert "data: {train_csv: data/train.csv}" in notes[1]
    assert notes[2].startswith("conf/x.yaml (named in the command)")
    assert snapshot.snapshot_notes(snap.path, repo, ["python", "train.py"]) == notes[:1]


def test_sealing_lists_digests_and_write_protects_as_the_separate_passes_did(tmp_path: Path) -> None:
    """snapshot.seal (one pass) gives workdir.scan's listing and content_digest's digest, whatever the
    tree holds: nested, empty and multi-MB files (read in several chunks), executables, symlinks to a
    file and to a directory, the snapshot's own reserved files left out; every file loses its write
    bits and keeps its mtime."""
    from clusterrun.inputs import workdir

    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "deep.txt").write_text("deep\n")
    (tree / "empty").write_bytes(b"")
    (tree / "big.bin").write_bytes(os.urandom(3 * (1 << 20) + 17))
    (tree / "exact.bin").write_bytes(b"x" * (1 << 20))  # one read's size exactly
    (tree / "run.sh").write_text("#!/bin/sh\n")
    (tree / "run.sh").chmod(0o755)
    (tree / "to-file").symlink_to("a/b/deep.txt")
    (tree / "to-dir").symlink_to("a")
    (tree / workdir.MARKER).write_text("not listed\n")
    (tree / "a" / workdir.MARKER).write_text("listed: only the top level is reserved\n")
    pointer = snapshot.LFS_POINTER + b"\noid sha256:" + b"0" * 64 + b"\nsize 123456\n"
    (tree / "a" / "weights.pt").write_bytes(pointer)
    (tree / "notes.md").write_bytes(snapshot.LFS_POINTER + b"\n" + b"long text " * 200)  # too long for one
    scanned = workdir.scan(tree)
    expected_digest = snapshot.content_digest(tree, scanned)
    mtimes = {rel: os.lstat(tree / rel).st_mtime_ns for rel in scanned.files}
    walked = snapshot.lfs_pointers(tree)  # no listing yet: the tree is looked through
    assert walked == ["a/weights.pt"]

    sealed = snapshot.seal(tree)
    assert sealed.as_record() == {**scanned.as_record(), "digest": expected_digest, "lfs": walked}
    assert snapshot.content_digest(tree, sealed) == expected_digest  # read again after the chmods
    for rel in sealed.files:
        info = os.lstat(tree / rel)
        assert info.st_mode & 0o222 == 0, rel
        assert info.st_mtime_ns == mtimes[rel], rel
    assert os.stat(tree / "run.sh").st_mode & 0o111  # still executable
    assert os.lstat(tree / workdir.MARKER).st_mode & 0o200  # not the tree's: left as it was


def test_the_snapshot_is_the_commit_not_its_export(repo: Path, tmp_path: Path) -> None:
    """`git archive` honours export-ignore (files left out) and export-subst ($Format:...$ rewritten):
    the snapshot holds every file as committed all the same, with its mode, and its symlinks."""
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / "explore.txt").write_text("kept\n")
    (repo / "version.py").write_text('COMMIT = "$Format:%H$"\n')
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "current").symlink_to("pkg/model.py")
    (repo / ".gitattributes").write_text(
        "/notebooks export-ignore\nversion.py export-subst\n/current export-ignore\n"
    )
    commit = commit_all(repo, "attributes")
    snap = snapshot.create(repo, commit, "", tmp_path / "runs")
    assert (snap.path / "notebooks" / "explore.txt").read_text() == "kept\n"
    assert (snap.path / "version.py").read_text() == 'COMMIT = "$Format:%H$"\n'
    assert os.stat(snap.path / "run.sh").st_mode & stat.S_IXUSR
    assert os.readlink(snap.path / "current") == "pkg/model.py"
    assert (snap.path / "train.py").read_text() == "print('v1')\n"
    assert snapshot.verify(snap.path) == snap.digest  # listed and digested as it is


def test_git_in_a_runs_copy_is_the_runs_commit_not_the_checkouts(repo: Path, tmp_path: Path) -> None:
    """The snapshot's git view: HEAD is its commit however the checkout moved on, a dirty run's patch
    shows as its changes, and a working copy made from it (workdir.materialise) is that repository."""
    from clusterrun.inputs import workdir

    first = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print('patched')\n")
    state = gitstate.capture(repo)
    snap = snapshot.create(repo, state.commit, state.patch, repo / "runs")
    (repo / "train.py").write_text("print('v3')\n")
    later = commit_all(repo, "later")
    copy = repo / "runs" / "r1" / "work"
    workdir.materialise(snap.path, copy)
    assert (copy / ".git").read_text().startswith("gitdir: ../../.snapshots/")
    assert later != first
    assert git(copy / "pkg", "rev-parse", "HEAD") == first  # from a folder of the copy too
    assert git(copy, "rev-parse", "--show-toplevel") == str(copy)
    assert git(copy, "status", "--porcelain") == "M train.py"  # the run's patch, nothing else
    assert workdir.check(copy).artifacts == []  # the .git file is not the run's output


def test_the_git_view_names_the_checkouts_remotes_without_their_credentials(
    repo: Path, tmp_path: Path
) -> None:
    """W&B and MLflow record the repository's URL from the remote: the view has the checkout's remotes,
    and a token or password in a URL is never written (it would sit in the registry for anyone)."""
    git(
        repo,
        "remote",
        "add",
        "origin",
        "https://me:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git",
    )
    git(repo, "remote", "add", "mirror", "git@gitlab.com:o/r.git")
    snap = snapshot.create(repo, git(repo, "rev-parse", "HEAD"), "", tmp_path / "runs")
    view = snap.path / GIT_VIEW
    assert "ghp_" not in (view / "config").read_text() and "me:" not in (view / "config").read_text()
    remotes = subprocess.run(
        ["git", f"--git-dir={view}", "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert remotes == "https://github.com/o/r.git"
    assert git(repo, "--git-dir", str(view), "remote", "get-url", "mirror") == "git@gitlab.com:o/r.git"
