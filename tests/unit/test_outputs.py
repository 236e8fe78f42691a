"""Whether two runs wrote the same outputs (records/outputs.py): by path and size, then byte for byte
within a budget; a planted symlink is never followed; the verdict notes, never hides, a difference."""

from __future__ import annotations

import os
from pathlib import Path

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
