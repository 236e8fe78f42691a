"""Data fingerprints: which data: values count, what is recorded, when content is hashed, how two runs'
fingerprints differ by path, and which relative data paths a working directory links from the checkout."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from clusterrun.inputs import datafp


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "data" / "images").mkdir(parents=True)
    (root / "data" / "train.bin").write_bytes(b"\x00\x01" * 100)
    (root / "data" / "images" / "a.png").write_bytes(b"A" * 10)
    (root / "data" / "images" / "b.png").write_bytes(b"B" * 20)
    (root / "train.py").write_text("print(1)\n")
    return root


def test_only_values_naming_an_existing_path_count(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "datasets" / "val.csv"
    outside.parent.mkdir()
    outside.write_text("x\n")
    data = {
        "train": "data/train.bin",
        "images": "./data/images/",
        "val": str(outside),
        "split": "train",  # a word, not a path here
        "missing": "data/nope.bin",
        "epochs": 3,
        "flag": True,
        "escape": "../proj/data/train.bin",  # relative paths stay inside the repository
        "repo": ".",  # the whole repository (code and registry) is not data
        "root": "/",
    }
    found = datafp.data_paths(data, repo)
    assert sorted(found) == ["images", "train", "val"]
    assert found["train"] == repo.resolve() / "data" / "train.bin"


def test_a_file_is_hashed_with_size_and_mtime(repo: Path) -> None:
    fps = datafp.fingerprints({"train": "data/train.bin"}, repo)
    fp = fps["train"]
    path = repo / "data" / "train.bin"
    assert fp["value"] == "data/train.bin" and fp["kind"] == "file" and fp["path"] == str(path.resolve())
    assert fp["hashed"] is True and fp["method"] == "sha256" and fp["complete"] is True
    assert fp["files"] == 1 and fp["bytes"] == 200
    entry = fp["entries"][""]
    assert entry["size"] == 200 and entry["mtime"] == path.stat().st_mtime
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    json.dumps(fps)  # goes into the manifest as it is


def test_a_directory_is_walked_and_symlinks_are_recorded_not_followed(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.bin").write_bytes(b"S" * 5000)
    (repo / "data" / "images" / "out").symlink_to(elsewhere)  # a directory link out: not entered
    (repo / "data" / "images" / "c.png").symlink_to(elsewhere / "secret.bin")  # a file link out
    fp = datafp.fingerprints({"images": "data/images"}, repo)["images"]
    assert fp["kind"] == "directory" and fp["files"] == 2 and fp["bytes"] == 30
    assert sorted(fp["entries"]) == ["a.png", "b.png"]
    assert fp["symlinks"] == {"c.png": str(elsewhere / "secret.bin"), "out": str(elsewhere)}


def test_a_symlinked_data_path_is_followed_at_the_top(repo: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "x.bin").write_bytes(b"xyz")
    (repo / "datasets").symlink_to(scratch)
    fp = datafp.fingerprints({"d": "datasets"}, repo)["d"]
    assert fp["path"] == str(scratch.resolve()) and list(fp["entries"]) == ["x.bin"]


def test_large_data_is_not_hashed_and_says_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datafp, "HASH_MAX_BYTES", 25)
    fp = datafp.fingerprints({"images": "data/images"}, repo)["images"]
    assert fp["hashed"] is False and fp["method"] == "size+mtime"
    assert "30 bytes" in fp["why_not_hashed"]
    assert all("sha256" not in e for e in fp["entries"].values())
    monkeypatch.setattr(datafp, "HASH_MAX_BYTES", 1 << 30)
    monkeypatch.setattr(datafp, "HASH_MAX_FILES", 2)
    assert datafp.fingerprints({"images": "data/images"}, repo)["images"]["hashed"] is False


def test_many_files_keep_totals_and_a_digest_only(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datafp, "MAX_ENTRIES", 1)
    before = datafp.fingerprints({"images": "data/images"}, repo)["images"]
    assert "entries" not in before and before["files"] == 2
    (repo / "data" / "images" / "b.png").write_bytes(b"C" * 20)  # same size, other content
    after = datafp.fingerprints({"images": "data/images"}, repo)["images"]
    assert datafp.diff({"images": before}, {"images": after}) == [
        (
            "data/images",
            "content changed since the original run (2 files; which ones is not recorded past 1 files)",
        )
    ]


def test_the_cache_fingerprints_a_path_once_per_submission(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = datafp.fingerprint

    def counting(path: Path, value: str = "") -> datafp.Fingerprint:
        calls.append(path)
        return real(path, value)

    monkeypatch.setattr(datafp, "fingerprint", counting)
    cache: dict[str, datafp.Fingerprint] = {}
    for split in ("train", "val", "test"):  # a sweep over data.split: the file is the same
        datafp.fingerprints({"train": "data/train.bin", "split": split}, repo, cache)
    assert len(calls) == 1


def _fps(repo: Path, **data: str) -> dict[str, datafp.Fingerprint]:
    return datafp.fingerprints(data, repo)


def test_diff_names_changed_added_and_removed_files_by_path(repo: Path) -> None:
    before = _fps(repo, train="data/train.bin", images="data/images")
    assert datafp.diff(before, _fps(repo, train="data/train.bin", images="data/images")) == []
    path = repo / "data" / "train.bin"
    stamp = path.stat()
    path.write_bytes(b"\x01\x00" * 100)  # same size
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # and the same mtime: only the hash knows
    (repo / "data" / "images" / "a.png").unlink()
    (repo / "data" / "images" / "new.png").write_bytes(b"N")
    after = _fps(repo, train="data/train.bin", images="data/images")
    assert datafp.diff(before, after) == [
        ("data/images/a.png", "file removed since the original run"),
        ("data/images/new.png", "file added since the original run"),
        ("data/train.bin", "content changed since the original run"),
    ]


def test_diff_touch_without_change_is_no_difference_when_hashed(repo: Path) -> None:
    before = _fps(repo, train="data/train.bin")
    os.utime(repo / "data" / "train.bin", (1, 1))
    assert datafp.diff(before, _fps(repo, train="data/train.bin")) == []


def test_diff_without_hashes_uses_size_and_mtime_and_says_so(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datafp, "HASH_MAX_BYTES", 0)
    before = _fps(repo, train="data/train.bin")
    os.utime(repo / "data" / "train.bin", (1, 1))
    assert datafp.diff(before, _fps(repo, train="data/train.bin")) == [
        ("data/train.bin", "modified since the original run (size or mtime differs; content not hashed)")
    ]


def test_diff_path_differs_and_paths_that_appeared_or_vanished(repo: Path) -> None:
    a = _fps(repo, train="data/train.bin")
    b = _fps(repo, train="data/images")
    assert datafp.diff(a, b) == [("data.train", "path differs: data/train.bin -> data/images")]
    data = {"train": "data/train.bin"}
    assert datafp.diff(a, {}, data, data) == [("data/train.bin", "removed since the original run")]
    assert datafp.diff({}, a, data, data) == [
        ("data/train.bin", "added since the original run (it did not exist then)")
    ]
    assert datafp.diff(a, {}, data, {}) == [("data.train", "path differs: data/train.bin -> (none)")]
    kind = _fps(repo, train="data/images")
    kind["train"] = dict(kind["train"], value="data/train.bin")
    assert datafp.diff(a, kind) == [("data/train.bin", "was a file, now a directory")]


def test_workdir_links_are_relative_data_paths_missing_from_the_snapshot(repo: Path, tmp_path: Path) -> None:
    snap = tmp_path / "snapshot"
    (snap / "data").mkdir(parents=True)
    (snap / "train.py").write_text("print(1)\n")
    (snap / "data" / "README.md").write_text("tracked\n")
    (repo / "data" / "README.md").write_text("tracked\n")
    outside = tmp_path / "abs.csv"
    outside.write_text("x\n")
    data = {
        "train": "./data/train.bin",  # untracked: linked, under its normalised path
        "images": "data/images",
        "readme": "data/README.md",  # tracked: in the snapshot already
        "code": "train.py",
        "absolute": str(outside),  # absolute paths work as they are
        "missing": "data/nope",
        "split": "train",
        "up": "../proj/data/train.bin",
        "n": 3,
    }
    links = datafp.workdir_links(data, repo, snap)
    assert links == {
        "data/images": str(repo / "data" / "images"),
        "data/train.bin": str(repo / "data" / "train.bin"),
    }
    assert all(os.path.isabs(target) for target in links.values())


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("data/train.csv", "train_csv"),
        ("data/", "data"),
        ("x/2021-Data.tar.gz", "data_2021_data_tar_gz"),
        ("", "path"),
    ],
)
def test_suggest_key(path: str, key: str) -> None:
    assert datafp.suggest_key(path) == key
