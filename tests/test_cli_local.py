"""End to end on the local backend (submitit's LocalExecutor), with real git and the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import cli, git, make_project, manifest, no_traceback, only_run

RUN_FILES = [
    "manifest.json",
    "config.yaml",
    "command.sh",
    "sbatch.sh",
    "env.json",
    "events.jsonl",
    "stdout.log",
    "stderr.log",
    "metrics.jsonl",
    "summary.json",
    "exit.json",
]


def test_quickstart_submit_wait_status(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--wait"], project)
    assert result.returncode == 0, result.stderr
    assert "=== EXPERIMENT MANIFEST ===" in result.stdout
    assert "=== EXPERIMENT RESULTS ===" in result.stdout and "Status: SUCCESS" in result.stdout
    run = only_run(project)
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    data = manifest(run)
    head = git(project, "rev-parse", "HEAD").strip()
    assert data["git"]["commit"] == head and data["git"]["dirty"] is False
    assert data["seed"] == 42 and data["config"]["seed"] == 42
    assert data["state"] == "completed" and data["backend"] == "local" and data["job_id"]
    assert [h["state"] for h in data["state_history"]][:3] == ["created", "smoke_passed", "submitting"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success"] is True and summary["exit_code"] == 0
    assert summary["metrics"]["step"] == 200 and summary["metrics"]["loss"] < 0.05
    assert summary["metrics"]["final_loss"] == pytest.approx(summary["metrics"]["loss"], abs=1e-6)
    assert summary["artifacts"] == ["artifacts/model.json"]
    assert "loss=" in (run / "stdout.log").read_text()
    assert (run / "smoke" / "stdout.log").read_text().count("step ") == 5  # smoke.params: steps=5
    # the registry never makes the tree dirty: a second submit is accepted straight away
    assert git(project, "status", "--porcelain") == ""
    status = cli(["status", "--json"], project)
    rows = json.loads(status.stdout)["runs"]
    assert [r["state"] for r in rows] == ["completed"]
    table = cli(["status"], project)
    assert data["run_id"] in table.stdout and "COMPLETED" in table.stdout


def test_second_submit_reuses_snapshot_and_smoke(project: Path) -> None:
    first = cli(["submit", "configs/quickstart.yaml", "--backend", "local"], project)
    assert first.returncode == 0, first.stderr
    second = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--json"], project)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["snapshot"]["reused"] is True
    assert data["smoke"]["cached"] is True and data["smoke"]["cached_from"]
    assert "passed before" in second.stderr
    changed = cli(
        ["submit", "configs/quickstart.yaml", "params.lr=0.05", "--backend", "local", "--json"], project
    )
    assert json.loads(changed.stdout)["smoke"]["cached"] is False  # another config: smoke-tested again
    cli(["status", "--watch"], project, timeout=120)


def test_later_edits_never_reach_the_queued_job(project: Path) -> None:
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--json",
            "params.steps=50",
            "--skip-smoke",
            "tested just before",
        ],
        project,
    )
    assert result.returncode == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    assert json.loads(result.stdout)["smoke"] == {"reason": "tested just before", "skipped": True}
    (project / "examples" / "quickstart" / "train.py").write_text("raise SystemExit('edited')\n")
    done = cli(["status", "--watch", run.name], project, timeout=120)
    assert done.returncode == 0
    assert manifest(run)["state"] == "completed"
    snapshot = Path(manifest(run)["snapshot"]["path"])
    assert "edited" not in (snapshot / "examples" / "quickstart" / "train.py").read_text()


def test_dirty_tree_refused_then_allowed_with_patch(project: Path) -> None:
    script = project / "examples" / "quickstart" / "train.py"
    script.write_text(script.read_text().replace('print(f"done:', 'print("PATCHED")\n    print(f"done:'))
    refused = cli(["submit", "configs/quickstart.yaml", "--backend", "local"], project)
    assert refused.returncode == 3
    assert "uncommitted changes" in refused.stderr and "examples/quickstart/train.py" in refused.stderr
    assert "--allow-dirty" in refused.stderr
    no_traceback(refused)
    assert not (project / "runs").exists() or not any((project / "runs").glob("quickstart_*"))
    allowed = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--allow-dirty", "--wait"], project
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "warning: uncommitted changes" in allowed.stderr
    run = only_run(project)
    data = manifest(run)
    assert data["git"]["dirty"] is True and data["git"]["patch_file"] == "git.patch"
    assert "PATCHED" in (run / "git.patch").read_text()
    assert "PATCHED" in (run / "stdout.log").read_text()  # the job ran the patched snapshot


def test_an_edited_config_is_refused_with_the_overrides_that_say_the_same(project: Path) -> None:
    """A value changed in the submitted config: the refusal names the command line that records the
    same run without a commit, and that line, run as given, is accepted with the edited value."""
    config = project / "configs" / "quickstart.yaml"
    config.write_text(config.read_text().replace("lr: 0.1", "lr: 0.05"))
    refused = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project)
    assert refused.returncode == 3
    no_traceback(refused)
    line = "git checkout configs/quickstart.yaml && clusterrun submit configs/quickstart.yaml params.lr=0.05"
    assert line in refused.stderr, refused.stderr
    git(project, "checkout", "configs/quickstart.yaml")
    again = cli(
        ["submit", "configs/quickstart.yaml", "params.lr=0.05", "--backend", "local", "--wait"], project
    )
    assert again.returncode == 0, again.stderr
    assert manifest(only_run(project))["config"]["params"]["lr"] == 0.05
    # a code change beside it: the general hint, naming the config's own way out
    config.write_text(config.read_text().replace("lr: 0.1", "lr: 0.05"))
    script = project / "examples" / "quickstart" / "train.py"
    script.write_text(script.read_text() + "\n# edited\n")
    both = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project)
    assert both.returncode == 3 and "configs/quickstart.yaml is the config you submit" in both.stderr


def test_an_untracked_config_is_not_warned_about_as_missing_from_the_snapshot(project: Path) -> None:
    """Each run records its config whole: the config's own absence from the commit loses nothing."""
    (project / "configs" / "mine.yaml").write_text((project / "configs" / "quickstart.yaml").read_text())
    (project / "notes.txt").write_text("untracked, and not the config\n")
    result = cli(["submit", "configs/mine.yaml", "--backend", "local", "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    assert "1 untracked file(s) are NOT in the snapshot: notes.txt" in result.stderr
    assert "mine.yaml" not in result.stderr.split("NOT in the snapshot")[1].splitlines()[0]


def test_a_breakpoint_left_in_the_code_stops_at_the_smoke_test_with_its_own_diagnosis(project: Path) -> None:
    """A `breakpoint()` left in a script: pdb finds no terminal and quits; the smoke test says what it is,
    where, and the two ways out, instead of 'unknown: bdb.BdbQuit'."""
    (project / "debug.py").write_text(
        "for s in range(5):\n    if s == 2:\n        breakpoint()\n    print(s)\n"
    )
    (project / "configs" / "debug.yaml").write_text("name: debug\ncommand: python debug.py\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a forgotten breakpoint")
    result = cli(["submit", "configs/debug.yaml", "--backend", "local"], project)
    assert result.returncode == 1 and "smoke test FAILED" in result.stderr
    assert "diagnosis: interactive:" in result.stderr and "debug.py line 4" in result.stderr, result.stderr
    no_traceback(result)
    fixed = cli(["submit", "configs/debug.yaml", "--backend", "local", "+env.PYTHONBREAKPOINT=0"], project)
    assert fixed.returncode == 0, fixed.stderr  # the fix it gives works


SPAWN_AT_IMPORT = """\
import multiprocessing as mp

def square(x):
    return x * x

with mp.get_context("spawn").Pool(2) as pool:  # no `if __name__ == "__main__":`
    print(sum(pool.map(square, range(10))))
"""


def test_workers_started_at_import_stop_the_smoke_test_early_with_the_fix(project: Path) -> None:
    """A spawn pool started at import never ends: each worker imports the script, dies starting its own,
    and is replaced forever. The smoke test stops it when its stderr shows that, rather than at its
    timeout, and the diagnosis names the fix, not 'smoke.timeout=...'."""
    (project / "pool.py").write_text(SPAWN_AT_IMPORT)
    config = "name: pool\ncommand: python pool.py\nsmoke: {timeout: 120}\n"
    (project / "configs" / "pool.yaml").write_text(config)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a pool at import")
    result = cli(["submit", "configs/pool.yaml", "--backend", "local"], project)
    assert result.returncode == 1 and "smoke test FAILED (stopped after" in result.stderr, result.stderr
    assert "its worker processes kept dying as they started" in result.stderr
    assert "diagnosis: spawn_at_import: smoke test stopped after" in result.stderr
    assert 'put the top-level code under `if __name__ == "__main__":`' in result.stderr
    assert "smoke.timeout=" not in result.stderr
    no_traceback(result)
    assert manifest(only_run(project))["smoke"]["stopped"].startswith("its worker processes kept dying")
    guarded = SPAWN_AT_IMPORT.replace("with mp", 'if __name__ == "__main__":\n  with mp').replace(
        "    print", "      print"
    )
    (project / "pool.py").write_text(guarded)
    git(project, "commit", "-qam", "guarded")
    fixed = cli(["submit", "configs/pool.yaml", "--backend", "local", "--wait"], project)
    assert fixed.returncode == 0, fixed.stderr  # the fix it gives works


def test_smoke_failure_submits_nothing(project: Path) -> None:
    (project / "configs" / "broken.yaml").write_text(
        "name: broken\ncommand: python -c 'import no_such_module_xyz'\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "broken config")
    result = cli(["submit", "configs/broken.yaml", "--backend", "local"], project)
    assert result.returncode == 1
    assert "smoke test FAILED" in result.stderr and "No module named 'no_such_module_xyz'" in result.stderr
    no_traceback(result)
    run = only_run(project)
    data = manifest(run)
    assert data["state"] == "smoke_failed" and data["job_id"] is None
    assert not (run / "scheduler").exists()
    assert "no_such_module_xyz" in (run / "smoke" / "stderr.log").read_text()


def test_a_sweeps_failed_smoke_test_names_the_values_it_ran_with(project: Path) -> None:
    """A sweep's smoke test runs each command shape once, with its first member's values: when those
    values are the cause (workers=0 for a pool), the refusal said nothing of which member failed."""
    (project / "configs" / "pool.yaml").write_text(
        "name: pool\ncommand: python -c 'import sys; sys.exit(int({workers}) == 0)'\nparams: {workers: 2}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "pool config")
    args = ["submit", "configs/pool.yaml", "--backend", "local", "--sweep", "params.workers=0,2"]
    result = cli(args, project)
    assert result.returncode == 1, result.stderr
    said = "smoke test FAILED (exited with code 1, with params.workers=0: a sweep's smoke test"
    assert said in result.stderr
    no_traceback(result)


def test_a_sweeps_failed_member_says_what_it_died_of_and_a_progress_bar_is_one_line(project: Path) -> None:
    """A diverged member's line in the sweep's table gave the category and the fix, not what the job
    said (`AssertionError: loss diverged`); a smoke test that failed after a progress bar (tqdm's
    carriage returns) showed hundreds of its states as 'the last lines of its stderr'."""
    (project / "configs" / "prog.yaml").write_text(
        "name: prog\ncommand: python prog.py {q}\nparams: {q: 1, lr: 0.5}\n"
    )
    (project / "prog.py").write_text(
        "import sys, time\nq = int(sys.argv[1])\n"
        "for i in range(300):\n"
        "    sys.stderr.write(f'\\rtraining: {i + 1}/300'); sys.stderr.flush()\n"
        "sys.stderr.write('\\n')\n"
        "if q == 2: raise RuntimeError('loss is nan at step 300')\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "progress bar")
    args = ["submit", "configs/prog.yaml", "--backend", "local", "--sweep", "params.q=1,2", "--wait"]
    result = cli(args, project, timeout=120)
    assert result.returncode == 1, result.stderr
    failed = next(x for x in result.stdout.splitlines() if x.startswith("Failed: "))
    assert "(diverged: RuntimeError: loss is nan at step 300) -> " in failed, failed
    assert "params.lr=0.05 (a tenth of 0.5)" in failed
    refused = cli(["submit", "configs/prog.yaml", "--backend", "local", "params.q=2"], project)
    assert refused.returncode == 1
    tail = refused.stderr.split("Last lines of its stderr:", 1)[1].split("diagnosis:", 1)[0]
    assert tail.count("training: ") == 1 and "training: 300/300" in tail, tail  # as a terminal shows it
    assert "RuntimeError: loss is nan at step 300" in tail
    no_traceback(refused)


def test_a_run_whose_loss_ended_as_nan_says_so_with_the_fix(project: Path) -> None:
    """A training that diverged without failing (exit 0, `loss=nan` printed) was 'SUCCESS, Key Metrics:
    (none)': the pattern's number group skipped nan. Now its metric is nan, and a warning gives the fix."""
    (project / "fit.py").write_text(
        "import sys\nlr = float(sys.argv[1])\nloss = 1.0\n"
        "for step in range(3):\n"
        "    loss = loss * (1 - lr) if lr < 1 else float('nan')\n"
        "    print(f'step {step} loss={loss:.4f}', flush=True)\n"
    )
    (project / "configs" / "fit.yaml").write_text(
        "name: fit\ncommand: python fit.py {lr}\nparams: {lr: 0.5}\n"
        "metrics: {patterns: {loss: 'loss=([0-9.eE+-]+)'}}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "fit")
    args = ["submit", "configs/fit.yaml", "--backend", "local", "--sweep", "params.lr=0.5,2.0", "--wait"]
    result = cli(args, project, timeout=120)
    assert result.returncode == 0, result.stderr
    row = next(x for x in result.stdout.splitlines() if x.strip().startswith("fit_") and " 2 " in x)
    assert row.split()[-2] == "nan", result.stdout  # the metric column says it, not '-'
    diverged = next(x for x in result.stdout.splitlines() if x.startswith("Diverged: "))
    assert "(loss=nan) -> a lower learning rate, params.lr=0.2 (a tenth of 2)" in diverged
    run_id = diverged.split()[1]
    shown = cli(["show", run_id], project)
    assert "Status: SUCCESS" in shown.stdout and "Key Metrics: loss=nan" in shown.stdout
    assert "Warning: the training diverged (loss=nan at the end) -> a lower learning rate" in shown.stdout
    # the next step is the command that makes the change: this member's config, its swept lr replaced
    assert "Next: clusterrun submit configs/fit.yaml params.lr=0.2\n" in shown.stdout, shown.stdout
    summary = json.loads(cli(["show", run_id, "--json"], project).stdout)["summary"]
    assert summary["metrics_non_finite"] == {"loss": "nan"} and "loss" not in summary["metrics"]
    listed = cli(["status"], project).stdout
    assert any(run_id in line and "loss=nan" in line for line in listed.splitlines()), listed


def test_a_sweep_ranked_by_an_accuracy_marks_the_highest_best(project: Path) -> None:
    """`sweep: {metric: val_acc}` with no mode was ranked 'min' (the config's default): the member with
    the lowest accuracy was 'Best'. A mode nobody gave now follows the metric's name."""
    (project / "configs" / "acc.yaml").write_text(
        "name: acc\ncommand: python -c 'print(\"val_acc=0.{q}\")'\nparams: {q: 1}\n"
        "metrics: {patterns: {val_acc: 'val_acc=([0-9.]+)'}}\n"
        "sweep: {grid: {params.q: [2, 7, 4]}, metric: val_acc}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "acc sweep")
    result = cli(["submit", "configs/acc.yaml", "--backend", "local", "--wait", "--json"], project)
    assert result.returncode == 0, result.stderr
    sweep_id = json.loads(result.stdout)["sweep_id"]
    view = json.loads(cli(["status", sweep_id, "--json"], project).stdout)
    assert view["metric"] == "val_acc" and view["mode"] == "max"
    best = next(r for r in view["members"] if r["best"])
    assert view["best"] == best["run_id"]
    assert best["values"] == {"params.q": 7} and best["metrics"]["val_acc"] == 0.7
    shown = cli(["status", sweep_id], project).stdout
    assert "ranked by val_acc (max)" in shown and f"Best: {best['run_id']}" in shown


def test_smoke_timeout_is_a_failure(project: Path) -> None:
    (project / "configs" / "slow.yaml").write_text(
        "name: slow\ncommand: python -c 'import time; time.sleep(60)'\nsmoke: {timeout: 1}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "slow config")
    result = cli(["submit", "configs/slow.yaml", "--backend", "local"], project, timeout=60)
    assert result.returncode == 1 and "timed out" in result.stderr
    smoke = manifest(only_run(project))["smoke"]
    assert smoke["timed_out"] is True and smoke["seconds"] < 10


def test_dry_run_submits_nothing(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    assert manifest(run)["state"] == "dry_run" and manifest(run)["job_id"] is None
    assert "=== EXPERIMENT MANIFEST ===" in result.stdout and "dry run" in result.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name: x\ncommand: [unclosed\n", "malformed YAML"),
        ("name: x\ncommand: python t.py\nresources: {mem: lots}\n", "resources.mem"),
        ("name: x\ncommand: python t.py\nresources: {time: '99:99'}\n", "resources.time"),
        ("name: x\ncommand: python t.py\nresourcez: {}\n", "unknown key 'resourcez'"),
        ("name: x\ncommand: python t.py {lr}\n", "no param 'lr'"),
        ("name: x\ncommand: python t.py\nresources: {nodes: two}\n", "resources.nodes"),
    ],
)
def test_bad_configs_exit_2_with_one_line(project: Path, content: str, needle: str) -> None:
    (project / "configs" / "bad.yaml").write_text(content)
    result = cli(["submit", "configs/bad.yaml", "--backend", "local"], project)
    assert result.returncode == 2, result.stderr
    no_traceback(result)
    error_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1 and needle in error_lines[0] and "bad.yaml" in error_lines[0]
    assert any(ln.startswith("hint:") for ln in result.stderr.splitlines())
    assert not (project / "runs").exists() or not any((project / "runs").glob("x_*"))


def test_bad_inputs_get_a_cause_and_a_hint(project: Path, tmp_path: Path) -> None:
    cases = [
        (["submit", "configs/missing.yaml"], 2, "does not exist"),
        (["submit", "configs/quickstart.yaml", "params.lrr=1", "--backend", "local"], 2, "+params.lrr=1"),
        (["submit", "configs/quickstart.yaml", "nonsense", "--backend", "local"], 2, "KEY=VALUE"),
        (["submit", "configs/quickstart.yaml", "--backend", "mars"], 2, "'mars' is not one of 'auto'"),
        (["status", "nope_20260101-000000"], 2, "no run"),
        (["status", "../../etc"], 2, "not a run id"),
    ]
    for args, code, needle in cases:
        result = cli(args, project)
        assert result.returncode == code, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)
        no_traceback(result)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    shutil.copy(project / "configs" / "quickstart.yaml", outside / "q.yaml")
    result = cli(["submit", "q.yaml", "--backend", "local"], outside)
    assert result.returncode == 3 and "not inside a git repository" in result.stderr
    no_traceback(result)


def test_unknown_run_id_suggests_close_ones(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--json", "--dry-run"], project)
    run_id = json.loads(result.stdout)["run_id"]
    typo = run_id[:-1] + ("0" if run_id[-1] != "0" else "1")
    missing = cli(["status", typo], project)
    assert missing.returncode == 2 and run_id in missing.stderr


def test_auto_backend_is_local_without_slurm_on_path(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ["python", "python3", "git", "bash", "mkdir", "env", "hostname", "date", "cat", "rm"]:
        # python is the interpreter running the tests: a pyenv shim on PATH would need pyenv there too
        found = sys.executable if tool.startswith("python") else shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    assert shutil.which("sbatch", path=str(bin_dir)) is None
    result = cli(
        ["submit", "configs/quickstart.yaml", "--wait", "--json"], project, env={"PATH": str(bin_dir)}
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "local" and data["summary"]["success"] is True


def test_secrets_never_reach_the_record(project: Path) -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    env = {"HF_TOKEN": secret, "WANDB_API_KEY": secret, "CLUSTERRUN_NOTE": f"https://me:{secret}@host"}
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project, env=env)
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    for path in run.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert os.environ.get("HF_TOKEN") != secret


def test_status_filters_by_name_state_and_time(project: Path) -> None:
    (project / "configs" / "broken.yaml").write_text(
        "name: broken\ncommand: python -c 'raise SystemExit(2)'\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "broken config")
    assert cli(["submit", "configs/broken.yaml", "--backend", "local"], project).returncode == 1
    assert (
        cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"], project).returncode == 0
    )

    def ids(*args: str) -> list[str]:
        result = cli(["status", "--json", *args], project)
        assert result.returncode == 0, result.stderr
        return [r["run_id"].rsplit("_", 1)[0] for r in json.loads(result.stdout)["runs"]]

    assert sorted(ids()) == ["broken", "quickstart"]
    assert ids("--state", "smoke_failed") == ["broken"]
    assert ids("--state", "dry_run,completed") == ["quickstart"]
    assert ids("--name", "quick*") == ["quickstart"]
    assert sorted(ids("--since", "1h")) == ["broken", "quickstart"]
    assert ids("--since", "2999-01-01") == []
    assert ids("--limit", "1") in (["broken"], ["quickstart"])
    bad = cli(["status", "--since", "yesterday-ish"], project)
    assert bad.returncode == 2 and "--since" in bad.stderr
    no_traceback(bad)


def test_a_damaged_record_does_not_hide_the_others(project: Path) -> None:
    first = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run", "--json"], project)
    second = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run", "--json", "params.steps=7"],
        project,
    )
    damaged = project / "runs" / json.loads(first.stdout)["run_id"] / "manifest.json"
    damaged.write_text('{"truncated": ')
    result = cli(["status", "--json"], project)
    assert result.returncode == 0, result.stderr
    assert "manifest.json is not valid JSON" in result.stderr
    states = {r["run_id"]: r["state"] for r in json.loads(result.stdout)["runs"]}
    assert (
        states[json.loads(second.stdout)["run_id"]] == "dry_run" and states[damaged.parent.name] == "damaged"
    )
    assert damaged.read_text() == '{"truncated": '  # left exactly as it was
    no_traceback(result)


def test_an_interrupted_submission_is_recovered_from_the_scheduler_folder(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--json"], project)
    run = Path(json.loads(result.stdout)["run_dir"])
    job_id = manifest(run)["job_id"]
    # as if clusterrun died right after the scheduler accepted the job, before recording its id
    data = manifest(run)
    data.update(state="submitting", job_id=None)
    data["state_history"].append({"state": "submitting", "at": data["created"]})
    (run / "manifest.json").write_text(json.dumps(data))
    done = cli(["status", "--watch", run.name], project, timeout=120)
    assert done.returncode == 0, done.stderr
    recovered = manifest(run)
    assert recovered["job_id"] == job_id and recovered["state"] == "completed"
    assert any("recovered" in h.get("note", "") for h in recovered["state_history"])


def test_subdirectories_share_the_registry_at_the_repository_root(project: Path) -> None:
    first = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run", "--json"], project)
    assert first.returncode == 0, first.stderr
    sub = project / "examples" / "quickstart"
    listed = cli(["status", "--json"], sub)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [json.loads(first.stdout)["run_id"]]
    again = cli(["submit", "../../configs/quickstart.yaml", "--backend", "local", "--dry-run", "--json"], sub)
    assert again.returncode == 0, again.stderr
    assert not (sub / "runs").exists()  # no second registry, no second snapshot
    assert Path(json.loads(again.stdout)["run_dir"]).parent == (project / "runs").resolve()
    assert len(list((project / "runs" / ".snapshots").iterdir())) == 1
    assert len(json.loads(cli(["status", "--json"], sub).stdout)["runs"]) == 2


def test_unused_params_are_warned_about_and_exported_ones_are_not(project: Path) -> None:
    args = ["+params.learning_rate=0.1", "+params.tag=abc", "env.RUN_TAG='run-{tag}'"]
    result = cli(["submit", "configs/quickstart.yaml", *args, "--backend", "local", "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    assert "params.learning_rate is not used by the command or env: it changes nothing" in result.stderr
    assert "params.tag is not used" not in result.stderr
    hyper = next(line for line in result.stdout.splitlines() if line.startswith("Key Hyperparameters:"))
    assert "tag=abc" in hyper and "lr=0.1" in hyper and "learning_rate" not in hyper
    script = (only_run(project) / "command.sh").read_text()
    assert "export RUN_TAG=run-abc" in script
    assert "run-abc" in (only_run(project) / "smoke" / "command.sh").read_text()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["params.lr=0.1,0.01"], "--sweep params.lr=0.1,0.01"),
        (["--sweep", "description=a,b"], "sweep members 0 and 1 run the same command"),
        (["+params.unused=1", "--sweep", "params.unused=1,2"], "params.unused is not used by the command"),
        (["--sweep", "params.steps=range(0.5,3)"], "range() takes integers"),
        (["--sweep", "params.tag='a,b"], "unclosed quote"),
    ],
)
def test_inputs_that_would_mislead_are_refused(project: Path, args: list[str], needle: str) -> None:
    result = cli(["submit", "configs/quickstart.yaml", *args, "--backend", "local", "--dry-run"], project)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "hint:" in result.stderr
    no_traceback(result)
    assert not (project / "runs").exists()  # refused before anything was written


def test_sweep_range_and_quoted_commas_in_a_dry_run(project: Path) -> None:
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--dry-run",
            "--json",
            "--sweep",
            "params.steps=range(6,9)",
            "--sweep",
            "params.tag='a,b',c",
            "+params.tag=x",
            "env.RUN_TAG='{tag}'",  # exported, so a sweep over it changes something
        ],
        project,
    )
    assert result.returncode == 0, result.stderr
    members = json.loads(result.stdout)["members"]
    assert [m["values"] for m in members] == [
        {"params.steps": n, "params.tag": tag} for n in (6, 7, 8) for tag in ("a,b", "c")
    ]


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [("lr=0.1", "params.lr"), ("resources.gpu=1", "resources.gpus"), ("params.lrr=0.1", "params.lr")],
)
def test_override_typos_get_did_you_mean(project: Path, override: str, suggestion: str) -> None:
    result = cli(["submit", "configs/quickstart.yaml", override, "--backend", "local", "--dry-run"], project)
    assert result.returncode == 2, result.stderr
    no_traceback(result)
    lines = result.stderr.splitlines()
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1
    assert any(ln.startswith("hint:") and f"did you mean {suggestion}?" in ln for ln in lines), result.stderr
    assert "examples" not in result.stderr


def test_override_tilde_and_double_plus(project: Path) -> None:
    args = ["submit", "configs/quickstart.yaml", "++params.extra=1", "--backend", "local", "--dry-run"]
    assert cli(args, project).returncode == 0
    missing = cli(
        ["submit", "configs/quickstart.yaml", "~params.nope", "--backend", "local", "--dry-run"], project
    )
    assert missing.returncode == 2 and "nope" in missing.stderr
    no_traceback(missing)


def test_run_ids_by_prefix_latest_and_a_sweep_prefix(project: Path) -> None:
    """Ids as people type them: a unique prefix, @latest, @latest-failed, and a sweep's prefix in status."""
    sweep = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--dry-run",
            "--sweep",
            "params.lr=0.1,0.2",
        ],
        project,
    )
    assert sweep.returncode == 0, sweep.stderr
    sweep_id = next(p.name for p in (project / "runs").iterdir() if p.name.startswith("quickstart-sweep_"))
    listed = cli(["status", sweep_id[: len("quickstart-sweep_") + 4], "--json"], project)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["members"]) == 2  # the sweep view, found through its prefix
    latest = cli(["show", "@latest", "--json"], project)
    assert latest.returncode == 0, latest.stderr
    ambiguous = cli(["show", "quickstart_"], project)
    assert ambiguous.returncode == 2 and "matches 2 runs" in ambiguous.stderr
    no_traceback(ambiguous)
    none_failed = cli(["show", "@latest-failed"], project)
    assert none_failed.returncode != 0 and "no failed run" in none_failed.stderr
    no_traceback(none_failed)


CATCHES_ITS_ERROR = """\
import logging, sys

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("train")
print("epoch 0 loss=0.52")


def evaluate():
    return open("data/test.csv").read()  # not in the snapshot: FileNotFoundError


try:
    print(f"test_acc={len(evaluate())}")
except Exception:
    log.exception("evaluation failed")  # logged, and the script exits 0
"""


def test_a_run_that_caught_its_error_and_exited_0_says_so(tmp_path: Path) -> None:
    """The promise: a verdict is never stronger than its evidence. A training whose evaluation raised, and
    whose `except Exception: log.exception(...)` let it exit 0, was 'Status: SUCCESS, Key Metrics: loss=0.52'
    with no word of the error, nor of test_acc, the metric it never printed. The status stays SUCCESS (the
    command did exit 0), and the results, the summary and the smoke test say what the exit code hid."""
    config = (
        "name: catches\ncommand: python train.py\n"
        "metrics:\n  patterns:\n    loss: 'loss=([0-9.eE+-]+)'\n    test_acc: 'test_acc=([0-9.eE+-]+)'\n"
        "resources: {time: '00:05:00', nodes: 1, cpus_per_task: 1, mem: 200M, gpus: 0}\n"
    )
    project = make_project(tmp_path / "p", {"train.py": CATCHES_ITS_ERROR, "configs/catches.yaml": config})
    result = cli(["submit", "configs/catches.yaml", "--backend", "local", "--wait", "--yes"], project)
    assert result.returncode == 0, result.stderr
    caught = "FileNotFoundError: [Errno 2] No such file or directory: 'data/test.csv'"
    caught += " (train.py line 9, in evaluate)"
    assert (
        f"warning: the smoke test exited 0, but its stderr shows an error it caught: {caught}"
        in result.stderr
    )
    assert "Status: SUCCESS" in result.stdout and "Key Metrics: loss=0.52" in result.stdout
    assert "Missing Metrics: test_acc (their metrics.patterns matched nothing" in result.stdout
    assert (
        f"Warning: the command exited 0, but its stderr shows an error it caught: {caught}" in result.stdout
    )
    assert "Next: fix the error in " in result.stdout
    summary = json.loads((only_run(project) / "summary.json").read_text())
    assert summary["caught_error"] == caught and summary["metrics_missing"] == ["test_acc"]
    # in a sweep, the table of its members names each member that caught one
    sweep = cli(
        ["submit", "configs/catches.yaml", "--backend", "local", "--wait", "--yes", "--sweep", "seed=1,2"],
        project,
    )
    assert sweep.returncode == 0, sweep.stderr
    caught_lines = [line for line in sweep.stdout.splitlines() if line.startswith("Caught error: ")]
    assert len(caught_lines) == 2 and all("FileNotFoundError" in line for line in caught_lines), sweep.stdout
    listed = cli(["status"], project).stdout  # and the plain table, under the runs (its cached rows too)
    assert len([line for line in listed.splitlines() if line.startswith("Caught error: ")]) == 3, listed
    assert cli(["status"], project).stdout == listed


def test_a_smoke_test_that_writes_into_a_data_path_is_told_before_submitting(tmp_path: Path) -> None:
    """The promise: no run sees another's files. A data: path is linked into every run's working
    directory; a config (hand-written, or from an init before it knew output directories) naming the
    script's output directory under data: made every run write into the checkout's one directory. The
    smoke test's write there is said before anything is submitted; a data: path only read is not."""
    script = "import os\nos.makedirs('outputs', exist_ok=True)\nopen('outputs/model.txt', 'w').write('x')\n"
    script += "print(len(open('data/rows.csv').read()))\n"
    config = (
        "name: writes\ncommand: python train.py\ndata: {outputs: outputs, data: data}\n"
        "resources: {time: '00:05:00', nodes: 1, cpus_per_task: 1, mem: 200M, gpus: 0}\n"
    )
    project = make_project(
        tmp_path / "p", {"train.py": script, "configs/writes.yaml": config, ".gitignore": "outputs/\ndata/\n"}
    )
    (project / "outputs").mkdir()
    (project / "data").mkdir()
    (project / "data" / "rows.csv").write_text("1\n2\n")
    result = cli(["submit", "configs/writes.yaml", "--backend", "local", "--dry-run", "--yes"], project)
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: the smoke test wrote into data.outputs ({project / 'outputs'}): a data: path"
        in result.stderr
    )
    assert "data.data" not in result.stderr


WORKERS = """\
import multiprocessing as mp, time


def hold(_):
    ballast = b"1" * (120 << 20)  # each worker's own 120 MB, resident
    time.sleep(3)
    return len(ballast)


if __name__ == "__main__":
    with mp.get_context("spawn").Pool(2) as pool:
        print("held", sum(pool.map(hold, range(2))) >> 20, "MB")
"""


def test_a_local_runs_memory_counts_its_workers(tmp_path: Path) -> None:
    """The promise: a right-size suggestion never asks for less than the job uses. A local run's memory was
    the largest single process's peak (rusage), so a run whose two data-loading workers held 120 MB each
    was 'memory 30M' and right-sized to less than the cluster counts (SLURM sums the job's processes, as
    the smoke test does). The job wrapper now samples the whole tree's memory too."""
    config = (
        "name: workers\ncommand: python workers.py\n"
        "resources: {time: '00:05:00', nodes: 1, cpus_per_task: 2, mem: 4G, gpus: 0}\n"
    )
    project = make_project(tmp_path / "p", {"workers.py": WORKERS, "configs/workers.yaml": config})
    result = cli(
        ["submit", "configs/workers.yaml", "--backend", "local", "--wait", "--yes", "--json"],
        project,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    assert json.loads((run / "exit.json").read_text())["peak_rss_mb"] >= 240
    assert json.loads((run / "summary.json").read_text())["max_rss_mb"] >= 240


def test_logs_tail_prints_the_last_lines_and_follows_from_them(project: Path) -> None:
    done = cli(["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "--json"], project)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    lines = (project / "runs" / run_id / "stdout.log").read_text().splitlines(keepends=True)
    assert len(lines) > 3
    tail = cli(["logs", run_id, "--tail", "2"], project)
    assert tail.returncode == 0 and tail.stdout == "".join(lines[-2:])
    followed = cli(["logs", run_id, "-f", "-n", "1"], project)  # an ended run: the rest, then its results
    assert followed.returncode == 0 and followed.stdout == lines[-1], followed.stdout


def test_show_of_a_sweep_gives_its_manifest_and_its_ranked_members(project: Path) -> None:
    done = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--sweep",
            "params.lr=0.05,0.1",
            "--backend",
            "local",
            "--wait",
        ],
        project,
    )
    assert done.returncode == 0, done.stderr
    sweep_id = next(p.name for p in (project / "runs").iterdir() if "-sweep_" in p.name)
    shown = cli(["show", sweep_id], project)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "=== SWEEP MANIFEST ===" in text and f"Sweep ID: {sweep_id}" in text
    assert text.index("======================") < text.index(f"Sweep {sweep_id}: 2 member(s), ranked by")
    data = json.loads(cli(["show", sweep_id, "--json"], project).stdout)
    assert data["sweep_id"] == sweep_id and len(data["members"]) == 2  # as `status SWEEP_ID --json`


def test_an_output_directory_outside_the_run_is_warned_about_before_anything_runs(project: Path) -> None:
    """`--out-dir /tmp/results` (a script's absolute default, kept by a config): the run, its smoke test
    and a sweep's members all write that one directory, and the run's results list nothing of it."""
    outside = project.parent / "shared-results"
    (project / "configs" / "out.yaml").write_text(
        "name: out\ncommand: echo --out-dir {out_dir} --lr {lr}\n"
        f"params: {{out_dir: {outside}, lr: 0.1}}\nresources: {{time: '00:05:00', mem: 100M}}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "out")
    single = cli(["submit", "configs/out.yaml", "--backend", "local", "--dry-run"], project)
    assert single.returncode == 0, single.stderr
    assert f"--out-dir {outside} is outside the run's directory: the run, its smoke test" in single.stderr
    sweep = cli(
        ["submit", "configs/out.yaml", "--backend", "local", "--dry-run", "--sweep", "params.lr=1,2"], project
    )
    assert f"--out-dir {outside} is outside the run's directory: all 2 members of the sweep" in sweep.stderr
    for fine in ("params.out_dir=results", "params.out_dir={run_dir}/results"):
        relative = cli(["submit", "configs/out.yaml", "--backend", "local", "--dry-run", fine], project)
        assert relative.returncode == 0, relative.stderr
        assert "outside the run's directory" not in relative.stderr
