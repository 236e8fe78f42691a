"""The promise: later edits never reach a queued job, even when the checkout is on the interpreter's
import path. `pip install -e .` (the usual set-up of a src- or flat-layout project) and a `PYTHONPATH`
exported by a shell profile both put the checkout there, so `python scripts/run.py` imported the live
tree's package, not the run's copy: an edit made after the submission ran in the job (found by a user
trial: the job raised an exception that had been appended to the checkout after `submit` returned).

Each test submits a job that waits for a gate file, edits the package in the checkout while it waits,
opens the gate and checks which code the job ran."""

from __future__ import annotations

import colorsys
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.execution.codepath import checkout_imports, make_shim
from tests.helpers import WAIT_FOR_GATE, cli, git, make_project, only_run

# Waits for the test's gate, then imports the package (after the edit) and prints what it says.
RUN = (
    WAIT_FOR_GATE
    + """\
import edpkg, colorsys
print("VERSION", edpkg.version(), os.path.realpath(edpkg.__file__))
print("STDLIB", os.path.realpath(colorsys.__file__))
print("loss=1.0")
"""
)
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


def _project(tmp_path: Path, package_dir: str, pyproject: str, decoy: bool = True) -> Path:
    files = {
        ".gitignore": ".venv/\n*.egg-info/\nbuild/\n",
        "pyproject.toml": pyproject,
        f"{package_dir}/edpkg/__init__.py": SNAPSHOT,
        "scripts/run.py": RUN,
        "configs/ed.yaml": CONFIG,
    }
    if decoy:  # a module named as one of the stdlib's, beside the package: never put in front of it
        files[f"{package_dir}/colorsys.py"] = "raise SystemExit('the checkout colorsys.py hid the stdlib')\n"
    return make_project(tmp_path / "proj", files)


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
    _stdlib_module(stdout)
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
    _stdlib_module(stdout)
    # `show` says which names the run imports from its copy instead of the checkout
    shown = cli(["show", run.name], project, env=env).stdout
    assert "(its own copy of the snapshot; edpkg imported from it, not from the checkout" in shown


def test_a_pythonpath_into_the_checkout_does_not_bring_later_edits_into_the_job(tmp_path: Path) -> None:
    """A shell profile's `export PYTHONPATH=~/proj/lib` reaches the job too; no install at all."""
    project = _project(tmp_path, "lib", PYPROJECT, decoy=False)  # (the user's PYTHONPATH puts it first)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(project / "lib"), os.environ.get("PYTHONPATH")]))}
    stdout = _ran(project, project / "lib" / "edpkg" / "__init__.py", env, "local", tmp_path / "gate")
    run = only_run(project)
    assert f"VERSION snapshot {run / 'work' / 'lib' / 'edpkg' / '__init__.py'}" in stdout, stdout


def _stdlib_module(stdout: str) -> None:
    """The job's `import colorsys` found the stdlib's, not the checkout's colorsys.py (which putting the
    copy of a whole checkout directory in front of the path would give: a flat layout's is the checkout;
    clusterrun itself, run as `python -m` from the checkout in these tests, never imports colorsys)."""
    line = next(line for line in stdout.splitlines() if line.startswith("STDLIB "))
    assert line == f"STDLIB {os.path.realpath(colorsys.__file__)}", stdout


def test_what_the_checkout_gives_the_import_path_is_linked_and_nothing_else(tmp_path: Path) -> None:
    """Each top-level name the interpreter would import from the checkout, and only those: a name an
    earlier directory of the path has (the stdlib's json, an installed package) stays where it was."""
    repo, work = tmp_path / "repo", tmp_path / "repo" / "runs" / "r1" / "work"
    site = tmp_path / "venv" / "lib" / "site-packages"  # an installed package, before the checkout
    for directory in (repo / "src" / "pkg", work / "src" / "pkg", site / "yaml", work / "tools"):
        directory.mkdir(parents=True)
    for tree in (repo, work):
        (tree / "src" / "yaml.py").write_text("")
        (tree / "src" / "json.py").write_text("")
        (tree / "src" / "only_here.py").write_text("")
        (tree / "flat.py").write_text("")
    (site / "yaml" / "__init__.py").write_text("")  # a regular package: it hides the checkout's yaml.py
    (repo / "src" / "not_in_git.py").write_text("")  # ignored by git: no copy
    (repo / "tools").mkdir()
    stdlib = os.path.dirname(os.__file__)
    path = [stdlib, str(site), str(repo / "src"), str(repo / "tools"), str(work / "src")]
    found = checkout_imports(str(repo), str(work), path, [{"flat": str(repo / "flat.py")}])
    assert found == {
        "only_here": str(work / "src" / "only_here.py"),
        "pkg": str(work / "src" / "pkg"),
        "flat": str(work / "flat.py"),  # setuptools' finder maps it: no directory on the path has it
    }
    # a symlinked checkout is the same checkout; nothing of the checkout on the path: nothing
    link = tmp_path / "link"
    link.symlink_to(repo)
    assert set(checkout_imports(str(link), str(work), [str(repo / "src")], [])) == {
        "json", "only_here", "pkg", "yaml",
    }  # fmt: skip
    assert checkout_imports(str(repo), str(work), [stdlib, str(work / "src")], []) == {}
    # a namespace portion earlier on the path (hatchling's editable install leaves site-packages/pkg/data)
    # does not hide the checkout's regular package: Python takes the regular one, wherever it is
    (site / "pkg" / "data").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text("")
    (work / "src" / "pkg" / "__init__.py").write_text("")
    assert "pkg" in checkout_imports(str(repo), str(work), [str(site), str(repo / "src")], [])


def _shim_many_times(shim: str, links: dict[str, str], times: int) -> None:
    for _ in range(times):
        make_shim(shim, links)


def test_every_rank_makes_the_same_links_at_once_without_failing_or_a_gap(tmp_path: Path) -> None:
    """Each rank of a multi-rank job (launcher srun) runs command.sh, so its probe, at the same time: no
    rank may fail on another's link, and no link may be missing while another rank imports."""
    work = tmp_path / "work"
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "src" / "mod.py").write_text("")
    links = {"pkg": str(work / "src" / "pkg"), "mod": str(work / "src" / "mod.py")}
    shim = tmp_path / "run" / ".imports"
    make_shim(str(shim), links)
    (shim / "stale").symlink_to(work)  # a name an earlier attempt linked, which none wants now
    ranks = [
        multiprocessing.get_context("fork").Process(target=_shim_many_times, args=(str(shim), links, 200))
        for _ in range(4)
    ]
    for rank in ranks:
        rank.start()
    for _ in range(400):  # meanwhile, what an import would see: every link there, pointing right
        assert os.readlink(shim / "pkg") == links["pkg"] and os.readlink(shim / "mod.py") == links["mod"]
    for rank in ranks:
        rank.join(60)
        assert rank.exitcode == 0
    assert sorted(os.listdir(shim)) == ["mod.py", "pkg"]
    # a checkout changed between attempts: the link follows it; nothing from the checkout: no links
    (work / "lib" / "pkg").mkdir(parents=True)
    make_shim(str(shim), {"pkg": str(work / "lib" / "pkg")})
    assert os.listdir(shim) == ["pkg"] and os.readlink(shim / "pkg") == str(work / "lib" / "pkg")
    make_shim(str(shim), {})
    assert os.listdir(shim) == []
    make_shim(str(tmp_path / "never"), {})
    assert not (tmp_path / "never").exists()


def test_a_probe_that_fails_says_so_on_the_jobs_stderr_and_lets_it_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never silent (the job would import the checkout as it is, the very thing it is there to stop),
    never fatal (the job runs with the path it had)."""
    from clusterrun.execution import codepath

    blocked = tmp_path / "file"
    blocked.write_text("")  # .imports cannot be made under a file
    repo = tmp_path / "repo"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "runs" / "r" / "work" / "src" / "pkg").mkdir(parents=True)
    sys.path.insert(0, str(repo / "src"))
    try:
        code = codepath.main([str(repo), str(repo / "runs" / "r" / "work"), str(blocked / ".imports")])
    finally:
        sys.path.remove(str(repo / "src"))
    out = capsys.readouterr()
    assert code == 0 and out.out == ""
    assert out.err.startswith("clusterrun: could not tell what this interpreter imports from the checkout")
