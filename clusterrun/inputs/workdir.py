"""A private working directory per execution: the snapshot's tree as hard links in real directories.

Every smoke test, job, sweep member and reproduction runs in a directory of its own (`<run>/work/`,
`<run>/smoke/work/`), never in the shared snapshot. Directories are real, so whatever a run creates is
its own; files are hard links to the snapshot's (read-only) files, so a working directory costs
milliseconds and almost no disk. A run that rewrites a tracked file *in place* would change the shared
inode: `check` finds it (size or mtime no longer what the snapshot recorded) and the snapshot is then
marked tainted, so it is rebuilt before it is used again.

This module runs inside jobs (`python -m clusterrun.inputs.workdir`, from command.sh) and imports only the
standard library.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

NAME = "work"  # an execution's working directory, inside its run (or smoke) directory
LISTING = ".clusterrun-files.json"  # in the snapshot: every entry with its size and mtime
MARKER = ".clusterrun-snapshot"
TAINT = ".clusterrun-tainted"
#: In the snapshot: a git directory whose HEAD is the snapshot's commit, sharing the checkout's objects
#: (snapshot.make_git_view). Each working directory's `.git` file points to it, so that `git rev-parse
#: HEAD` in a job (W&B's, MLflow's or the script's own provenance) answers the run's commit, not the
#: checkout's HEAD of the day, which git would otherwise find above the registry.
GIT_VIEW = ".clusterrun-git"
RESERVED = frozenset({LISTING, MARKER, TAINT, GIT_VIEW})
LISTING_LINK = "work.files.json"  # beside a working directory: a hard link to the snapshot's listing
MANY_ARTIFACTS = 50  # past this, the summary keeps a count and the largest ones
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP)


class WorkdirError(RuntimeError):
    """The working directory cannot be made (snapshot missing, incomplete or tainted)."""


@dataclass
class Listing:
    files: dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)
    dirs: list[str]
    links: dict[str, str]  # relative path -> symlink target
    digest: str = ""
    lfs: list[str] | None = None  # the files that are Git LFS pointers (None: not looked for)

    def as_record(self) -> dict[str, Any]:
        record = {
            "digest": self.digest,
            "files": {k: list(v) for k, v in self.files.items()},
            "dirs": self.dirs,
            "links": self.links,
        }
        return record if self.lfs is None else {**record, "lfs": self.lfs}

    @classmethod
    def read(cls, path: Path) -> Listing:
        data = json.loads(path.read_text())
        files = {str(k): (int(v[0]), int(v[1])) for k, v in data.get("files", {}).items()}
        lfs = data.get("lfs")
        return cls(
            files,
            list(data.get("dirs", [])),
            dict(data.get("links", {})),
            str(data.get("digest", "")),
            [str(p) for p in lfs] if isinstance(lfs, list) else None,
        )


def scan(tree: Path) -> Listing:
    """Every directory, file (size, mtime) and symlink below `tree`, the snapshot's own files left out."""
    files: dict[str, tuple[int, int]] = {}
    dirs: list[str] = []
    links: dict[str, str] = {}
    root = str(tree)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in list(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):  # a symlink to a directory: recreated as a link, not walked
                links[prefix + name] = os.readlink(full)
                dirnames.remove(name)
            else:
                dirs.append(prefix + name)
        for name in filenames:
            if not prefix and name in RESERVED:
                continue
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if os.path.islink(full):
                links[prefix + name] = os.readlink(full)
            else:
                files[prefix + name] = (st.st_size, st.st_mtime_ns)
    return Listing(files, sorted(dirs), links)


@dataclass
class Check:
    """What a run did to its working directory, against the snapshot it was made from."""

    modified_in_place: list[str] = field(default_factory=list)  # tracked files changed through the link
    artifacts: list[tuple[str, int]] = field(default_factory=list)  # (path, size): what the run created


def materialise(snapshot: Path, dest: Path, links: dict[str, str] | None = None) -> bool:
    """Make `dest` the snapshot's tree (hard links, real directories), plus symlinks to untracked data
    (`links`: relative path -> absolute target). Returns False when `dest` already exists (a requeued
    attempt or a second call keeps its working directory). Refuses a tainted or incomplete snapshot."""
    if dest.is_dir():
        return False
    if (snapshot / TAINT).exists():
        raise WorkdirError(
            f"snapshot {snapshot} was modified in place by a run ({(snapshot / TAINT).read_text().strip()}); "
            "it is rebuilt at the next submit: resubmit this run"
        )
    try:
        listing = Listing.read(snapshot / LISTING)
    except (OSError, ValueError) as exc:
        raise WorkdirError(f"snapshot {snapshot} is missing or incomplete ({exc})") from None
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        src, out = str(snapshot), str(tmp)
        for rel in listing.dirs:
            os.mkdir(os.path.join(out, rel))
        changed = []
        for rel, (size, mtime_ns) in listing.files.items():
            target = os.path.join(out, rel)
            try:
                os.link(os.path.join(src, rel), target, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _NO_LINK:  # another filesystem, or links not allowed: copy instead
                    raise
                shutil.copy2(os.path.join(src, rel), target)
                continue
            st = os.stat(target)
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                changed.append(rel)
        if changed:
            raise WorkdirError(
                f"snapshot {snapshot} was modified in place since it was made: {', '.join(changed[:5])}; "
                "resubmit (the snapshot is rebuilt)"
            )
        for rel, target in listing.links.items():
            if rel not in (links or {}):  # else made below: a link leaving the repository, as the checkout's
                os.symlink(target, os.path.join(out, rel))
        for rel, target in sorted((links or {}).items()):
            _link_data(tmp, rel, target)
        if (snapshot / GIT_VIEW).is_dir():  # relative: a registry moved whole keeps it
            gitdir = os.path.relpath(snapshot / GIT_VIEW, dest)
            (tmp / ".git").write_text(f"gitdir: {gitdir}\n")
        listing_link = dest.parent / LISTING_LINK
        if not listing_link.exists():
            try:
                os.link(snapshot / LISTING, listing_link)
            except OSError:
                shutil.copy2(snapshot / LISTING, listing_link)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another rank of the same job made it first
            return False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def _link_data(root: Path, rel: str, target: str) -> None:
    """A symlink at `rel` (relative to the working directory) to untracked data in the checkout."""
    path = root / rel
    if os.path.isabs(rel) or ".." in Path(rel).parts:
        return
    if path.exists() or path.is_symlink():  # tracked after all: the snapshot's copy wins
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def check(workdir: Path, data_links: dict[str, str] | None = None) -> Check:
    """Compare a working directory with the listing it was made from: in-place changes and outputs.
    Without the listing (a run made before listings, a damaged one), every regular file that is not a
    hard link to the snapshot is an output: what cannot be told apart is counted, never dropped."""
    result = Check()
    try:
        listing: Listing | None = Listing.read(workdir.parent / LISTING_LINK)
    except (OSError, ValueError):
        listing = None
    skip = set(data_links or {})
    root = str(workdir)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            rel = prefix + name
            if rel == ".git":  # the file materialise wrote (a git view): not the run's output
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if listing is None:  # no listing to compare with: a file of its own is the run's
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                    result.artifacts.append((rel, st.st_size))
                continue
            if os.path.islink(full):
                if rel not in listing.links and rel not in skip:
                    result.artifacts.append((rel, 0))
                continue
            recorded = listing.files.get(rel)
            if recorded is not None and (st.st_size, st.st_mtime_ns) == recorded:
                continue  # the snapshot's file, untouched
            if recorded is not None and st.st_nlink > 1:
                result.modified_in_place.append(rel)  # written through the shared hard link
            result.artifacts.append((rel, st.st_size))
    result.artifacts.sort()
    return result


def run_outputs(
    run_dir: Path, artifacts: Path, work: Path, links: dict[str, str] | None = None
) -> tuple[list[tuple[str, int]], list[str]]:
    """What a run created, every file with its size (its path relative to `run_dir`, sorted): the files
    in `artifacts` and those its working directory `work` gained or rewrote (check); and the tracked
    files it rewrote in place."""
    items: list[tuple[str, int]] = []
    if artifacts.is_dir():
        for path in artifacts.rglob("*"):
            if path.is_file():
                items.append((str(path.relative_to(run_dir)), path.stat().st_size))
    found = check(work, links)
    items += [(f"{work.name}/{rel}", size) for rel, size in found.artifacts]
    return sorted(items), found.modified_in_place


#: The most tracked files rewrote in place a job's own record of its outputs holds (past it, the job
#: records none, and its summary walks the working copy as for a job without one).
MAX_RECORDED_MODIFIED = 1000


def outputs_record(items: list[tuple[str, int]], modified: list[str]) -> dict[str, Any] | None:
    """The job's own record of its outputs (exit.json's `outputs`), read back by recorded_outputs: its
    summary then need not walk the working copy again (a 5,000-file copy: ~70 ms a run)."""
    if len(modified) > MAX_RECORDED_MODIFIED:
        return None
    return {"artifacts": artifacts_record(items, ""), "modified_tracked_files": list(modified)}


def recorded_outputs(record: Any) -> tuple[dict[str, Any], list[str]] | None:
    """(the summary's artifacts record, the tracked files rewritten in place) from exit.json's `outputs`,
    when it is one outputs_record made; None otherwise (absent, from an older clusterrun, or anything
    unexpected in it, such as a path out of the run directory): then the working copy is walked."""
    if not isinstance(record, dict):
        return None
    arts, modified = record.get("artifacts"), record.get("modified_tracked_files")
    if not isinstance(arts, dict) or not isinstance(modified, list):
        return None
    count, total, files, truncated = (arts.get(k) for k in ("count", "total_bytes", "files", "truncated"))
    if not (_count(count) and _count(total) and isinstance(truncated, bool) and isinstance(files, list)):
        return None
    if len(files) > MANY_ARTIFACTS or not all(isinstance(m, str) and _inside(m) for m in modified):
        return None
    for item in files:
        if not (isinstance(item, dict) and set(item) == {"path", "size"} and _count(item["size"])):
            return None
        path = item["path"]
        if not (isinstance(path, str) and _inside(path) and path.split("/", 1)[0] in ("artifacts", NAME)):
            return None
    return dict(arts), list(modified)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _inside(path: str) -> bool:
    """A relative path that stays where it is (no '..', not absolute, no empty part)."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def mark_tainted(snapshot: Path, files: list[str], by: str) -> None:
    """Record that a run changed the snapshot's files in place; `snapshot.create` rebuilds it."""
    with contextlib.suppress(OSError):
        (snapshot / TAINT).write_text(f"{by} changed {', '.join(files[:10])}\n")


def natural_key(path: str) -> list[tuple[int, int | str]]:
    """A sort key where numbers in a name count as numbers: epoch9 < epoch10 < epoch100."""
    return [(1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", path)]


T = TypeVar("T")

#: Files whose sizes are within this share of the largest of them are alike in size (checkpoints that
#: differ by a few bytes: step40.json 25 B, step30.json 24 B).
ALIKE = 0.9


def by_importance(items: Sequence[T], path: Callable[[T], str], size: Callable[[T], int]) -> list[T]:
    """Outputs in the order a person looks for them: largest first; of files alike in size (ALIKE), the
    named ones first (best.pt, last.pt), then the last in number first (epoch_2999.pt before epoch_0.pt:
    the latest checkpoints, not the first ones in the alphabet). A tool's records of its own run, in
    hidden directories (Hydra's .hydra/, wandb's .wandb/), come after everything else."""
    hidden = [any(part.startswith(".") for part in path(i).split("/")[:-1]) for i in items]
    shown = [i for i, h in zip(items, hidden, strict=True) if not h]
    rest = [i for i, h in zip(items, hidden, strict=True) if h]
    return _by_size_and_name(shown, path, size) + _by_size_and_name(rest, path, size)


def _by_size_and_name(items: Sequence[T], path: Callable[[T], str], size: Callable[[T], int]) -> list[T]:
    groups: list[list[T]] = []
    for item in sorted(items, key=lambda i: -size(i)):
        if groups and size(item) >= ALIKE * size(groups[-1][0]):
            groups[-1].append(item)
        else:
            groups.append([item])
    ordered: list[T] = []
    for group in groups:
        numbered = [bool(re.search(r"\d", os.path.basename(path(i)))) for i in group]
        ordered += sorted((i for i, n in zip(group, numbered, strict=True) if not n), key=path)
        ordered += sorted(
            (i for i, n in zip(group, numbered, strict=True) if n),
            key=lambda i: natural_key(path(i)),
            reverse=True,
        )
    return ordered


def artifacts_record(items: list[tuple[str, int]], prefix: str) -> dict[str, Any]:
    """The summary's view of a run's outputs: every file when few, else a count and the first ones
    by_importance."""
    total = sum(size for _, size in items)
    shown = items
    if len(items) > MANY_ARTIFACTS:
        shown = by_importance(items, lambda i: i[0], lambda i: i[1])[:MANY_ARTIFACTS]
    return {
        "count": len(items),
        "total_bytes": total,
        "files": [{"path": f"{prefix}{path}", "size": size} for path, size in shown],
        "truncated": len(items) > MANY_ARTIFACTS,
    }


def main(argv: list[str]) -> int:
    """`python -m clusterrun.inputs.workdir SNAPSHOT DEST [REL=TARGET ...]`: used by command.sh."""
    if len(argv) < 2:
        print("usage: python -m clusterrun.inputs.workdir SNAPSHOT DEST [REL=TARGET ...]", file=sys.stderr)
        return 2
    links = dict(item.split("=", 1) for item in argv[2:] if "=" in item)
    try:
        materialise(Path(argv[0]), Path(argv[1]), links)
    except (WorkdirError, OSError) as exc:
        print(f"clusterrun: cannot make the run's working directory: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
