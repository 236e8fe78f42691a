"""Whether two runs wrote the same outputs (records/outputs.py): by path and size, then byte for byte
within a budget; a planted symlink is never followed; the verdict notes, never hides, a difference."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.analysis.compare import REPRODUCED
from clusterrun.analysis.compare import compare as compare_records
from clusterrun.cli.tables import comparison_text
from clusterrun.records import outputs
from clusterrun.records.registry import Run


def _run(root: Path, name: str, files: dict[str, bytes]) -> tuple[Run, list[tuple[str, int]]]:
    run_dir = root / name
    for rel, data in files.items():
        path = run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return Run(run_dir), sorted((rel, len(data)) for rel, data in files.items())


def test_files_are_compared_by_path_size_then_bytes(tmp_path: Path) -> None:
    same = os.urandom(3 * 1024 * 1024)  # over one read block
    late = bytearray(same)
    late[-1] ^= 1  # differs in its last byte only
    run_a, files_a = _run(
        tmp_path,
        "a",
        {"work/same.bin": same, "work/late.bin": same, "work/size.txt": b"1", "artifacts/gone.txt": b"x"},
    )
    run_b, files_b = _run(
        tmp_path,
        "b",
        {"work/same.bin": same, "work/late.bin": bytes(late), "work/size.txt": b"12", "work/new.txt": b"y"},
    )
    found = outputs.diff(run_a, files_a, run_b, files_b)
    assert found.files == 5 and found.unchecked == []
    assert found.differ == [
        ("artifacts/gone.txt", "only in A"),
        ("work/late.bin", "content differs"),
        ("work/new.txt", "only in B"),
        ("work/size.txt", "1 vs 2 bytes"),
    ]
    assert outputs.diff(run_a, files_a, run_a, files_a).differ == []


def test_over_the_budget_or_through_a_symlink_a_file_is_counted_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("secret")
    run_a, files_a = _run(tmp_path, "a", {"work/big.bin": b"a" * 100, "work/link.txt": b"secret"})
    run_b, files_b = _run(tmp_path, "b", {"work/big.bin": b"b" * 100, "work/link.txt": b"secret"})
    (run_b.path / "work" / "link.txt").unlink()
    (run_b.path / "work" / "link.txt").symlink_to(secret)  # planted: never opened
    found = outputs.diff(run_a, files_a, run_b, files_b, budget=50)
    assert found.differ == [] and found.unchecked == ["work/big.bin", "work/link.txt"]
    found = outputs.diff(run_a, files_a, run_b, files_b)
    assert found.differ == [("work/big.bin", "content differs")] and found.unchecked == ["work/link.txt"]


def test_matching_metrics_with_other_outputs_are_reproduced_with_a_note(tmp_path: Path) -> None:
    run_a, files_a = _run(tmp_path, "a", {"work/ckpt.bin": b"1", "work/same.txt": b"s"})
    run_b, files_b = _run(tmp_path, "b", {"work/ckpt.bin": b"2", "work/same.txt": b"s"})
    found = outputs.diff(run_a, files_a, run_b, files_b)
    manifest = {"run_id": "a", "config": {"name": "x", "command": ["true"]}}
    summary = {"state": "completed", "success": True, "metrics": {"loss": 0.5}}
    result = compare_records(manifest, summary, {}, manifest | {"run_id": "b"}, summary, {}, outputs=found)
    assert result.verdict == REPRODUCED
    assert any("1 of the 2 output files differ" in note for note in result.notes)
    text = comparison_text(result.as_record())
    assert "Output differences (1 of 2 files):\n  work/ckpt.bin: content differs" in text
    alike = compare_records(
        manifest, summary, {}, manifest, summary, {}, outputs=outputs.diff(run_a, files_a, run_a, files_a)
    )
    assert alike.notes == [] and "Output differences: none (2 files)" in comparison_text(alike.as_record())


def test_a_removed_working_copy_is_left_out_not_reported_as_different(tmp_path: Path) -> None:
    """`clusterrun gc` removes a finished run's work/ and keeps its records and artifacts/: its files
    there did not change, they went; artifacts/ is still compared, and the text says what was not."""
    run_a, files_a = _run(tmp_path, "a", {"work/ckpt.bin": b"1", "artifacts/model.json": b"m"})
    run_b, files_b = _run(tmp_path, "b", {"artifacts/model.json": b"M"})
    found = outputs.between(run_a, files_a, run_b, files_b)
    assert found.gone == ["b"] and found.files == 1
    assert found.differ == [("artifacts/model.json", "content differs")]
    manifest = {"run_id": "a", "config": {"name": "x", "command": ["true"]}}
    summary = {"state": "completed", "success": True, "metrics": {"loss": 0.5}}
    text = comparison_text(
        compare_records(manifest, summary, {}, manifest, summary, {}, outputs=found).as_record()
    )
    assert "working copy of b removed (clusterrun gc): artifacts/ only" in text
    assert outputs.between(run_a, files_a, run_a, files_a).gone == []


def test_files_under_directories_named_by_the_time_are_paired_across_runs(tmp_path: Path) -> None:
    """Hydra writes under outputs/<date>/<time>/: two identical runs have no path in common there. A file
    is compared with the other run's file at the same path but for its dates and times, when each run
    has exactly one; a difference is still found and reported at A's path."""
    a = "work/outputs/2026-12-04/21-51-13"
    b = "work/outputs/2026-12-04/21-51-21"
    run_a, files_a = _run(
        tmp_path,
        "a",
        {f"{a}/ckpt/epoch1.npy": b"w1", f"{a}/ckpt/epoch2.npy": b"w2", f"{a}/train.log": b"21:51:13 loss"},
    )
    run_b, files_b = _run(
        tmp_path,
        "b",
        {f"{b}/ckpt/epoch1.npy": b"w1", f"{b}/ckpt/epoch2.npy": b"W2", f"{b}/train.log": b"21:51:21 loss"},
    )
    found = outputs.diff(run_a, files_a, run_b, files_b)
    assert found.files == 3
    assert found.differ == [
        (f"{a}/ckpt/epoch2.npy", "content differs"),
        (f"{a}/train.log", "content differs"),
    ]
    assert (f"{a}/ckpt/epoch1.npy", f"{b}/ckpt/epoch1.npy") in found.paired
    text = comparison_text(
        compare_records(
            {"run_id": "a", "config": {"name": "x", "command": ["true"]}},
            {"state": "completed", "success": True, "metrics": {"loss": 0.5}},
            {},
            {"run_id": "b", "config": {"name": "x", "command": ["true"]}},
            {"state": "completed", "success": True, "metrics": {"loss": 0.5}},
            {},
            outputs=found,
        ).as_record()
    )
    assert f"3 paired across time-named directories: {a} in A, {b} in B" in text
    # two runs of the tool in one run's directory: which goes with which is not guessed
    run_c, files_c = _run(
        tmp_path,
        "c",
        {f"{b}/ckpt/epoch1.npy": b"w1", "work/outputs/2026-12-05/09-00-00/ckpt/epoch1.npy": b"w1"},
    )
    found = outputs.diff(run_a, files_a, run_c, files_c)
    assert found.paired == [] and (f"{a}/ckpt/epoch1.npy", "only in A") in found.differ
    # a path with no date or time in it is never paired with another
    run_d, files_d = _run(tmp_path, "d", {"work/out/model-1.bin": b"m"})
    run_e, files_e = _run(tmp_path, "e", {"work/out/model-2.bin": b"m"})
    assert outputs.diff(run_d, files_d, run_e, files_e).paired == []


def test_when_only_files_that_hold_times_differ_the_note_says_so_and_gives_no_seeding_advice(
    tmp_path: Path,
) -> None:
    manifest = {"run_id": "a", "config": {"name": "x", "command": ["true"]}}
    summary = {"state": "completed", "success": True, "metrics": {"loss": 0.5}}
    run_a, files_a = _run(
        tmp_path, "a", {"work/ckpt.bin": b"1", "work/train.log": b"t1", "work/o/.hydra/hydra.yaml": b"d1"}
    )
    run_b, files_b = _run(
        tmp_path, "b", {"work/ckpt.bin": b"1", "work/train.log": b"t2", "work/o/.hydra/hydra.yaml": b"d2"}
    )
    found = outputs.diff(run_a, files_a, run_b, files_b)
    result = compare_records(manifest, summary, {}, manifest | {"run_id": "b"}, summary, {}, outputs=found)
    assert result.verdict == REPRODUCED and not result.unexplained
    (note,) = result.notes
    assert "and so do the other 1 output file; the 2 that differ hold times or paths" in note
    assert "seed" not in note
    run_c, files_c = _run(
        tmp_path, "c", {"work/ckpt.bin": b"2", "work/train.log": b"t3", "work/o/.hydra/hydra.yaml": b"d3"}
    )
    result = compare_records(
        manifest,
        summary,
        {},
        manifest | {"run_id": "c"},
        summary,
        {},
        outputs=outputs.diff(run_a, files_a, run_c, files_c),
    )
    assert result.unexplained and "3 of the 3 output files differ (work/ckpt.bin)" in result.notes[0]


def test_a_file_that_holds_its_own_runs_directory_is_the_same_but_for_it(tmp_path: Path) -> None:
    """Lightning's checkpoint keeps its callbacks' paths (<run>/work/lightning_logs/...): two runs that
    wrote the same weights differ in those bytes only. A reproduction was told 'content differs ... seed
    every random generator' of a seeded run (a user trial); any other byte that differs still differs."""
    a, b = tmp_path / "fit_20261207-160819", tmp_path / "fit_20261207-161038"  # run ids of one length
    weights = os.urandom(4096)

    def checkpoint(run: Path, weights: bytes) -> bytes:
        return b"PK" + weights + f"best_model_path={run}/work/ckpt/e=2.ckpt".encode() + weights[:64]

    run_a, files_a = _run(tmp_path, a.name, {"work/e.ckpt": checkpoint(a, weights), "work/x": b"1"})
    run_b, files_b = _run(tmp_path, b.name, {"work/e.ckpt": checkpoint(b, weights), "work/x": b"1"})
    found = outputs.diff(run_a, files_a, run_b, files_b)
    assert found.differ == [] and found.alike == ["work/e.ckpt"]
    manifest = {"run_id": "a", "config": {"name": "x", "command": ["true"]}}
    summary = {"state": "completed", "success": True, "metrics": {"loss": 1.0}}
    result = compare_records(manifest, summary, {}, manifest | {"run_id": "b"}, summary, {}, outputs=found)
    assert result.verdict == REPRODUCED and result.notes == []  # no 'seed every random generator'
    text = comparison_text(result.as_record())
    assert "1 the same but for what differs each time it is written (each run's own directory" in text
    # one more byte that differs: it differs
    changed = bytearray(weights)
    changed[0] ^= 1
    run_b, files_b = _run(tmp_path, b.name, {"work/e.ckpt": checkpoint(b, bytes(changed))})
    found = outputs.diff(run_a, files_a[:1], run_b, files_b)
    assert found.differ == [("work/e.ckpt", "content differs")] and found.alike == []


#: torch.save of the same weights (times SCALE) into each run's work/best.ckpt, with the run's own path in
#: it as Lightning's checkpoints hold theirs; in a child process (torch imported here would stay imported
#: for the tests after this one, and its deprecated attributes warn when they are looked over)
TORCH_SAVE = """
import sys, torch
for run in sys.argv[2:]:
    weights = {"w": torch.arange(12.0).reshape(3, 4) * float(sys.argv[1]), "path": run + "/work/best.ckpt"}
    torch.save(weights, run + "/work/best.ckpt")
"""


@pytest.mark.torch
def test_two_torch_saves_of_the_same_weights_are_alike_and_of_others_differ(tmp_path: Path) -> None:
    """torch.save writes a new id into every checkpoint (.data/serialization_id): every PyTorch
    checkpoint of two identical runs differed byte for byte, and every reproduction was told to seed its
    generators. Real torch.save, each checkpoint holding its own run's directory as Lightning's do."""
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but PyTorch is not installed (scripts/test.sh installs it)")
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0, or run scripts/test.sh)")
    runs = [tmp_path / "fit_20261207-160819", tmp_path / "fit_20261207-161038"]
    other = tmp_path / "fit_20261207-999999"
    for run in (*runs, other):
        (run / "work").mkdir(parents=True)
    for scale, saved in (("1", runs), ("2", [other])):
        subprocess.run([sys.executable, "-c", TORCH_SAVE, scale, *map(str, saved)], check=True)
    files = [[("work/best.ckpt", (run / "work" / "best.ckpt").stat().st_size)] for run in runs]
    assert (runs[0] / "work" / "best.ckpt").read_bytes() != (runs[1] / "work" / "best.ckpt").read_bytes()
    found = outputs.diff(Run(runs[0]), files[0], Run(runs[1]), files[1])
    assert found.differ == [] and found.alike == ["work/best.ckpt"]
    found = outputs.diff(Run(runs[0]), files[0], Run(other), files[0])
    assert found.differ == [("work/best.ckpt", "content differs")]
