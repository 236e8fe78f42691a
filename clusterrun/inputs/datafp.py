"""Fingerprints of the data a run reads: the paths named under `data:` in its config.

Code is pinned by the snapshot; data usually is not (it is untracked, gitignored or outside the
repository). At submit, every `data:` value that names an existing file or directory (absolute, or
relative to the folder the command runs in) is fingerprinted: size and mtime of every file, and a
sha256 of the content when that is cheap. Two runs' fingerprints are then compared by path, so a
reproduction that read other data says which file changed. File-only: no git, no subprocess. A file's
hash is kept in the user's cache with its stat (HASH_CACHE): a later submit reads only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from clusterrun import usercache

HASH_MAX_BYTES = 256 * 1024 * 1024  # hash the content when all files of a path total less than this
HASH_MAX_FILES = 10_000  # ... and are fewer than this
MAX_ENTRIES = 1_000  # per-file entries kept in the record; past this only the totals and a digest
MAX_WALK = 200_000  # files looked at under one directory; past this the fingerprint is incomplete
CHUNK = 1 << 20

Fingerprint = dict[str, Any]


# ------------------------------------------------------------------------------------------- paths


def suggest_key(path: str) -> str:
    """A `data:` key for a path: 'data/train.csv' -> 'train_csv'."""
    name = PurePosixPath(path.rstrip("/")).name or "path"
    key = re.sub(r"\W+", "_", name).strip("_").lower() or "path"
    return key if key[0].isalpha() else f"data_{key}"


def relative_path(value: str, cwd: str = ".") -> str | None:
    """A relative path inside the repository, normalised ('./data/x' -> 'data/x'); None otherwise.
    `value` is relative to the repository's folder `cwd` (a config's cwd), the result to its top."""
    if not value or os.path.isabs(value) or "://" in value or "\0" in value:
        return None
    norm = os.path.normpath(os.path.join(cwd, value))
    if norm in (".", "") or norm == ".." or norm.startswith("../"):
        return None
    return norm


def data_paths(data: Mapping[str, Any], repo_root: Path, cwd: str = ".") -> dict[str, Path]:
    """key -> the existing file or directory its value names (absolute, or relative to the repository's
    folder `cwd`, the config's). Values that name nothing, and the repository itself or a directory
    above it, are left out."""
    root = repo_root.resolve()
    found: dict[str, Path] = {}
    for key, value in data.items():
        if not isinstance(value, str) or not value or "\0" in value:
            continue
        if os.path.isabs(value):
            path = Path(value)
        else:
            rel = relative_path(value, cwd)
            if rel is None:
                continue
            path = root / rel
        try:
            if not path.exists():
                continue
            resolved = path.resolve()
        except (OSError, RuntimeError):  # permission, symlink loop
            continue
        if resolved == root or resolved in root.parents:
            continue  # the whole repository (or more): code, registry and all
        found[str(key)] = path
    return found


def workdir_links(
    spec_data: Mapping[str, Any], repo_root: Path, snapshot_path: Path, cwd: str = "."
) -> dict[str, str]:
    """Relative `data:` paths (relative to the repository's folder `cwd`, the config's) that exist in the
    checkout but not in the snapshot (untracked or gitignored): path relative to the repository's top
    -> absolute path in the checkout, to be linked into a run's working directory so the command finds
    them where it would in the checkout."""
    root = repo_root.absolute()
    links: dict[str, str] = {}
    for value in spec_data.values():
        rel = relative_path(value, cwd) if isinstance(value, str) else None
        if rel is None:
            continue
        target = root / rel
        if os.path.lexists(target) and not os.path.lexists(snapshot_path / rel):
            links[rel] = str(target)
    return dict(sorted(links.items()))


# ------------------------------------------------------------------------------------- fingerprints


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


#: The user's cache of file hashes (usercache.py): one small JSON file per fingerprinted path, its files'
#: [st_dev, st_ino, size, mtime_ns, ctime_ns, sha256] by relative path, so that data unchanged since the
#: last submit is not read again (as git's index does: a write changes the ctime, which no one sets back).
HASH_CACHE = "data-hashes"
RACY_NS = 2_000_000_000  # a file whose ctime is this recent when hashed is not kept in the cache


def _hash_file(root: Path) -> Path | None:
    directory = usercache.private_dir(HASH_CACHE)
    name = hashlib.sha256(os.fsencode(root)).hexdigest()[:32]
    return directory / f"{name}.json" if directory is not None else None


def _known_hashes(root: Path) -> dict[str, list[Any]]:
    """What the user's cache knows of the files under `root` ({} when nothing, or unreadable)."""
    path = _hash_file(root)
    try:
        data = json.loads(path.read_bytes()) if path is not None else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("root") != os.fsdecode(root):
        return {}
    files = data.get("files")
    return (
        {str(k): v for k, v in files.items() if isinstance(v, list) and len(v) == 6}
        if isinstance(files, dict)
        else {}
    )


def _keep_hashes(root: Path, hashes: dict[str, list[Any]]) -> None:
    """Write what was hashed under `root` to the user's cache (a failure loses nothing but time)."""
    path = _hash_file(root)
    if path is None:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps({"root": os.fsdecode(root), "files": hashes}, separators=(",", ":")))
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _walk(top: Path) -> tuple[dict[str, os.stat_result], dict[str, str], bool]:
    """Regular files (relative path -> stat) and symlinks (relative path -> target) under `top`,
    without following links: a symlink is recorded, not entered. False when MAX_WALK was reached.
    Depth first, each directory's entries by name (os.walk's order), with strings and os.scandir, not
    Path objects: a dataset of 200,000 files is walked at every submit (bench/data_fingerprint.py)."""
    files: dict[str, os.stat_result] = {}
    links: dict[str, str] = {}
    pending = [("", os.fspath(top))]  # (its path relative to top, with a trailing /; its full path)
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:  # unreadable, or gone meanwhile: as os.walk, left out
            continue
        below = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    try:
                        links[rel] = os.readlink(entry.path)
                    except OSError:
                        links[rel] = "?"
                    continue
                if entry.is_dir(follow_symlinks=False):
                    below.append((rel + "/", entry.path))
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                files[rel] = st
                if len(files) >= MAX_WALK:
                    return files, links, False
        pending.extend(reversed(below))  # the first by name is walked next
    return files, links, True


def fingerprint(path: Path, value: str = "") -> Fingerprint:
    """The fingerprint of one file or directory (a symlink at the top is followed: that is the data)."""
    resolved = path.resolve()
    if resolved.is_dir():
        kind = "directory"
        files, links, complete = _walk(resolved)
    else:
        kind = "file"
        files, links, complete = {"": resolved.stat()}, {}, True
    total = sum(st.st_size for st in files.values())
    hashed = complete and total < HASH_MAX_BYTES and len(files) < HASH_MAX_FILES
    entries: dict[str, dict[str, Any]] = {}
    digest = hashlib.sha256()
    kept = len(files) <= MAX_ENTRIES  # past that, the record holds the totals and the digest only
    known = _known_hashes(resolved) if hashed else {}
    hashes: dict[str, list[Any]] = {}  # what the user's cache will know of this path's files
    for rel in sorted(files):
        st = files[rel]
        if not (hashed or kept):  # the many-file path: one line of the digest each, nothing else
            digest.update(f"f {rel}\0{st.st_size}:{st.st_mtime_ns}\n".encode())
            continue
        entry: dict[str, Any] = {"size": st.st_size, "mtime": st.st_mtime}
        if hashed:
            # ctime too: a write changes it even when the mtime is set back (os.utime changes it as well)
            stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            before = known.get(rel)
            try:  # a file unchanged since a submit hashed it (the same stat): not read again
                if before is not None and before[:5] == stamp:
                    sha = before[5]
                else:
                    sha = _sha256(resolved / rel if rel else resolved)
                hashes[rel] = [*stamp, sha]
                entry["sha256"] = sha
            except OSError as exc:  # unreadable: size and mtime only, and say so
                entry["error"] = exc.strerror or str(exc)
        entries[rel] = entry
        content = entry.get("sha256") or f"{st.st_size}:{st.st_mtime_ns}"
        digest.update(f"f {rel}\0{content}\n".encode())
    for rel, target in sorted(links.items()):
        digest.update(f"l {rel}\0{target}\n".encode())
    if hashed:
        # a file changed within the last seconds may change again within the same tick of the file
        # system's clock, leaving its stat as it was: not kept, it is read again next time ("racy git")
        settled = time.time_ns() - RACY_NS
        kept_hashes = {rel: item for rel, item in hashes.items() if item[4] < settled}
        if kept_hashes != known:
            _keep_hashes(resolved, kept_hashes)
    record: Fingerprint = {
        "value": value or str(path),
        "path": str(resolved),
        "kind": kind,
        "files": len(files),
        "bytes": total,
        "hashed": hashed,
        "method": "sha256" if hashed else "size+mtime",
        "digest": digest.hexdigest(),
        "complete": complete,
    }
    if not hashed:
        record["why_not_hashed"] = (
            f"more than {MAX_WALK} files"
            if not complete
            else f"{len(files)} files, {total} bytes (hashed below {HASH_MAX_FILES} files and "
            f"{HASH_MAX_BYTES} bytes)"
        )
    if kept:
        record["entries"] = entries
    if links:
        record["symlinks"] = dict(sorted(links.items())[:MAX_ENTRIES])
    return record


def fingerprints(
    data: Mapping[str, Any], repo_root: Path, cache: dict[str, Fingerprint] | None = None, cwd: str = "."
) -> dict[str, Fingerprint]:
    """key -> fingerprint of every `data:` value that names an existing file or directory (relative:
    to the repository's folder `cwd`). `cache` (resolved path -> fingerprint) lets the members of a
    submission share one fingerprint per path."""
    out: dict[str, Fingerprint] = {}
    for key, path in data_paths(data, repo_root, cwd).items():
        value = str(data[key])
        cache_key = f"{path.resolve()}\0{value}"
        if cache is not None and cache_key in cache:
            out[key] = cache[cache_key]
            continue
        try:
            found = fingerprint(path, value)
        except OSError as exc:
            found = {"value": value, "path": str(path), "error": exc.strerror or str(exc)}
        if cache is not None:
            cache[cache_key] = found
        out[key] = found
    return out


# --------------------------------------------------------------------------------------- comparison


def _shown(value: str, rel: str) -> str:
    return f"{value.rstrip('/')}/{rel}" if rel else value


def _entry_changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    if a.get("sha256") and b.get("sha256"):
        return "content changed since the original run" if a["sha256"] != b["sha256"] else ""
    if a.get("size") != b.get("size") or a.get("mtime") != b.get("mtime"):
        return "modified since the original run (size or mtime differs; content not hashed)"
    return ""


def _same_path_diff(value: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str]]:
    if a.get("kind") != b.get("kind"):
        return [(value, f"was a {a.get('kind')}, now a {b.get('kind')}")]
    entries_a, entries_b = a.get("entries"), b.get("entries")
    out: list[tuple[str, str]] = []
    if isinstance(entries_a, dict) and isinstance(entries_b, dict):
        for rel in sorted(set(entries_a) | set(entries_b)):
            if rel not in entries_b:
                out.append((_shown(value, rel), "file removed since the original run"))
            elif rel not in entries_a:
                out.append((_shown(value, rel), "file added since the original run"))
            else:
                change = _entry_changed(entries_a[rel], entries_b[rel])
                if change:
                    out.append((_shown(value, rel), change))
        links_a, links_b = a.get("symlinks") or {}, b.get("symlinks") or {}
        for rel in sorted(set(links_a) | set(links_b)):
            if links_a.get(rel) != links_b.get(rel):
                out.append((_shown(value, rel), "symlink changed since the original run"))
        return out
    # too many files for a per-file record: the totals and the digest say whether anything changed
    if a.get("method") == b.get("method") and a.get("digest") == b.get("digest"):
        return []
    if (a.get("files"), a.get("bytes")) != (b.get("files"), b.get("bytes")):
        what = f"{a.get('files')} -> {b.get('files')} files, {a.get('bytes')} -> {b.get('bytes')} bytes"
    elif a.get("method") != b.get("method"):
        return [(value, "fingerprinted differently (sha256 / size+mtime); cannot tell whether it changed")]
    else:
        what = f"{a.get('files')} files; which ones is not recorded past {MAX_ENTRIES} files"
    return [(value, f"content changed since the original run ({what})")]


def diff(
    fps_a: Mapping[str, Mapping[str, Any]],
    fps_b: Mapping[str, Mapping[str, Any]],
    data_a: Mapping[str, Any] | None = None,
    data_b: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """(path, what changed) between two runs' fingerprints, run A being the original. `data_a/b` are
    the runs' `data:` sections: a key fingerprinted in one run only is a path that differs, or a path
    that was added or removed."""
    data_a, data_b = data_a or {}, data_b or {}
    out: list[tuple[str, str]] = []
    for key in sorted(set(fps_a) | set(fps_b)):
        a, b = fps_a.get(key), fps_b.get(key)
        value_a = str(a["value"]) if a else str(data_a.get(key, ""))
        value_b = str(b["value"]) if b else str(data_b.get(key, ""))
        if value_a != value_b:
            out.append((f"data.{key}", f"path differs: {value_a or '(none)'} -> {value_b or '(none)'}"))
        elif a is None:
            out.append((value_b, "added since the original run (it did not exist then)"))
        elif b is None:
            out.append((value_a, "removed since the original run"))
        elif a.get("error") or b.get("error"):
            if a.get("error") != b.get("error"):
                out.append((value_a, f"could not be fingerprinted: {a.get('error') or b.get('error')}"))
        else:
            out += _same_path_diff(value_a, a, b)
    return out
