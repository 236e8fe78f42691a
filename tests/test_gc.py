"""clusterrun gc / rm on real runs of the local backend."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.helpers import cli, git, manifest, no_traceback

LOCAL = ["--backend", "local"]


def _runs(project: Path) -> dict[str, dict]:
    root = project / "runs"
    return {p.name: manifest(p) for p in root.iterdir() if (p / "manifest.json").is_file()}


def _by_state(project: Path, state: str) -> str:
    return next(rid for rid, m in _runs(project).items() if m["state"] == state)


def test_gc_offers_then_removes_only_with_yes(project: Path) -> None:
    (project / "configs" / "broken.yaml").write_text(
        "name: broken\ncommand: python -c 'import no_such_module_xyz'\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "broken config")
    assert cli(["submit", "configs/broken.yaml", *LOCAL], project).returncode == 1
    done = cli(["submit", "configs/quickstart.yaml", *LOCAL, "--wait"], project)
    assert done.returncode == 0, done.stderr
    dry = cli(["submit", "configs/quickstart.yaml", "params.lr=0.05", *LOCAL, "--dry-run"], project)
    assert dry.returncode == 0, dry.stderr
    smoke_failed = _by_state(project, "smoke_failed")
    completed = _by_state(project, "completed")
    dry_run = _by_state(project, "dry_run")
    orphan = project / "runs" / ".snapshots" / ("f" * 20)
    orphan.mkdir()
    (orphan / "big.bin").write_bytes(b"x" * 100_000)

    # young runs are kept by default; nothing at all goes without --yes
    young = cli(["gc"], project)
    assert young.returncode == 0, young.stderr
    assert dry_run not in young.stdout and smoke_failed not in young.stdout
    shown = cli(["gc", "--older-than", "0m"], project)
    assert shown.returncode == 0, shown.stderr
    for text in (dry_run, smoke_failed, "f" * 20, "dry run", "smoke test failed", "no run refers to it"):
        assert text in shown.stdout, shown.stdout
    assert "WHAT" in shown.stdout and "FREES" in shown.stdout and "--yes" in shown.stdout
    assert "hard links" in shown.stdout  # the completed run's working copy frees almost nothing
    assert len(_runs(project)) == 3 and orphan.is_dir()

    removed = cli(["gc", "--older-than", "0m", "--yes"], project)
    assert removed.returncode == 0, removed.stderr
    left = _runs(project)
    assert set(left) == {completed}
    run = project / "runs" / completed
    assert not (run / "work").exists() and not (run / "smoke" / "work").exists()
    assert (run / "artifacts" / "model.json").is_file() and (run / "summary.json").is_file()
    assert not orphan.exists()
    assert (project / "runs" / ".snapshots" / left[completed]["snapshot"]["id"]).is_dir()
    status = cli(["status", "--json"], project)
    assert [r["state"] for r in json.loads(status.stdout)["runs"]] == ["completed"]
    again = cli(["gc", "--older-than", "0m"], project)
    assert "nothing to remove" in again.stdout


def test_reproduced_original_is_never_removed(project: Path) -> None:
    for lr in ("0.05", "0.02"):
        result = cli(["submit", "configs/quickstart.yaml", f"params.lr={lr}", *LOCAL, "--dry-run"], project)
        assert result.returncode == 0, result.stderr
    original, copy = sorted(_runs(project))
    path = project / "runs" / copy / "manifest.json"
    data = json.loads(path.read_text())
    data["reproduces"] = original
    path.write_text(json.dumps(data))

    removed = cli(["gc", "--older-than", "0m", "--yes"], project)
    assert removed.returncode == 0, removed.stderr
    assert set(_runs(project)) == {original}

    assert (project / "runs" / original / "manifest.json").exists()
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data))  # the reproduction again: rm refuses the original
    refused = cli(["rm", original, "--yes"], project)
    assert refused.returncode == 2 and "reproduced by" in refused.stderr and "--force" in refused.stderr
    no_traceback(refused)
    assert (project / "runs" / original).is_dir()
    shown = cli(["rm", original, "--force"], project)
    assert shown.returncode == 0 and (project / "runs" / original).is_dir()
    forced = cli(["rm", original, "--force", "--yes"], project)
    assert forced.returncode == 0, forced.stderr
    assert not (project / "runs" / original).exists()


def test_bad_input_and_active_runs(project: Path) -> None:
    bad = cli(["gc", "--older-than", "soon"], project)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --older-than") and "hint:" in bad.stderr
    no_traceback(bad)
    result = cli(["submit", "configs/quickstart.yaml", *LOCAL, "--dry-run"], project)
    assert result.returncode == 0, result.stderr
    run_id = next(iter(_runs(project)))
    path = project / "runs" / run_id / "manifest.json"
    data = json.loads(path.read_text())
    data["state"] = "running"
    path.write_text(json.dumps(data))
    active = cli(["rm", run_id, "--yes"], project)
    assert active.returncode == 2 and "still be going" in active.stderr and "hint:" in active.stderr
    no_traceback(active)
    kept = cli(["gc", "--older-than", "0m", "--yes"], project)
    assert kept.returncode == 0 and (project / "runs" / run_id).is_dir()
    missing = cli(["rm", "nope_20260101-000000"], project)
    assert missing.returncode == 2
    no_traceback(missing)


def test_rm_asks_the_scheduler_before_it_refuses_a_run_recorded_as_going(project: Path) -> None:
    """A run whose job ended while nothing looked is still recorded as going: `rm` refused it ('it may
    still be going') until a `status` had recorded its end. It now asks the scheduler first, records the
    end, and removes the run."""
    result = cli(
        ["submit", "configs/quickstart.yaml", *LOCAL, "--no-watch", "--json", "params.steps=5"], project
    )
    assert result.returncode == 0, result.stderr
    run = project / "runs" / json.loads(result.stdout)["run_id"]
    deadline = time.monotonic() + 60
    while not (run / "exit.json").exists():  # the job has ended; no status has looked
        assert time.monotonic() < deadline, "the local job did not end within 60 s"
        time.sleep(0.2)
    assert manifest(run)["state"] not in ("completed", "failed")
    removed = cli(["rm", run.name, "--yes"], project)
    assert removed.returncode == 0, removed.stderr
    no_traceback(removed)
    assert not run.exists()


CHECKPOINTS = """\
import os
os.makedirs("checkpoints", exist_ok=True)
for epoch in range(3):
    with open(f"checkpoints/epoch_{epoch}.bin", "wb") as f:
        f.write(bytes(20_000))
print("done")
"""


def test_what_a_run_wrote_in_its_working_directory_is_kept_unless_asked(project: Path) -> None:
    """A script that writes its checkpoints relative to its working directory: gc keeps that working copy
    (it is the run's output, listed as its artifacts), says so, and removes it only with --outputs."""
    (project / "ckpt.py").write_text(CHECKPOINTS)
    (project / "configs" / "ckpt.yaml").write_text("name: ckpt\ncommand: python ckpt.py\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "ckpt")
    done = cli(["submit", "configs/ckpt.yaml", *LOCAL, "--wait"], project)
    assert done.returncode == 0, done.stderr
    run = project / "runs" / _by_state(project, "completed")
    checkpoint = run / "work" / "checkpoints" / "epoch_2.bin"
    assert checkpoint.is_file()

    removed = cli(["gc", "--older-than", "0m", "--yes"], project)
    assert removed.returncode == 0, removed.stderr
    assert checkpoint.is_file(), "gc removed what the run wrote"
    assert not (run / "smoke" / "work").exists()  # the smoke test's copy is a by-product: it goes
    assert "kept the working copies of 1 finished run(s)" in removed.stderr and "3 file(s)" in removed.stderr
    assert "'clusterrun gc --older-than 0m --outputs --yes' removes them too" in removed.stderr
    no_traceback(removed)

    (
        run / "work.files.json"
    ).unlink()  # no listing to tell outputs from the snapshot's files: kept all the same
    blind = cli(["gc", "--older-than", "0m", "--yes"], project)
    assert blind.returncode == 0 and checkpoint.is_file() and "kept the working copies of 1" in blind.stderr

    young = cli(["gc", "--outputs", "--yes"], project)  # the default cut-off (1d): a new run's outputs stay
    assert young.returncode == 0 and checkpoint.is_file()
    asked = cli(["gc", "--older-than", "0m", "--outputs"], project)
    assert "with its 3 output file(s)" in asked.stdout and checkpoint.is_file()  # shown, not removed
    gone = cli(["gc", "--older-than", "0m", "--outputs", "--yes"], project)
    assert gone.returncode == 0, gone.stderr
    assert not (run / "work").exists() and (run / "summary.json").is_file()
