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


def _os_walk_files(top: Path, limit: int) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """What the walk found before it was rewritten without Path objects: os.walk, top-down, sorted."""
    files: dict[str, tuple[int, int]] = {}
    links: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, top)
            st = os.lstat(full)
            if os.path.islink(full):
                links[rel] = os.readlink(full)
            elif os.path.isfile(full):
                files[rel] = (st.st_size, st.st_mtime_ns)
                if len(files) >= limit:
                    return files, links
    return files, links


def test_the_walk_finds_what_os_walk_does_in_its_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files, symlinks (to files, folders, nowhere: recorded, never entered) and, when the walk stops at
    MAX_WALK, the same first files as os.walk's top-down sorted order."""
    top = tmp_path / "data"
    for rel in ("b/z.bin", "b/a/deep.bin", "a.txt", "c/x y é.png", "b/a/b/c.bin", "0.bin"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(rel.encode())
    (top / "to_dir").symlink_to(top / "b")
    (top / "b" / "to_file").symlink_to("../a.txt")
    (top / "nowhere").symlink_to("/no/such/path")
    os.mkfifo(top / "pipe")  # neither a file nor a link: left out
    for limit in (100, 3, 1):
        monkeypatch.setattr(datafp, "MAX_WALK", limit)
        files, links, complete = datafp._walk(top)
        want_files, want_links = _os_walk_files(top, limit)
        assert {rel: (st.st_size, st.st_mtime_ns) for rel, st in files.items()} == want_files, limit
        assert complete == (limit == 100)
        if complete:
            assert links == want_links and set(links) == {"to_dir", "b/to_file", "nowhere"}


def test_a_file_unchanged_since_the_last_fingerprint_is_not_read_again(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(datafp, "RACY_NS", 0)  # the files were just written: kept all the same
    read: list[str] = []
    sha256 = datafp._sha256

    def counted(path: Path) -> str:
        read.append(path.name)
        return sha256(path)

    monkeypatch.setattr(datafp, "_sha256", counted)
    first = datafp.fingerprint(repo / "data")
    assert sorted(read) == ["a.png", "b.png", "train.bin"] and first["hashed"]
    read.clear()
    assert datafp.fingerprint(repo / "data") == first and read == []  # from the user's cache
    # rewritten with the same size: its mtime differs, so it is read again, and the digest says so
    image = repo / "data" / "images" / "a.png"
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    image.write_bytes(b"Z" * 10)
    again = datafp.fingerprint(repo / "data")
    assert read == ["a.png"] and again["digest"] != first["digest"]
    assert again["entries"]["images/a.png"]["sha256"] == hashlib.sha256(b"Z" * 10).hexdigest()
    # replaced by another file (another inode) with the same size and mtime: read again too
    read.clear()
    stamp = (image.stat().st_atime_ns, image.stat().st_mtime_ns)
    replacement = tmp_path / "other.png"
    replacement.write_bytes(b"Y" * 10)
    os.utime(replacement, ns=stamp)
    os.replace(replacement, image)
    assert (
        datafp.fingerprint(repo / "data")["entries"]["images/a.png"]["sha256"]
        == hashlib.sha256(b"Y" * 10).hexdigest()
    )
    assert read == ["a.png"]


def test_a_file_changed_moments_before_it_was_hashed_is_read_again(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write within the same tick of the file system's clock can leave size, mtime and ctime as they
    were: a hash taken within RACY_NS of the file's last change is not kept, so the next fingerprint
    reads the file again; once the file has settled, it is kept."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    path = repo / "data" / "train.bin"
    datafp.fingerprint(path)  # written moments ago by the fixture
    assert datafp._known_hashes(path.resolve()) == {}
    stamp = path.stat()
    path.write_bytes(b"\x07" * 200)  # same size, and the mtime set back as it was
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert datafp.fingerprint(path)["entries"][""]["sha256"] == hashlib.sha256(b"\x07" * 200).hexdigest()
    monkeypatch.setattr(datafp, "RACY_NS", -(10**12))  # as if it had all settled long ago
    datafp.fingerprint(path)
    assert list(datafp._known_hashes(path.resolve())) == [""]
