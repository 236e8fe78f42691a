"""What a run reads besides its tracked code, end to end with the real CLI: git submodules in the snapshot
(local backend and the real SLURM cluster), data that changed between a run and its reproduction, and
untracked data the command reads through a relative path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli, committed, git, make_project, manifest, no_traceback, only_run

USES_LIB = """\
import json, os
import mylib
from mylib.inner.inner import DEPTH
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"value": mylib.VALUE, "depth": DEPTH}) + "\\n")
print("value", mylib.VALUE, "depth", DEPTH)
"""

READS_DATA = """\
import json, os, sys
total = sum(float(x) for x in open(sys.argv[1]).read().split())
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"total": total}) + "\\n")
print("total", total)
"""


def project_with_submodule(tmp_path: Path) -> Path:
    """A project whose command imports `mylib`, a submodule that has a submodule of its own."""
    inner = committed(tmp_path / "inner-src", {"inner.py": "DEPTH = 2\n"})
    lib = committed(tmp_path / "mylib-src", {"__init__.py": "VALUE = 7\n"})
    git(lib, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "inner")
    git(lib, "commit", "-q", "-m", "inner")
    project = make_project(
        tmp_path / "proj",
        {
            "use_lib.py": USES_LIB,
            "configs/lib.yaml": "name: uselib\ncommand: python use_lib.py\nresources: {time: '00:05:00'}\n",
        },
    )
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "mylib")
    git(project, "-c", "protocol.file.allow=always", "submodule", "update", "--init", "--recursive", "-q")
    git(project, "commit", "-q", "-m", "mylib as a submodule")
    return project


def _check_submodule_run(project: Path, backend: str) -> None:
    result = cli(["submit", "configs/lib.yaml", "--backend", backend, "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    no_traceback(result)
    run = only_run(project)
    data = manifest(run)
    assert data["state"] == "completed"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["value"] == 7 and summary["metrics"]["depth"] == 2
    snapshot = Path(data["snapshot"]["path"])
    assert (snapshot / "mylib" / "__init__.py").is_file() and (
        snapshot / "mylib" / "inner" / "inner.py"
    ).is_file()
    assert data["git"]["dirty_submodules"] == []


def test_a_submodule_the_command_imports_is_in_the_snapshot(tmp_path: Path) -> None:
    _check_submodule_run(project_with_submodule(tmp_path), "local")


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_submodule_the_command_imports_is_in_the_snapshot_on_slurm(tmp_path: Path) -> None:
    _check_submodule_run(project_with_submodule(tmp_path), "slurm")


def test_a_dirty_submodule_is_named_and_its_changes_are_not_captured(tmp_path: Path) -> None:
    project = project_with_submodule(tmp_path)
    (project / "mylib" / "__init__.py").write_text("VALUE = 8\n")  # edited in the submodule's checkout
    result = cli(["submit", "configs/lib.yaml", "--backend", "local", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submodule(s) mylib differ from the commit the superproject records" in result.stderr
    run = only_run(project)
    assert manifest(run)["git"]["dirty_submodules"] == ["mylib"]
    assert json.loads((run / "summary.json").read_text())["metrics"]["value"] == 7  # the recorded commit


def test_reproduce_names_the_data_file_that_changed(tmp_path: Path) -> None:
    data_file = tmp_path / "datasets" / "train.txt"
    data_file.parent.mkdir()
    data_file.write_text("1 2 3\n")
    project = make_project(
        tmp_path / "proj",
        {
            "sum.py": READS_DATA,
            "configs/sum.yaml": "name: summer\ncommand: python sum.py {data.train}\n"
            f"data: {{train: {data_file}, split: all}}\n",
        },
    )
    first = cli(
        ["submit", "configs/sum.yaml", "--backend", "local", "--wait", "--json"], project, timeout=300
    )
    assert first.returncode == 0, first.stderr
    original = json.loads(first.stdout)["run_id"]
    fingerprint = manifest(project / "runs" / original)["data_fingerprints"]
    assert list(fingerprint) == ["train"] and fingerprint["train"]["hashed"] is True
    assert fingerprint["train"]["path"] == str(data_file.resolve())

    data_file.write_text("1 2 4\n")  # same size: only the content hash tells
    result = cli(["reproduce", original, "--wait", "--backend", "local"], project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert f"Data differences:\n  {data_file}: content changed since the original run" in result.stdout
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("DIVERGED: 1 of 1 metric(s) differ; largest: total")
    assert f"data differs: {data_file}: content changed since the original run" in verdict


def test_untracked_data_read_through_a_relative_path_is_explained(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "proj",
        {
            "sum.py": READS_DATA,
            ".gitignore": "data/\n",
            "configs/sum.yaml": "name: summer\ncommand: python sum.py data/train.csv\n",
        },
    )
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("1 2 3\n")  # gitignored: not in the snapshot
    result = cli(["submit", "configs/sum.yaml", "--backend", "local", "--json"], project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    # before the smoke test: the command names a path that the snapshot lacks
    assert (
        "data/train.csv (named in the command) exists in your checkout but not in the snapshot"
        in result.stderr
    )
    diagnosis = json.loads(result.stdout)["diagnosis"]
    assert diagnosis["category"] == "missing_file"
    assert diagnosis["fix"].startswith(
        "data/train.csv exists in your checkout but is not tracked by git, so it is not in the run's snapshot"
    )
    assert diagnosis["details"]["config_line"] == "data: {train_csv: data/train.csv}"
    notes = manifest(only_run(project))["snapshot_notes"]
    assert len(notes) == 1 and notes[0].startswith("data/train.csv (named in the command)")
    # the next step is the command that names it under data: (+: a key the config does not have)
    shown = cli(["show", only_run(project).name], project)
    again = "Next: clusterrun submit configs/sum.yaml +data.train_csv=data/train.csv\n"
    assert again in shown.stdout, shown.stdout
