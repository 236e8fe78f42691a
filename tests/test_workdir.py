"""The promise: no run ever sees a file another run (or a smoke test) wrote, and the snapshot's digest
never changes. Each test tries to break it with an unmodified-looking training script."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.inputs import snapshot as snapshots
from clusterrun.inputs import workdir
from tests.helpers import cli, git, make_project, manifest, no_traceback

# Resumes from a checkpoint relative to its working directory, as many real training scripts do.
RESUME = """\
import argparse, json, os
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=5)
p.add_argument("--lr", type=float, default=0.1)
a = p.parse_args()
os.makedirs("out", exist_ok=True)
start = 0
if os.path.exists("out/ckpt.json"):
    start = json.load(open("out/ckpt.json"))["step"]
    print(f"resuming from step {start}")
loss = 1.0
for step in range(start, a.steps):
    loss *= 1 - a.lr
    with open("out/ckpt.json", "w") as f:
        json.dump({"step": step + 1, "lr": a.lr}, f)
print(f"start={start} loss={loss:.6f}")
"""
CONFIG = """\
name: resume
command: python resume.py --steps {steps} --lr {lr}
params: {steps: 5, lr: 0.1}
smoke: {params: {steps: 3}}
metrics: {patterns: {loss: "loss=([0-9.]+)", start: "start=([0-9]+)"}}
resources: {time: "00:05:00", mem: 500M}
"""
# Rewrites a tracked file in place (through the hard link, as root can even when it is read-only).
REWRITE = """\
with open("notes.txt", "a") as f:
    f.write("changed by a run\\n")
print("loss=1.0")
"""
READ = "print('NOTES', open('notes.txt').read().strip().replace(chr(10), '|'))\nprint('loss=1.0')\n"


def _project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "proj",
        {
            "resume.py": RESUME,
            "configs/resume.yaml": CONFIG,
            "rewrite.py": REWRITE,
            "read.py": READ,
            "notes.txt": "original\n",
            "configs/rewrite.yaml": "name: rewrite\ncommand: python rewrite.py\n",
            "configs/read.yaml": "name: read\ncommand: python read.py\n",
        },
    )


def _run_dir(project: Path, result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr + result.stdout
    data = json.loads(result.stdout)
    return Path(data["run_dir"]) if "run_dir" in data else Path(data["manifest"]["run_dir"])


def _submit(project: Path, *args: str, backend: str = "local") -> Path:
    result = cli(["submit", "configs/resume.yaml", "--backend", backend, "--wait", "--json", *args], project)
    return _run_dir(project, result)


def _summary(run: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((run / "summary.json").read_text())
    return data


def _snapshot_unchanged(run: Path) -> None:
    snap = manifest(run)["snapshot"]
    assert snap["digest"], snap
    assert snapshots.verify(Path(snap["path"])) == snap["digest"]
    assert not (Path(snap["path"]) / "out").exists()


def test_smoke_test_second_run_and_reproduction_never_resume(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _submit(project)
    assert "resuming" not in (first / "stdout.log").read_text()
    assert _summary(first)["metrics"] == {"loss": pytest.approx(0.9**5, abs=1e-6), "start": 0}
    # the smoke test ran 3 steps in its own working directory; the job did not see its checkpoint
    assert json.loads((first / "smoke" / "work" / "out" / "ckpt.json").read_text())["step"] == 3
    assert json.loads((first / "work" / "out" / "ckpt.json").read_text())["step"] == 5
    assert "work/out/ckpt.json" in _summary(first)["artifacts"]  # type: ignore[operator]
    _snapshot_unchanged(first)

    second = _submit(project, "--force")
    assert "resuming" not in (second / "stdout.log").read_text()
    assert manifest(second)["snapshot"]["id"] == manifest(first)["snapshot"]["id"]
    _snapshot_unchanged(second)

    reproduced = cli(["reproduce", first.name, "--backend", "local", "--wait"], project, timeout=300)
    assert reproduced.returncode == 0, reproduced.stderr + reproduced.stdout
    assert "REPRODUCED" in reproduced.stdout
    copies = [p for p in (project / "runs").glob("resume_*") if manifest(p).get("reproduces") == first.name]
    assert len(copies) == 1 and "resuming" not in (copies[0] / "stdout.log").read_text()
    assert _summary(copies[0])["metrics"] == _summary(first)["metrics"]
    _snapshot_unchanged(copies[0])


def test_sweep_members_keep_their_own_files(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = cli(
        [
            "submit",
            "configs/resume.yaml",
            "--backend",
            "local",
            "--wait",
            "--sweep",
            "params.lr=0.1,0.2,0.3,0.4",
        ],
        project,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    members = [p for p in (project / "runs").glob("resume_*") if (p / "manifest.json").is_file()]
    assert len(members) == 4
    lrs = sorted(json.loads((m / "work" / "out" / "ckpt.json").read_text())["lr"] for m in members)
    assert lrs == [0.1, 0.2, 0.3, 0.4]
    for member in members:
        assert "resuming" not in (member / "stdout.log").read_text()
    _snapshot_unchanged(members[0])


def test_a_run_that_rewrites_a_tracked_file_is_reported_and_the_snapshot_rebuilt(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = cli(
        ["submit", "configs/rewrite.yaml", "--backend", "local", "--wait", "--skip-smoke", "testing the job"],
        project,
    )
    assert result.returncode == 0, result.stderr
    assert "rewrote tracked file(s) in place: notes.txt" in result.stdout
    run = next(p for p in (project / "runs").glob("rewrite_*"))
    assert _summary(run)["modified_tracked_files"] == ["notes.txt"]
    snap = Path(manifest(run)["snapshot"]["path"])
    assert (snap / workdir.TAINT).exists()  # never reused as it is
    # the next run of the same commit gets a rebuilt snapshot: it reads the committed notes.txt
    reader = cli(["submit", "configs/read.yaml", "--backend", "local", "--wait"], project)
    assert reader.returncode == 0, reader.stderr
    read_run = next(p for p in (project / "runs").glob("read_*"))
    assert "NOTES original\n" in (read_run / "stdout.log").read_text()
    assert not (snap / workdir.TAINT).exists()
    assert snapshots.verify(snap) == manifest(run)["snapshot"]["digest"]
    # a smoke test that does the same is caught before the job is sent
    smoke = cli(["submit", "configs/rewrite.yaml", "--backend", "local", "--dry-run", "--force"], project)
    assert smoke.returncode == 0, smoke.stderr
    assert "the smoke test rewrote tracked file(s) in place: notes.txt" in smoke.stderr
    assert (snap / "notes.txt").read_text() == "original\n"
    no_traceback(smoke)


def test_status_and_command_sh_by_hand_from_anywhere(tmp_path: Path) -> None:
    """command.sh re-runs the job by hand: it makes the working directory when it is missing."""
    project = _project(tmp_path)
    result = cli(["submit", "configs/resume.yaml", "--backend", "local", "--dry-run", "--json"], project)
    run = _run_dir(project, result)
    assert not (run / "work").exists()  # a dry run starts no job
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        ["bash", str(run / "command.sh")], capture_output=True, text=True, cwd="/", env=env | _path_env()
    )
    assert out.returncode == 0, out.stderr
    assert "start=0" in out.stdout and (run / "work" / "out" / "ckpt.json").is_file()
    assert git(project, "status", "--porcelain") == ""


def _path_env() -> dict[str, str]:
    import os

    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_on_slurm_the_job_does_not_resume_from_the_smoke_test(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _submit(project, backend="slurm")
    assert manifest(first)["state"] == "completed"
    assert "resuming" not in (first / "stdout.log").read_text()
    assert _summary(first)["metrics"] == {"loss": pytest.approx(0.9**5, abs=1e-6), "start": 0}
    assert "work/out/ckpt.json" in _summary(first)["artifacts"]  # type: ignore[operator]
    # the job's own walk of its working copy as it ended (exit.json) is the summary's: what a walk finds
    recorded = json.loads((first / "exit.json").read_text())["outputs"]
    items, modified = workdir.run_outputs(first, first / "artifacts", first / "work")
    assert recorded == {"artifacts": workdir.artifacts_record(items, ""), "modified_tracked_files": modified}
    assert _summary(first)["artifacts_info"] == recorded["artifacts"]
    script = (first / "sbatch.sh").read_text()
    assert manifest(first)["snapshot"]["path"] not in script  # the job never runs in the snapshot
    _snapshot_unchanged(first)
    sweep = cli(
        [
            "submit",
            "configs/resume.yaml",
            "--backend",
            "slurm",
            "--wait",
            "--force",
            "--sweep",
            "params.lr=0.2,0.3",
        ],
        project,
        timeout=300,
    )
    assert sweep.returncode == 0, sweep.stderr + sweep.stdout
    members = [p for p in (project / "runs").glob("resume_*") if manifest(p).get("sweep")]
    assert sorted(json.loads((m / "work" / "out" / "ckpt.json").read_text())["lr"] for m in members) == [
        0.2,
        0.3,
    ]
    assert all("resuming" not in (m / "stdout.log").read_text() for m in members)


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_venv_of_the_checkout_activated_in_setup_is_what_the_job_runs(tmp_path: Path) -> None:
    """The README's venv advice, end to end on SLURM, with a venv that is not clusterrun's."""
    project = make_project(
        tmp_path / "proj",
        {
            ".gitignore": ".venv/\n",
            "which.py": "import sys\nprint('PREFIX', sys.prefix)\nprint('loss=1.0')\n",
            "configs/venv.yaml": (
                "name: venv\ncommand: python which.py\n"
                "setup: ['source \"$CLUSTERRUN_REPO_ROOT/.venv/bin/activate\"']\n"
            ),
        },
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    result = cli(["submit", "configs/venv.yaml", "--backend", "slurm", "--wait"], project, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    run = next(p for p in (project / "runs").glob("venv_*"))
    assert f"PREFIX {project / '.venv'}" in (run / "stdout.log").read_text()
    probe = json.loads((run / "python_env.json").read_text())  # written by the job, after setup
    assert probe["python"]["prefix"] == str(project / ".venv") and probe["python"]["venv"] is True
    assert "PREFIX" in (run / "smoke" / "stdout.log").read_text()


def test_untracked_data_named_under_data_is_linked_fingerprinted_and_compared(tmp_path: Path) -> None:
    """The mechanism the smoke-test diagnosis points to: relative data of the checkout, named under
    data:, is found by the command where it was in the checkout, and reproduce names it when it changed."""
    project = make_project(
        tmp_path / "proj",
        {
            ".gitignore": "data/\n",
            "count.py": (
                "import sys\nrows = open(sys.argv[1]).read().split()\n"
                "print('rows', len(rows))\nprint('total=' + str(sum(map(int, rows))))\n"
            ),
            "configs/count.yaml": (
                "name: count\ncommand: python count.py {data.train}\ndata: {train: data/train.txt}\n"
                "metrics: {patterns: {total: 'total=([0-9]+)'}}\n"
            ),
        },
    )
    (project / "data").mkdir()
    (project / "data" / "train.txt").write_text("1 2 3\n")
    first = cli(["submit", "configs/count.yaml", "--backend", "local", "--wait", "--json"], project)
    run = _run_dir(project, first)
    assert _summary(run)["metrics"] == {"total": 6}
    assert (run / "work" / "data" / "train.txt").is_symlink()
    assert _summary(run)["artifacts"] == []  # linked data is not an output of the run
    assert manifest(run)["workdir_links"] == {"data/train.txt": str(project / "data" / "train.txt")}
    assert manifest(run)["data_fingerprints"]["train"]["hashed"] is True
    (project / "data" / "train.txt").write_text("1 2 4\n")
    again = cli(["reproduce", run.name, "--backend", "local", "--wait"], project, timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "content changed since the original run" in again.stdout and "train.txt" in again.stdout
    no_traceback(again)


CWD_METRICS = """\
import json, sys
with open("metrics.jsonl", "a") as f:  # relative to its working directory, not $CLUSTERRUN_METRICS_FILE
    for step in range(1, int(sys.argv[1]) + 1):
        f.write(json.dumps({"step": step, "loss": 1.0 / step}) + "\\n")
"""


def test_metrics_written_in_the_working_directory_are_pointed_out_by_the_smoke_test(tmp_path: Path) -> None:
    """A script that writes metrics.jsonl where it runs would have no metrics, silently: the smoke test
    says so with the fix, and the fix (metrics.file: work/metrics.jsonl) finds them."""
    project = make_project(tmp_path / "proj")
    (project / "fit.py").write_text(CWD_METRICS)
    config = "name: fit\ncommand: python fit.py {steps}\nparams: {steps: 10}\nsmoke: {params: {steps: 2}}\n"
    (project / "configs" / "fit.yaml").write_text(config)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a script writing its metrics where it runs")
    result = cli(["submit", "configs/fit.yaml", "--backend", "local", "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: the smoke test wrote metrics.jsonl in its working directory (work/metrics.jsonl), but "
        "metrics are read from the run directory: set metrics.file: work/metrics.jsonl" in result.stderr
    )
    fixed = cli(
        [
            "submit",
            "configs/fit.yaml",
            "metrics.file=work/metrics.jsonl",
            "--backend",
            "local",
            "--wait",
            "--json",
        ],
        project,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "working directory" not in fixed.stderr
    assert json.loads(fixed.stdout)["summary"]["metrics"] == {"loss": 0.1, "step": 10}


PRINTS_METRICS = """\
import json
for step in range(1, 4):
    print(json.dumps({"step": step, "loss": 1.0 / step}))
print({"eval_loss": 0.25, "epoch": 3.0})  # a dict, as Hugging Face's Trainer prints it
"""


def test_metrics_printed_on_stdout_are_pointed_out_with_overrides_that_read_them(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    (project / "prints.py").write_text(PRINTS_METRICS)
    (project / "configs" / "prints.yaml").write_text("name: prints\ncommand: python prints.py\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a script printing its metrics")
    result = cli(["submit", "configs/prints.yaml", "--backend", "local", "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "printed metrics on stdout" in line)
    assert "(loss, eval_loss, step, epoch)" in warning and "$CLUSTERRUN_METRICS_FILE" in warning
    overrides = shlex.split(warning.split(" add ", 1)[1].split(" (one per metric)")[0])
    assert [o.split("=", 1)[0] for o in overrides] == ["metrics.patterns.loss", "metrics.patterns.eval_loss"]
    fixed = cli(
        ["submit", "configs/prints.yaml", *overrides, "--backend", "local", "--wait", "--json"], project
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "printed metrics on stdout" not in fixed.stderr  # patterns given: nothing to point out
    assert json.loads(fixed.stdout)["summary"]["metrics"] == {"eval_loss": 0.25, "loss": 1.0 / 3}
