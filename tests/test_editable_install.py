"""The promise: later edits never reach a queued job, even when the checkout is on the interpreter's
import path. `pip install -e .` (the usual set-up of a src- or flat-layout project) and a `PYTHONPATH`
exported by a shell profile both put the checkout there, so `python scripts/run.py` imported the live
tree's package, not the run's copy: an edit made after the submission ran in the job (found by a user
trial: the job raised an exception that had been appended to the checkout after `submit` returned).

Each test submits a job that waits for a gate file, edits the package in the checkout while it waits,
opens the gate and checks which code the job ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.execution.codepath import shadowing_path
from tests.helpers import cli, git, make_project, only_run

# Waits for the test's gate, then imports the package (after the edit) and prints what it says.
RUN = """\
import os, sys, time
deadline = time.time() + 120
while not os.path.exists(os.environ["GATE"]) and os.environ.get("CLUSTERRUN_SMOKE") != "1":
    if time.time() > deadline:
        sys.exit("no gate")
    time.sleep(0.1)
import edpkg
print("VERSION", edpkg.version(), edpkg.__file__)
print("loss=1.0")
"""
SNAPSHOT = "def version():\n    return 'snapshot'\n"
LIVE = "def version():\n    return 'live edit'\n"
PYPROJECT = """\
[project]
name = "edpkg"
version = "0.1"
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"
"""
FLAT = PYPROJECT + '[tool.setuptools]\npackages = ["edpkg"]\n'
SRC = PYPROJECT + '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
CONFIG = "name: ed\ncommand: python scripts/run.py\nresources: {time: '00:05:00', mem: 500M}\n"


def _project(tmp_path: Path, package_dir: str, pyproject: str) -> Path:
    return make_project(
        tmp_path / "proj",
        {
            ".gitignore": ".venv/\n*.egg-info/\nbuild/\n",
            "pyproject.toml": pyproject,
            f"{package_dir}/edpkg/__init__.py": SNAPSHOT,
            "scripts/run.py": RUN,
            "configs/ed.yaml": CONFIG,
        },
    )


def _editable_venv(project: Path) -> dict[str, str]:
    """`pip install -e .` of the project into its own venv; the environment of a shell that activated it."""
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}


def _ran(project: Path, package_file: Path, env: dict[str, str], backend: str, gate: Path) -> str:
    """Submit, edit the package in the checkout while the job waits at the gate, open it, wait for the
    end: the job's stdout."""
    env = {**env, "GATE": str(gate)}
    result = cli(["submit", "configs/ed.yaml", "--backend", backend, "--yes", "--no-watch"], project, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    package_file.write_text(LIVE)  # the checkout changes after `submit` returned
    assert "edpkg/__init__.py" in git(project, "status", "--porcelain")
    gate.touch()
    run = only_run(project)
    watched = cli(["status", run.name, "--watch"], project, env=env, timeout=240)
    assert watched.returncode == 0, watched.stderr + watched.stdout
    return (run / "stdout.log").read_text()


def test_a_flat_layout_editable_install_does_not_bring_later_edits_into_the_job(tmp_path: Path) -> None:
    """setuptools' flat layout installs a finder (MAPPING edpkg -> the checkout's edpkg/), not a path."""
    project = _project(tmp_path, ".", FLAT)
    env = _editable_venv(project)
    stdout = _ran(project, project / "edpkg" / "__init__.py", env, "local", tmp_path / "gate")
    run = only_run(project)
    assert f"VERSION snapshot {run / 'work' / 'edpkg' / '__init__.py'}" in stdout, stdout
    # the smoke test imported the run's copy as well
    assert f"{run / 'smoke' / 'work' / 'edpkg'}" in (run / "smoke" / "stdout.log").read_text()


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_src_layout_editable_install_does_not_bring_later_edits_into_a_slurm_job(tmp_path: Path) -> None:
    """The src layout's editable install is a .pth line naming the checkout's src/."""
    project = _project(tmp_path, "src", SRC)
    env = _editable_venv(project)
    stdout = _ran(project, project / "src" / "edpkg" / "__init__.py", env, "slurm", tmp_path / "gate")
    run = only_run(project)
    assert f"VERSION snapshot {run / 'work' / 'src' / 'edpkg' / '__init__.py'}" in stdout, stdout


def test_a_pythonpath_into_the_checkout_does_not_bring_later_edits_into_the_job(tmp_path: Path) -> None:
    """A shell profile's `export PYTHONPATH=~/proj/lib` reaches the job too; no install at all."""
    project = _project(tmp_path, "lib", PYPROJECT)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(project / "lib"), os.environ.get("PYTHONPATH")]))}
    stdout = _ran(project, project / "lib" / "edpkg" / "__init__.py", env, "local", tmp_path / "gate")
    run = only_run(project)
    assert f"VERSION snapshot {run / 'work' / 'lib' / 'edpkg' / '__init__.py'}" in stdout, stdout


def test_shadowing_path_puts_the_copies_first_and_leaves_the_rest(tmp_path: Path) -> None:
    repo, work = tmp_path / "repo", tmp_path / "repo" / "runs" / "r1" / "work"
    site = Path("env", "lib", "python3", "site-packages")  # a venv committed with the code
    outside = tmp_path / "elsewhere"
    made = [repo / "src", repo / "tools", repo / ".venv" / "lib", repo / site, outside]
    for directory in [*made, work / "src", work / "tools", work / site]:
        directory.mkdir(parents=True)
    on_path = [repo / "src", outside, repo / ".venv" / "lib", work / "src", repo / "tools", repo / site]
    pythonpath = f"{outside}{os.pathsep}{repo / 'src'}"
    value = shadowing_path(str(repo), str(work), [str(p) for p in on_path], pythonpath)
    # the copies of src/ and tools/, then PYTHONPATH as it was; the venv (no copy, or installed packages)
    # and paths outside left
    expected = [work / "src", work / "tools", outside, repo / "src"]
    assert value.split(os.pathsep) == [str(p) for p in expected]
    # the checkout itself (a flat layout's parent) maps to the working directory
    assert shadowing_path(str(repo), str(work), [str(repo)], "") == str(work)
    # nothing of the checkout on the path: nothing to change
    assert shadowing_path(str(repo), str(work), [str(outside), str(work / "src")], "x") == ""
    # a symlinked checkout is the same checkout
    link = tmp_path / "link"
    link.symlink_to(repo)
    assert shadowing_path(str(link), str(work), [str(repo / "src")], "") == str(work / "src")
