"""Shared helpers for the tests: a real git project, and the CLI run as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GIT_ID = ["-c", "user.email=test@example.com", "-c", "user.name=clusterrun-test"]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return result.stdout


def make_project(root: Path, extra_files: dict[str, str] | None = None) -> Path:
    """A git repository holding the quickstart example and its config, committed."""
    (root / "examples" / "quickstart").mkdir(parents=True)
    (root / "configs").mkdir()
    shutil.copy(REPO / "examples" / "quickstart" / "train.py", root / "examples" / "quickstart" / "train.py")
    shutil.copy(REPO / "configs" / "examples" / "quickstart.yaml", root / "configs" / "quickstart.yaml")
    for rel, text in (extra_files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def committed(root: Path, files: dict[str, str]) -> Path:
    """A git repository at `root` holding `files` (path -> text), committed."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python -m clusterrun ARGS` in `cwd` (stdin closed, as in CI)."""
    return subprocess.run(
        [sys.executable, "-m", "clusterrun", *args],
        cwd=cwd,
        env=_cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def cli_started(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`python -m clusterrun ARGS` started in `cwd` with this checkout's code (as `cli`), its output piped:
    several at once (watchers)."""
    return subprocess.Popen(
        [sys.executable, "-m", "clusterrun", *args],
        cwd=cwd,
        env=_cli_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """The environment `cli` and `cli_started` run clusterrun in: this one, with this checkout's code
    (whichever checkout `pip install -e` pointed at last), no registry from the caller's, and `env`."""
    full_env = dict(os.environ)
    full_env.pop("CLUSTERRUN_RUNS_DIR", None)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full_env.update(env or {})
    return full_env


def only_run(project: Path) -> Path:
    runs = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    """clusterrun's own traceback starts a line; a user's, quoted by clusterrun, is indented."""
    for text in (result.stderr, result.stdout):
        assert not re.search(r"^Traceback", text, re.M), text
        assert "internal error" not in text, text


#: A run that sleeps `seconds` (0 in its smoke test): sweeps whose members end one after another.
NAP = """\
name: nap
command: sleep {seconds}
params: {seconds: 2}
smoke: {params: {seconds: 0}, timeout: 60}
resources: {time: "00:02:00", mem: 100M}
"""


def count_manifest_reads(monkeypatch: Any) -> list[str]:
    """The ids of the runs whose manifest is read (Run.load_manifest) from now on, in order."""
    from clusterrun.records.registry import Run

    reads: list[str] = []
    load = Run.load_manifest

    def counted(run: Run) -> object:
        reads.append(run.id)
        return load(run)

    monkeypatch.setattr(Run, "load_manifest", counted)
    return reads


#: The start of a job script that waits, up to 120 s, for the file $GATE the test makes (the smoke test
#: does not wait): what the test changes meanwhile (an edit, a commit) happens before the job goes on.
WAIT_FOR_GATE = """\
import os, sys, time
deadline = time.time() + 120
while not os.path.exists(os.environ["GATE"]) and os.environ.get("CLUSTERRUN_SMOKE") != "1":
    if time.time() > deadline:
        sys.exit("no gate")
    time.sleep(0.1)
"""


def require_torch() -> None:
    """Skip unless PyTorch is installed (fail under CI=true: scripts/test.sh installs it). Found, never
    imported: torch in the test process itself breaks tests that walk gc.get_objects()."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but PyTorch is not installed (scripts/test.sh installs it)")
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0, or run scripts/test.sh)")
