"""scheduler/local_task.py: a local job's task runs submitit's own module, without importing numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.scheduler import local_task
from tests.helpers import REPO, cli, make_project, only_run

PROBE = """
import json, sys
print(json.dumps({"argv": sys.argv[1:], "numpy": "numpy" in sys.modules,
                  "submission": "submitit.core.submission" in sys.modules, "name": __name__}))
"""


def _run(args: list[str], tmp_path: Path, code: str = PROBE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "probe_module.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-u", "-m", "clusterrun.scheduler.local_task", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_runs_the_module_as_python_m_does_with_numpy_hidden_only_meanwhile(tmp_path: Path) -> None:
    pytest.importorskip("numpy")  # without numpy there is nothing to hide
    result = _run(["-u", "-m", "probe_module", "/some/folder", "x y"], tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {"argv": ["/some/folder", "x y"], "numpy": False, "submission": True, "name": "__main__"}
    # once submitit's module is imported, numpy is importable again (the placeholder is gone)
    again = _run(["-u", "-m", "probe_module"], tmp_path, "import numpy\nprint(numpy.__name__)\n")
    assert again.returncode == 0 and again.stdout.strip() == "numpy", again.stderr


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    result = _run(["-u", "probe_module"], tmp_path)
    assert result.returncode != 0 and "usage:" in result.stderr


def test_the_executor_command_is_submitits_with_this_module_in_front() -> None:
    assert local_task.PYTHON.endswith(" -u -m clusterrun.scheduler.local_task")
    assert local_task.PYTHON.split()[0].strip("'") == sys.executable


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the task's /proc entries")
def test_a_local_job_runs_through_it_and_its_task_never_loads_numpy(tmp_path: Path) -> None:
    """The job's command is a child of the task (the job wrapper's process): its command line names
    local_task and submitit's module, and no numpy library is mapped into it."""
    pytest.importorskip("numpy")
    config = "name: probe\ncommand: bash probe.sh\nresources: {time: '00:05:00', mem: 100M}\n"
    script = "tr '\\0' ' ' < /proc/$PPID/cmdline; echo\ngrep -c numpy /proc/$PPID/maps || true\n"
    project = make_project(tmp_path / "p", {"configs/probe.yaml": config, "probe.sh": script})
    result = cli(["submit", "configs/probe.yaml", "--backend", "local", "--wait"], project)
    assert result.returncode == 0, result.stderr
    cmdline, maps = (only_run(project) / "stdout.log").read_text().splitlines()[:2]
    assert "-m clusterrun.scheduler.local_task -u -m submitit.core._submit" in cmdline
    assert maps.strip() == "0"
