"""reproduce and compare, on the real cluster: exact reproduction after the repository moved on,
divergence of a nondeterministic script, and hostile or unknown run ids."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from clusterrun.inputs.snapshot import snapshot_id
from tests.helpers import cli, git, make_project, manifest, no_traceback

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

NONDETERMINISTIC = """\
import json, os, random
value = random.SystemRandom().random()
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"score": value, "steps": 3}) + "\\n")
print("score", value)
"""


def _submit(project: Path, *args: str) -> str:
    result = cli(["submit", *args, "--backend", "slurm", "--wait", "--json"], project, timeout=300)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["run_id"])


def test_reproduce_after_the_repository_moved_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    git(project, "checkout", "-q", "-b", "experiment")
    train = project / "examples" / "quickstart" / "train.py"
    train.write_text(
        train.read_text().replace("true_b = [2.0, -3.0, 0.5], 1.0", "true_b = [2.0, -3.0, 0.5], 1.5")
    )
    git(project, "commit", "-qam", "a variant that only lives on this branch")
    original = _submit(project, "configs/quickstart.yaml", "params.steps=80")
    original_commit = manifest(project / "runs" / original)["git"]["commit"]
    # the repository moves on: the branch is deleted, its commit garbage-collected, main gains a commit,
    # and the working tree is dirty
    git(project, "checkout", "-q", "main")
    git(project, "branch", "-qD", "experiment")
    git(project, "reflog", "expire", "--expire=now", "--all")
    git(project, "gc", "-q", "--prune=now")
    gone = subprocess.run(["git", "cat-file", "-e", f"{original_commit}^{{commit}}"], cwd=project)
    assert gone.returncode != 0, "the original commit should be gone from the repository"
    train.write_text(train.read_text() + "\n# edited afterwards\n")
    (project / "NOTES.md").write_text("new file\n")
    git(project, "add", "NOTES.md")
    git(project, "commit", "-qm", "later work")
    train.write_text(train.read_text() + "\n# and uncommitted\n")

    result = cli(["reproduce", original, "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "REPRODUCED:" in result.stdout and "DIVERGED" not in result.stdout
    assert "loss" in result.stdout and "Not compared (metrics.ignore): time" in result.stdout
    assert "Output differences: none (1 file)" in result.stdout  # artifacts/model.json, byte for byte
    new_runs = [p for p in (project / "runs").glob("quickstart_*") if p.name != original]
    assert len(new_runs) == 1
    data = manifest(new_runs[0])
    assert data["reproduces"] == original and data["git"]["commit"] == original_commit
    assert data["snapshot"]["id"] == manifest(project / "runs" / original)["snapshot"]["id"]
    assert data["smoke"]["cached"] is False  # smoke-tested for real, the machine may have changed
    summary_a = json.loads((project / "runs" / original / "summary.json").read_text())
    summary_b = json.loads((new_runs[0] / "summary.json").read_text())
    assert summary_a["metrics"]["loss"] == summary_b["metrics"]["loss"]
    # the variant really ran: the branch's data differ from main's
    main_run = _submit(project, "configs/quickstart.yaml", "params.steps=80", "--allow-dirty")
    diverged = cli(["compare", original, main_run], project)
    # other code and config, not a reproduction: their metrics differ as expected, not DIVERGED
    assert diverged.returncode == 1
    assert "DIFFERENT: the runs' code differs (commit" in diverged.stdout
    assert "commit" in diverged.stdout and "patch" in diverged.stdout and "DIVERGED" not in diverged.stdout
    assert "METRIC" in diverged.stdout and "ORIGINAL" not in diverged.stdout  # A and B: neither reproduces


def test_nondeterministic_run_diverges(project: Path) -> None:
    (project / "noisy.py").write_text(NONDETERMINISTIC)
    (project / "configs" / "noisy.yaml").write_text("name: noisy\ncommand: python noisy.py\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "noisy")
    # said before it runs, and again where the reproduction differs (read from the code, never run)
    unseeded = "noisy.py line 2: random.SystemRandom() draws from the OS: no seed repeats it"
    dry = cli(["submit", "configs/noisy.yaml", "--backend", "slurm", "--dry-run"], project)
    assert (
        "the code draws random numbers without a seed, so its runs will not reproduce exactly: " + unseeded
        in (dry.stderr)
    ), dry.stderr
    original = _submit(project, "configs/noisy.yaml")
    result = cli(["reproduce", original, "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "DIVERGED: 1 of 2 metric(s) differ; largest: score" in result.stdout
    assert "Note: random numbers drawn without a seed, in the code both ran: " + unseeded in result.stdout
    no_traceback(result)
    loose = cli(["compare", original, original, "--json"], project)
    assert loose.returncode == 0 and json.loads(loose.stdout)["verdict"] == "REPRODUCED"


def test_hostile_and_unknown_ids_are_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside_20260101-000000"
    outside.mkdir()
    (outside / "manifest.json").write_text("{}")
    (project / "runs").mkdir()
    (project / "runs" / "link_20260101-000000").symlink_to(outside)
    for hostile in ["../outside_20260101-000000", str(outside), "link_20260101-000000", "..", ""]:
        result = cli(["reproduce", hostile, "--backend", "slurm"], project)
        assert result.returncode == 2, (hostile, result.stderr)
        no_traceback(result)
    unknown = cli(["reproduce", "quickstart_20990101-000000", "--backend", "slurm"], project)
    assert unknown.returncode == 2 and "no run 'quickstart_20990101-000000'" in unknown.stderr


def test_reproduce_without_snapshot_or_commit_is_a_clear_error(project: Path) -> None:
    original = _submit(project, "configs/quickstart.yaml", "params.steps=5")
    snapshot = Path(manifest(project / "runs" / original)["snapshot"]["path"])
    shutil.rmtree(snapshot)
    # the snapshot is rebuilt from git while the commit exists
    rebuilt = cli(["reproduce", original, "--backend", "slurm", "--json"], project)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (snapshot / "examples" / "quickstart" / "train.py").is_file()
    shutil.rmtree(snapshot)
    record = project / "runs" / original / "manifest.json"
    data = json.loads(record.read_text())
    data["git"]["commit"] = "f" * 40
    data["snapshot"]["id"] = snapshot_id("f" * 40, "")
    record.write_text(json.dumps(data))
    gone = cli(["reproduce", original, "--backend", "slurm"], project)
    assert gone.returncode == 3 and "is not in the repository" in gone.stderr
    no_traceback(gone)


UNSEEDED = """\
import json, os, random
os.makedirs("checkpoints", exist_ok=True)
weights = [random.random() for _ in range(4)]  # never seeded: different bytes every run
with open("checkpoints/last.json", "w") as f:
    json.dump(weights, f)
with open("summary.txt", "w") as f:
    f.write("done\\n")
print(f"loss={sum(weights) * 0:.4f}")  # a metric printed rounded: the same every run
"""


def test_matching_metrics_with_different_outputs_say_so(project: Path) -> None:
    """The verdict is the metrics' (REPRODUCED), but it does not hide that the runs wrote different bytes:
    the files that differ are listed and a note says how to make the program repeatable."""
    (project / "unseeded.py").write_text(UNSEEDED)
    config = "name: unseeded\ncommand: python unseeded.py\nmetrics: {patterns: {loss: 'loss=([0-9.]+)'}}\n"
    (project / "configs" / "unseeded.yaml").write_text(config)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "unseeded")
    original = _submit(project, "configs/unseeded.yaml")
    result = cli(["reproduce", original, "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "REPRODUCED: 1 metric(s) match exactly" in out
    assert "Output differences (1 of 2 files):\n  work/checkpoints/last.json: " in out  # bytes or size
    assert "work/summary.txt" not in out.split("Output differences")[1].split("Note:")[0]  # the same bytes
    assert "Note: the metrics match, but 1 of the 2 output files differ" in out and "$CLUSTERRUN_SEED" in out
    assert "unseeded.py line 3: random.random draws from Python's global generator, never seeded" in out
    again = [p.name for p in (project / "runs").glob("unseeded_*") if p.name != original]
    data = json.loads(cli(["compare", original, again[0], "--json"], project).stdout)
    assert data["verdict"] == "REPRODUCED" and data["outputs"]["files"] == 2
    assert [d["path"] for d in data["outputs"]["differ"]] == ["work/checkpoints/last.json"]
    shown = cli(["show", original], project).stdout
    assert "Seed: 42 (only as $CLUSTERRUN_SEED: the command has no {seed})" in shown


def test_a_local_run_is_reproduced_locally_and_a_dry_run_is_not_reproduced(project: Path) -> None:
    """The promise: reproduce re-runs the run as it ran. With SLURM here (sbatch on PATH, so `auto` means
    slurm), a run that ran on the local backend was reproduced as a SLURM job (`Environment differences:
    slurm node`); it is reproduced locally unless --backend says otherwise. And a dry run, which never ran,
    was submitted for real and compared as 'INCOMPLETE'; it is refused, with the submit that runs it."""
    original = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "--json"], project, timeout=300
    )
    assert original.returncode == 0, original.stderr
    run_id = json.loads(original.stdout)["run_id"]
    again = cli(["reproduce", run_id, "--wait", "--json"], project, timeout=300)
    assert again.returncode == 0, again.stderr
    verdict = json.loads(again.stdout)
    assert verdict["verdict"] == "REPRODUCED" and verdict["run_a"] == run_id
    assert manifest(project / "runs" / verdict["run_b"])["backend"] == "local"
    dry = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run", "--force", "--json"], project
    )
    assert dry.returncode == 0, dry.stderr
    refused = cli(["reproduce", json.loads(dry.stdout)["run_id"]], project)
    assert refused.returncode == 2, refused.stdout
    assert "is a dry run (--dry-run): it never ran, so there is nothing to reproduce" in refused.stderr
    assert "hint: run it: clusterrun submit configs/quickstart.yaml" in refused.stderr
    no_traceback(refused)
