"""A watch reads each run's manifest again only when its file changed (records/manifest_memo.py). The
promise behind the saving: what the memo hands back is always what the file holds now."""

from __future__ import annotations

import os
import time
from pathlib import Path

from clusterrun.records import store
from clusterrun.records.manifest_memo import FRESH, ManifestMemo
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Run


def _run(tmp_path: Path, state: str = "pending", age: float = 60.0) -> Run:
    run = Run(tmp_path / "runs" / "r1")
    run.path.mkdir(parents=True, exist_ok=True)
    (run.path / ".lock").touch()
    _write(run, state, age)
    return run


def _write(run: Run, state: str, age: float) -> None:
    manifest = Manifest(run_id=run.id, name="r", state=state, job_id="12", backend="slurm")
    store.write_manifest(run.path, manifest)
    then = time.time() - age
    os.utime(run.manifest_path, (then, then))


def test_an_unchanged_manifest_is_read_once(tmp_path: Path) -> None:
    run, memo = _run(tmp_path), ManifestMemo()
    first = memo.load(run)
    assert memo.load(run) is first and memo.reads == 1


def test_a_manifest_replaced_since_is_read_again_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    run, memo = _run(tmp_path), ManifestMemo()
    assert memo.load(run).state == "pending"
    before = os.stat(run.manifest_path)
    _write(run, "running", 60.0)  # "running" and "pending" have the same length
    os.utime(run.manifest_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(run.manifest_path).st_size == before.st_size
    assert memo.load(run).state == "running" and memo.reads == 2


def test_a_manifest_updated_by_another_writer_is_seen(tmp_path: Path) -> None:
    run, memo = _run(tmp_path), ManifestMemo()
    assert memo.load(run).state == "pending"
    run.update(state="running")  # as the job's side or another status does: read, changed, renamed over
    assert memo.load(run).state == "running"


def test_a_manifest_written_moments_ago_is_not_kept(tmp_path: Path) -> None:
    run, memo = _run(tmp_path, age=0.0), ManifestMemo()
    memo.load(run)
    memo.load(run)
    assert memo.reads == 2  # within FRESH seconds of its write, a file's time may not tell two apart
    then = time.time() - FRESH - 1
    os.utime(run.manifest_path, (then, then))
    memo.load(run)
    memo.load(run)
    assert memo.reads == 3


def test_what_is_forgotten_is_read_again_and_not_kept(tmp_path: Path) -> None:
    run, memo = _run(tmp_path), ManifestMemo()
    memo.load(run)
    memo.forget([run.path])
    memo.load(run)
    assert memo.reads == 2
