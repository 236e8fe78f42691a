"""Fingerprints of the data a run reads: the paths named under `data:` in its config.

Code is pinned by the snapshot; data usually is not (it is untracked, gitignored or outside the
repository). At submit, every `data:` value that names an existing file or directory (absolute, or
relative to the repository root) is fingerprinted: size and mtime of every file, and a sha256 of the
content when that is cheap. Two runs' fingerprints are then compared by path, so a reproduction that
read other data says which file changed. File-only: no git, no subprocess.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

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


def _walk(top: Path) -> tuple[dict[str, os.stat_result], dict[str, str], bool]:
    """Regular files (relative path -> stat) and symlinks (relative path -> target) under `top`,
    without following links: a symlink is recorded, not entered. False when MAX_WALK was reached."""
    files: dict[str, os.stat_result] = {}
    links: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]:
            full = base / name
            rel = full.relative_to(top).as_posix()
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    links[rel] = os.readlink(full)
                except OSError:
                    links[rel] = "?"
            elif stat.S_ISREG(st.st_mode):
                files[rel] = st
                if len(files) >= MAX_WALK:
                    return files, links, False
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
    lines = []
    for rel in sorted(files):
        st = files[rel]
        entry: dict[str, Any] = {"size": st.st_size, "mtime": st.st_mtime}
        if hashed:
            try:
                entry["sha256"] = _sha256(resolved / rel if rel else resolved)
            except OSError as exc:  # unreadable: size and mtime only, and say so
                entry["error"] = exc.strerror or str(exc)
        entries[rel] = entry
        content = entry.get("sha256") or f"{st.st_size}:{st.st_mtime_ns}"
        lines.append(f"f {rel}\0{content}\n")
    lines += [f"l {rel}\0{target}\n" for rel, target in sorted(links.items())]
    record: Fingerprint = {
        "value": value or str(path),
        "path": str(resolved),
        "kind": kind,
        "files": len(files),
        "bytes": total,
        "hashed": hashed,
        "method": "sha256" if hashed else "size+mtime",
        "digest": hashlib.sha256("".join(lines).encode()).hexdigest(),
        "complete": complete,
    }
    if not hashed:
        record["why_not_hashed"] = (
            f"more than {MAX_WALK} files"
            if not complete
            else f"{len(files)} files, {total} bytes (hashed below {HASH_MAX_FILES} files and "
            f"{HASH_MAX_BYTES} bytes)"
        )
    if len(entries) <= MAX_ENTRIES:
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
