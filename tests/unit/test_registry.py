"""The run registry: race-free ids, hostile ids refused, atomic manifests, newest-first listing."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from clusterrun.errors import ClusterrunError, RunNotFound, UsageError
from clusterrun.records.jsonio import write_json_atomic
from clusterrun.records.registry import RUNS_ENV, Registry, Run, looks_like_run_id

WHEN = datetime(2026, 1, 2, 3, 4, 5)
ID_RE = re.compile(r"^exp_20260102-030405(-\d+)?$")


def make_run(registry: Registry, name: str = "exp", when: datetime = WHEN, **manifest: object) -> Run:
    run = registry.create(name, when=when)
    run.write_manifest({"id": run.id, "state": "created", **manifest})
    return run


def test_concurrent_creates_get_distinct_ids(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    made: list[Run] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def worker() -> None:
        try:
            barrier.wait()
            made.append(registry.create("exp", when=WHEN))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [run.id for run in made]
    assert len(set(ids)) == 20
    assert all(ID_RE.match(i) for i in ids), ids
    assert "exp_20260102-030405" in ids
    assert all(run.path.is_dir() and run.path.parent == registry.root for run in made)
    assert all(looks_like_run_id(i) for i in ids)


def test_ids_without_when_use_the_current_time(tmp_path: Path) -> None:
    run = Registry(tmp_path).create("quick.start-1")
    assert re.fullmatch(r"quick\.start-1_\d{8}-\d{6}(-\d+)?", run.id)
    assert looks_like_run_id(run.id)
    assert not looks_like_run_id("../etc")
    assert not looks_like_run_id("exp")


def test_ensure_writes_a_gitignore_of_everything(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "a" / "runs")
    registry.ensure()
    lines = (registry.root / ".gitignore").read_text().splitlines()
    assert "*" in lines
    (registry.root / ".gitignore").write_text("*\n# mine\n")
    registry.ensure()  # an existing file is left alone
    assert (registry.root / ".gitignore").read_text() == "*\n# mine\n"


def test_default_registry_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert Registry.default(cwd=tmp_path).root == tmp_path / "runs"
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "elsewhere"))
    assert Registry.default(cwd=tmp_path).root == tmp_path / "elsewhere"
    assert Registry.default(tmp_path / "explicit", cwd=tmp_path).root == tmp_path / "explicit"


@pytest.mark.parametrize("dot_git", ["dir", "file"])  # a file: a worktree or a submodule
def test_default_registry_is_at_the_git_root_from_a_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dot_git: str
) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    project = tmp_path / "project"
    deep = project / "src" / "models"
    deep.mkdir(parents=True)
    if dot_git == "dir":
        (project / ".git").mkdir()
    else:
        (project / ".git").write_text("gitdir: /elsewhere/.git/worktrees/project\n")
    assert Registry.default(cwd=deep).root == project / "runs"
    assert Registry.default(cwd=project).root == project / "runs"
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "elsewhere"))  # the environment still wins
    assert Registry.default(cwd=deep).root == tmp_path / "elsewhere"
    assert Registry.default(tmp_path / "explicit", cwd=deep).root == tmp_path / "explicit"


@pytest.mark.parametrize("bad", ["../x", "/abs", "/etc/passwd", "..", ".", "", "a/b", "a\\b", "x\0y"])
def test_get_refuses_hostile_ids(tmp_path: Path, bad: str) -> None:
    registry = Registry(tmp_path / "runs")
    make_run(registry)
    with pytest.raises(UsageError) as info:
        registry.get(bad)
    assert not isinstance(info.value, RunNotFound)
    assert "not a run id" in info.value.message


def test_get_refuses_a_symlink_leaving_the_registry(tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "exp_20260102-030405"
    outside.mkdir(parents=True)
    (outside / "manifest.json").write_text('{"id": "planted"}')
    registry = Registry(tmp_path / "runs")
    registry.ensure()
    (registry.root / "exp_20260102-030405").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UsageError) as info:
        registry.get("exp_20260102-030405")
    assert not isinstance(info.value, RunNotFound)
    assert "leaves the run registry" in info.value.message
    assert "exp_20260102-030405" not in registry.ids()


def test_get_many_finds_what_get_finds_and_refuses_what_it_refuses(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run = make_run(registry)
    assert registry.get_many([run.id]) == {run.id: registry.get(run.id)}
    outside = tmp_path / "outside" / "planted_20260102-030405"
    outside.mkdir(parents=True)
    (outside / "manifest.json").write_text('{"id": "planted"}')
    (registry.root / "planted_20260102-030405").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UsageError, match="leaves the run registry"):
        registry.get_many([run.id, "planted_20260102-030405"])  # a sweep's member planted as a symlink
    (registry.root / "bare_20260102-030405").mkdir()  # a directory without a manifest
    with pytest.raises(RunNotFound):
        registry.get_many(["bare_20260102-030405"])
    for bad in ("../x", "..", "a/b"):
        with pytest.raises(UsageError, match="not a run id"):
            registry.get_many([bad])


def test_get_returns_a_run(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run = make_run(registry)
    assert registry.get(run.id) == run
    assert registry.get(run.id).manifest()["id"] == run.id


def test_unknown_id_suggests_a_close_one(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_run(registry, "quickstart")
    with pytest.raises(RunNotFound) as info:
        registry.get("quickstrat_20260102-030405")
    assert "quickstrat_20260102-030405" in info.value.message
    assert "did you mean" in info.value.hint
    assert "quickstart_20260102-030405" in info.value.hint
    assert info.value.exit_status == 2


def test_unknown_id_without_close_match(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_run(registry, "quickstart")
    with pytest.raises(RunNotFound) as info:
        registry.get("zzz")
    assert "did you mean" not in info.value.hint


def test_directory_without_manifest_is_not_a_run(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run = registry.create("exp", when=WHEN)
    assert registry.ids() == []
    with pytest.raises(RunNotFound):
        registry.get(run.id)


def test_runs_are_newest_first(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    make_run(registry, "b", when=datetime(2026, 1, 1, 0, 0, 0))
    make_run(registry, "a", when=datetime(2026, 3, 1, 0, 0, 0))
    make_run(registry, "c", when=datetime(2025, 12, 31, 23, 59, 59))
    make_run(registry, "a_b", when=datetime(2026, 2, 1, 0, 0, 0))  # an underscore in the name
    make_run(registry, "a", when=datetime(2026, 3, 1, 0, 0, 0))  # same second: suffix -1 is newer
    ids = [run.id for run in registry.runs()]
    assert ids == [
        "a_20260301-000000-1",
        "a_20260301-000000",
        "a_b_20260201-000000",
        "b_20260101-000000",
        "c_20251231-235959",
    ]


def test_runs_newest_first_with_ten_or_more_in_one_second(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    made = [make_run(registry).id for _ in range(12)]
    assert [run.id for run in registry.runs()] == made[::-1]


def test_update_records_state_history_and_events(tmp_path: Path) -> None:
    run = make_run(Registry(tmp_path / "runs"), job_id=None)
    first = run.update(state="submitted", note="sbatch ok", job_id="42")
    assert first.state == "submitted"
    assert first.job_id == "42"
    run.update(state="submitted")  # no change: no new history entry or event
    run.update(state="running")
    manifest = run.manifest()
    assert [entry["state"] for entry in manifest["state_history"]] == ["submitted", "running"]
    assert manifest["state_history"][0]["note"] == "sbatch ok"
    assert "at" in manifest["state_history"][0]
    events = [json.loads(line) for line in run.file("events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["state"]) for e in events] == [("state", "submitted"), ("state", "running")]
    assert events[0]["note"] == "sbatch ok"


def test_update_without_state_keeps_state(tmp_path: Path) -> None:
    run = make_run(Registry(tmp_path / "runs"))
    run.update(node="n1")
    assert run.manifest()["state"] == "created"
    assert run.manifest()["node"] == "n1"
    assert not run.file("events.jsonl").exists()


def test_an_update_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    """Watchers that saw the same end each record it: the first writes, the others find it recorded."""
    run = make_run(Registry(tmp_path / "runs"))
    run.update(state="completed", note="evidence: sacct", node="n1", state_source="sacct")
    before = run.manifest_path.stat()
    again = run.update(state="completed", note="evidence: sacct", node="n1", state_source="sacct")
    after = run.manifest_path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert again.state == "completed" and again.node == "n1"
    run.update(node="n2")  # a field that did change is written
    assert run.manifest()["node"] == "n2" and run.manifest_path.stat().st_ino != before.st_ino


def test_an_update_to_a_default_value_still_records_the_field(tmp_path: Path) -> None:
    """A field absent on disk, set to its default: written, so the record says so from now on."""
    run = make_run(Registry(tmp_path / "runs"))
    assert "node" not in run.manifest()
    run.update(node=run.load_manifest().node)
    assert "node" in run.manifest()


def test_update_refuses_a_field_the_manifest_does_not_declare(tmp_path: Path) -> None:
    run = make_run(Registry(tmp_path / "runs"), planted="kept")  # unknown fields on disk are kept
    with pytest.raises(TypeError, match="exit_code not a Manifest field"):
        run.update(exit_code=0)
    with pytest.raises(ValueError):  # a pydantic ValidationError: the value is checked too
        run.update(job_id=["not", "an", "id"])
    run.update(state="running")
    assert run.manifest()["planted"] == "kept" and "exit_code" not in run.manifest()


def test_manifest_is_written_atomically_with_sorted_keys(tmp_path: Path) -> None:
    run = make_run(Registry(tmp_path / "runs"))
    run.update(state="running", sweep_values={"zeta": 1, "alpha": 2}, backend="local")
    text = run.manifest_path.read_text()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert text.index('"backend"') < text.index('"sweep_values"')
    assert text.index('"alpha"') < text.index('"zeta"')
    # no temp files; .lock serialises updates between processes
    assert sorted(p.name for p in run.path.iterdir()) == [".lock", "events.jsonl", "manifest.json"]


def test_failed_write_leaves_the_old_manifest_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(Registry(tmp_path / "runs"))
    before = run.manifest_path.read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        run.update(state="running")
    monkeypatch.undo()
    assert run.manifest_path.read_text() == before
    assert [p.name for p in run.path.iterdir() if p.name not in ("events.jsonl", ".lock")] == [
        "manifest.json"
    ]


def test_write_json_atomic_replaces_and_keeps_umask_mode(tmp_path: Path) -> None:
    """Outside a private directory (an export into the user's own) the umask decides, as usual; in a
    private one (every directory of a registry) the file is private (tests/test_security.py)."""
    tmp_path.chmod(0o755)
    path = tmp_path / "data.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    write_json_atomic(path, {"c": datetime(2026, 1, 1)})
    assert json.loads(path.read_text()) == {"c": "2026-01-01 00:00:00"}
    assert path.read_text().endswith("\n")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
    tmp_path.chmod(0o700)
    write_json_atomic(path, {"d": 1})
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", ["{not json", "", '{"id": "x"', "\xff\xfe garbage"])
def test_damaged_manifest_is_a_clusterrun_error(tmp_path: Path, content: str) -> None:
    registry = Registry(tmp_path / "runs")
    run = make_run(registry)
    run.manifest_path.write_bytes(content.encode("latin-1"))
    with pytest.raises(ClusterrunError) as info:
        registry.get(run.id).manifest()
    assert "manifest.json" in info.value.message
    assert info.value.hint
    with pytest.raises(ClusterrunError):
        run.update(state="running")


def test_manifest_that_is_not_an_object(tmp_path: Path) -> None:
    run = make_run(Registry(tmp_path / "runs"))
    run.manifest_path.write_text("[1, 2]")
    with pytest.raises(ClusterrunError, match="not an object"):
        run.manifest()


def test_missing_manifest_is_run_not_found(tmp_path: Path) -> None:
    run = Registry(tmp_path / "runs").create("exp", when=WHEN)
    with pytest.raises(RunNotFound):
        run.manifest()


def test_concurrent_updates_do_not_lose_fields(tmp_path: Path) -> None:
    import threading

    run = make_run(Registry(tmp_path / "runs"))

    fields = ["job_id", "node", "scheduler_folder", "reproduces", "sweep", "backend"]

    def writer(n: int) -> None:
        for i in range(25):
            run.update(**{fields[n]: str(i)})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    manifest = run.manifest()
    assert all(manifest.get(name) == "24" for name in fields), manifest


def test_get_accepts_unique_prefixes_and_latest(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    quick = make_run(registry, "quick", datetime(2026, 1, 1, 10), state="failed")
    other = make_run(registry, "other", datetime(2026, 1, 2, 10))
    assert registry.get("qui").id == quick.id
    assert registry.get("@latest").id == other.id
    assert registry.get("@latest-failed").id == quick.id
    make_run(registry, "quick", datetime(2026, 1, 3, 10))
    with pytest.raises(UsageError, match="matches 2 runs"):
        registry.get("quick")
    with pytest.raises(RunNotFound):
        Registry(tmp_path / "empty").get("@latest")


def test_an_update_from_a_manifest_read_before_never_loses_what_another_writer_wrote_since(
    tmp_path: Path,
) -> None:
    """`read=`: the caller's copy is used only while the file is still the one it was read from; once
    another process replaced it (or the copy was changed in memory), the file is read again."""
    from clusterrun.records import store

    run = make_run(Registry(tmp_path / "runs"), job_id="42")
    earlier = time.time() - store.STAMP_SETTLE - 1
    os.utime(run.manifest_path, (earlier, earlier))  # settled: its stamp is trusted
    stale = run.load_manifest()
    assert stale._file_stamp is not None
    run.update(node="n7", reproduces="x")  # another writer (cancel, a second watcher) since the read
    updated = run.update(state="running", read=stale, state_source="sacct")
    on_disk = run.manifest()
    assert on_disk["node"] == "n7" and on_disk["reproduces"] == "x" and on_disk["state"] == "running"
    assert updated.node == "n7"
    os.utime(run.manifest_path, (earlier, earlier))
    changed_in_memory = run.load_manifest()
    assert changed_in_memory._file_stamp is not None
    changed_in_memory.node = "never written"  # a copy that differs from the file is not written as it is
    run.update(state="completed", read=changed_in_memory)
    assert run.manifest()["node"] == "n7" and run.manifest()["state"] == "completed"


def test_an_update_from_the_manifest_read_skips_the_second_read_and_writes_the_same_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy the caller read is used (no second parse) while its file's stamp is settled (written over
    STAMP_SETTLE seconds before: a newer file's time may not tell two replacements apart), the fields
    that change are encoded alone, and the file is exactly what writing the whole record would give."""
    from clusterrun.records import store
    from clusterrun.records.prettyjson import record_text

    run = make_run(Registry(tmp_path / "runs"), job_id="42", sweep_values={"lr": 0.1, "layers": [1, 2]})
    assert run.load_manifest()._file_stamp is None  # just written: not trusted
    earlier = time.time() - store.STAMP_SETTLE - 1
    os.utime(run.manifest_path, (earlier, earlier))  # a manifest written a while ago
    read = run.load_manifest()
    reads: list[Path] = []
    real = store.read_manifest
    monkeypatch.setattr(store, "read_manifest", lambda path: reads.append(path) or real(path))
    first = run.update(state="running", read=read, node="n1")
    assert reads == [] and read.state == "created" and "node" not in read.model_fields_set  # not changed
    second = run.update(state="completed", read=first, state_source="sacct", backend="slurm")
    assert reads == [run.path]  # the file `first` was written to is new: read again
    assert first.state == "running" and first.node == "n1"
    text = run.manifest_path.read_text()
    assert text == record_text(second.to_data()) == record_text(json.loads(text))
    assert [e["state"] for e in json.loads(text)["state_history"]] == ["running", "completed"]


def test_an_update_of_a_hand_edited_manifest_writes_it_whole(tmp_path: Path) -> None:
    """A manifest not in clusterrun's layout (edited by hand, compact): not rewritten member by member."""
    run = make_run(Registry(tmp_path / "runs"), job_id="42")
    run.manifest_path.write_text(json.dumps(run.manifest()))  # compact, one line
    read = run.load_manifest()
    run.update(state="running", read=read)
    text = run.manifest_path.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert json.loads(text)["state"] == "running" and json.loads(text)["job_id"] == "42"


def test_listed_gives_one_run_per_id_until_the_root_is_replaced(tmp_path: Path) -> None:
    """A listing and the refresh it hands its ids to share one Run per id (listed, runs, get_many);
    a registry whose root is replaced (submit and reproduce resolve it) lists runs under the new root."""
    registry = Registry(tmp_path / "runs")
    (registry.root / "a_20260101-000000").mkdir(parents=True)
    (registry.root / "a_20260101-000000" / "manifest.json").write_text("{}")
    first = registry.listed("a_20260101-000000")
    assert registry.listed("a_20260101-000000") is first
    assert next(iter(registry.runs())) is first
    assert registry.get_many(["a_20260101-000000"])["a_20260101-000000"] is first
    registry.root = Path(os.path.relpath(registry.root))  # another Path for the same directory
    again = registry.listed("a_20260101-000000")
    assert again is not first and again.path.parent == registry.root
