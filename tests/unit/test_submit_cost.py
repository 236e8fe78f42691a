"""The fixed cost of one submit (issue 13), with every promise kept: env.json lists the same packages as
`importlib.metadata` says, read faster; the git state read by git's plumbing is what GitPython reported;
the job wrapper makes the run's working directory itself, exactly as command.sh would have."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git as gitpython
import pytest

from clusterrun.errors import GitError
from clusterrun.execution import envinfo, envprobe, jobrun
from clusterrun.inputs import gitstate, workdir
from clusterrun.scheduler.base import JobRef
from clusterrun.scheduler.local import LocalScheduler
from tests.helpers import cli, make_project, manifest, only_run

GIT_ID = ["-c", "user.email=t@t", "-c", "user.name=t"]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


# ------------------------------------------------------------------------------------------ packages


def _packages_as_before() -> dict[str, Any]:
    """What env.json listed before (every distribution's metadata through the e-mail parser)."""
    found: dict[str, Any] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found[str(name).lower()] = dist.version
    return dict(sorted(found.items()))


def test_packages_are_what_importlib_metadata_reports() -> None:
    listed = envinfo.packages()
    assert listed == _packages_as_before()
    assert listed["pydantic"] == importlib.metadata.version("pydantic")
    assert envprobe.packages() == listed  # the job's probe reads them the same way


def test_only_the_metadata_header_is_read() -> None:
    text = (
        "Metadata-Version: 2.1\nname: Some-Pkg\nSummary: x\nVERSION: 1.2.3\nName: second\n"
        "\nName: in-the-description\nVersion: 9\n"
    )
    assert envprobe._name_version(text) == ("Some-Pkg", "1.2.3")
    assert envprobe._name_version("Metadata-Version: 2.1\nName: nover\n\nVersion: 1\n") == ("nover", None)
    assert envprobe._name_version("") == (None, None)


# ------------------------------------------------------------------------------------------ gitstate


def _as_gitpython_saw(path: Path) -> dict[str, Any]:
    """The state as the GitPython-based capture read it (the reference the plumbing must match)."""
    repo = gitpython.Repo(path, search_parent_directories=True)
    dirty = tuple(
        sorted(p for p in repo.git.diff("HEAD", "--name-only", gitstate.NO_SUBMODULES).splitlines() if p)
    )
    return {
        "root": str(Path(str(repo.working_tree_dir)).resolve()),
        "commit": repo.head.commit.hexsha,
        "branch": "(detached)" if repo.head.is_detached else repo.active_branch.name,
        "dirty_files": dirty,
        "untracked_files": tuple(sorted(repo.untracked_files)),
        "patch": repo.git.diff("HEAD", "--binary", gitstate.NO_SUBMODULES) + "\n" if dirty else "",
    }


def _captured(path: Path) -> dict[str, Any]:
    state = gitstate.capture(path)
    return {
        "root": state.root,
        "commit": state.commit,
        "branch": state.branch,
        "dirty_files": state.dirty_files,
        "untracked_files": state.untracked_files,
        "patch": state.patch,
    }


@pytest.fixture
def tricky(tmp_path: Path) -> Path:
    """A repository on a branch with a slash, with names git quotes (spaces, UTF-8, a tab)."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text("print('v1')\n")
    (root / "pkg" / "módulo con espacio.py").write_text("A = 1\n")
    (root / "old name.txt").write_text("renamed later\n" * 20)
    (root / "blob.bin").write_bytes(bytes(range(256)))
    _git(root, "init", "-q", "-b", "feature/fast-submit")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    return root


def test_clean_state_matches_gitpython_from_a_subdirectory(tricky: Path) -> None:
    assert _captured(tricky / "pkg") == _as_gitpython_saw(tricky / "pkg")
    state = gitstate.capture(tricky / "pkg")
    assert state.branch == "feature/fast-submit" and not state.dirty and state.root == str(tricky.resolve())


def test_dirty_state_matches_gitpython(tricky: Path) -> None:
    (tricky / "train.py").write_text("print('v2')\n")
    (tricky / "blob.bin").write_bytes(bytes(range(255, -1, -1)))
    (tricky / "pkg" / "módulo con espacio.py").unlink()
    _git(tricky, "mv", "old name.txt", "new name.txt")  # a staged rename
    (tricky / "untracked dir" / "deep").mkdir(parents=True)
    (tricky / "untracked dir" / "deep" / "ñ\tx.txt").write_text("scratch\n")
    (tricky / "notes.txt").write_text("scratch\n")
    assert _captured(tricky) == _as_gitpython_saw(tricky)
    state = gitstate.capture(tricky)
    assert {"train.py", "blob.bin", "new name.txt"} <= set(state.dirty_files)  # git diff's names, as before
    assert state.untracked_files == ("notes.txt", "untracked dir/deep/ñ\tx.txt")
    assert "GIT binary patch" in state.patch and state.patch.endswith("\n")


def test_detached_head_matches_gitpython(tricky: Path) -> None:
    _git(tricky, "checkout", "-q", "--detach")
    assert _captured(tricky) == _as_gitpython_saw(tricky)
    assert gitstate.capture(tricky).branch == "(detached)"


def test_inside_the_git_directory_is_not_a_working_tree(tricky: Path) -> None:
    with pytest.raises(GitError, match="not a working tree") as info:
        gitstate.capture(tricky / ".git")
    assert info.value.exit_status == 3


def test_a_missing_path_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        gitstate.capture(tmp_path / "nowhere")


def test_git_not_installed_is_one_error_with_a_hint(
    tricky: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(GitError, match="git is not installed") as info:
        gitstate.capture(tricky)
    assert "install git" in info.value.hint and info.value.exit_status == 3


# ---------------------------------------------------------------------------- the job's working copy


def _dry_run(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "proj", {"data/input.csv": "x\n1\n"})
    result = cli(["submit", "configs/quickstart.yaml", "--dry-run", "--skip-smoke", "test"], project)
    assert result.returncode == 0, result.stderr
    return only_run(project)


def test_the_wrapper_makes_the_working_directory_command_sh_would_make(tmp_path: Path) -> None:
    run = _dry_run(tmp_path)
    assert not (run / workdir.NAME).exists()
    jobrun._make_workdir(run)
    snapshot = Path(manifest(run)["snapshot"]["path"])
    made = run / workdir.NAME
    train = Path("examples/quickstart/train.py")
    assert (made / train).stat().st_ino == (snapshot / train).stat().st_ino  # a hard link, not a copy
    assert workdir.check(made).modified_in_place == []
    # command.sh then finds it and leaves it as it is (a requeued attempt keeps it the same way)
    assert f"if [ ! -d {made} ]" in (run / "command.sh").read_text()
    marker = made / "created-by-the-job"
    marker.write_text("kept\n")
    jobrun._make_workdir(run)
    assert marker.read_text() == "kept\n"


def test_a_snapshot_outside_the_registry_is_left_to_command_sh(tmp_path: Path) -> None:
    run = _dry_run(tmp_path)
    data = manifest(run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data["snapshot"]["path"] = str(elsewhere)
    (run / "manifest.json").write_text(json.dumps(data))
    jobrun._make_workdir(run)
    assert not (run / workdir.NAME).exists()


def test_a_tainted_snapshot_is_left_to_command_sh_to_refuse(tmp_path: Path) -> None:
    run = _dry_run(tmp_path)
    snapshot = Path(manifest(run)["snapshot"]["path"])
    (snapshot / workdir.TAINT).write_text("a test\n")
    try:
        jobrun._make_workdir(run)  # no exception: command.sh says why, in stderr.log
        assert not (run / workdir.NAME).exists()
    finally:
        (snapshot / workdir.TAINT).unlink()


# ------------------------------------------------------------------- the local backend's end of a job

# Stands in for submitit's local controller (its command line names submitit, as the real one's does):
# starts one task and, like the real one between its polls, has not yet noticed when the task ends.
CONTROLLER = """
import subprocess, sys, time  # submitit
task = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(task.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def controller() -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen([sys.executable, "-c", CONTROLLER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    with proc.stdout:
        task = int(proc.stdout.readline())
    yield proc, task
    proc.kill()
    proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.kill(task, signal.SIGKILL)


def _state(ref: JobRef) -> str:
    return LocalScheduler().poll([ref])[ref.job_id].state


def test_a_local_job_ends_when_its_wrapper_has_ended_with_its_exit_record(
    controller: tuple[subprocess.Popen[str], int], tmp_path: Path
) -> None:
    proc, task = controller
    ref = JobRef(job_id=str(proc.pid), folder=str(tmp_path), run_dir=str(tmp_path))
    assert _state(ref) == "running"  # no exit record yet
    record = {"returncode": 3, "seconds": 1.5, "host": "here", "requeued": False}
    (tmp_path / "exit.json").write_text(json.dumps({**record, "requeued": True}))
    assert _state(ref) == "running"  # an attempt that requeued its job: the job runs again
    (tmp_path / "exit.json").write_text(json.dumps(record))
    assert _state(ref) == "running"  # recorded, but the wrapper still runs (its last writes)
    os.kill(task, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and _state(ref) == "running":
        time.sleep(0.02)
    assert proc.poll() is None  # the controller has not noticed yet: the job is ended all the same
    status = LocalScheduler().poll([ref])[ref.job_id]
    assert (status.state, status.exit_code, status.node) == ("failed", 3, "here")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository another owner")
def test_a_repository_git_refuses_to_read_is_one_error_with_a_hint(tricky: Path) -> None:
    for path in [tricky, *tricky.rglob("*")]:
        os.lchown(path, 65534, 65534)  # git >= 2.35.2: 'detected dubious ownership'
    with pytest.raises(GitError, match="git cannot read the repository") as info:
        gitstate.capture(tricky)
    assert "dubious ownership" in info.value.message and "\n" not in info.value.message
    assert "status" in info.value.hint and info.value.exit_status == 3
