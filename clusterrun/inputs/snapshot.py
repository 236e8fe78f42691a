"""Immutable, content-addressed copies of the code a run executes.

A snapshot is the tracked tree at a commit, plus the dirty patch when there is one, stored under
`<registry>/.snapshots/<id>/` with `id = sha256(commit, patch)`. Identical code shares one snapshot;
a queued or reproduced job never sees later edits, checkouts or deleted branches.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clusterrun.errors import DiskFull, GitError
from clusterrun.inputs import workdir
from clusterrun.inputs.datafp import relative_path, suggest_key
from clusterrun.inputs.outputnames import output_option
from clusterrun.records import perms

if TYPE_CHECKING:
    import git

SNAPSHOT_DIR = ".snapshots"
MARKER = workdir.MARKER  # written last: a snapshot without it is incomplete


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    reused: bool
    digest: str = ""  # sha256 over every file's path and content, recorded when the snapshot was made
    rebuilt: str = ""  # why an existing snapshot was set aside and made anew (it was tainted)
    #: its symlinks whose relative target leaves the repository (escaping_links); None: not looked at
    outside: dict[str, str] | None = None


def escaping_links(links: dict[str, str]) -> dict[str, str]:
    """The committed symlinks whose relative target leaves the repository (`data -> ../datasets`, a
    folder beside the checkout): rel -> target. In a run's copy, under the registry, such a target
    names nothing; the copy makes them point where they do from the checkout (outside_links)."""
    out = {}
    for rel, target in links.items():
        if os.path.isabs(target):
            continue
        inside = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        if inside == ".." or inside.startswith("../"):
            out[rel] = target
    return out


def outside_links(snap: Snapshot, checkout: Path) -> dict[str, str]:
    """rel -> the absolute path that each of the snapshot's escaping links names from the checkout."""
    found = snap.outside
    if found is None:  # a Snapshot made without looking (reproduce's): its listing says
        try:
            found = escaping_links(workdir.Listing.read(snap.path / workdir.LISTING).links)
        except (OSError, ValueError):
            found = {}
    return {
        rel: os.path.normpath(os.path.join(checkout, os.path.dirname(rel), target))
        for rel, target in found.items()
    }


def snapshot_id(commit: str, patch: str) -> str:
    digest = hashlib.sha256(commit.encode() + b"\0" + patch.encode())
    return digest.hexdigest()[:20]


def create(repo_root: Path, commit: str, patch: str, registry: Path) -> Snapshot:
    """Materialise the snapshot for (commit, patch), or return the existing one."""
    sid = snapshot_id(commit, patch)
    root = registry / SNAPSHOT_DIR
    final = root / sid
    rebuilt = ""
    if (final / MARKER).is_file():
        problem, found = _inspect(final)
        if not problem and found is not None:
            ensure_git_view(repo_root, commit, final)
            outside = escaping_links(found.links)
            return Snapshot(sid, final, reused=True, digest=recorded_digest(final), outside=outside)
        rebuilt = problem
        _set_aside(final)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{sid}-", dir=root))
    perms.like_parent(tmp)  # 2770 in a group-shared registry (records/perms.py), else mkdtemp's 0700
    try:
        view = _start_git_view(repo_root, commit, tmp)  # its index is written while the tree is
        try:
            _extract_commit(repo_root, commit, tmp)
            if patch:
                _apply_patch(tmp, patch, ceiling=root)
            listing = seal(tmp)  # listed, digested and made read-only in one pass over the tree
        finally:
            _finish_git_view(view)
        (tmp / workdir.LISTING).write_text(json.dumps(listing.as_record(), sort_keys=True))
        (tmp / MARKER).write_text(f"commit {commit}\nsnapshot {sid}\ndigest {listing.digest}\n")
        for name in (workdir.LISTING, MARKER):
            _read_only(tmp / name)
        try:
            os.rename(tmp, final)
        except OSError:
            if (final / MARKER).is_file():  # a concurrent submit made it first
                _remove(tmp)
                outside = escaping_links(listing.links)  # the same commit's: the same links
                return Snapshot(sid, final, reused=True, digest=recorded_digest(final), outside=outside)
            raise
    except BaseException:
        _remove(tmp)
        raise
    outside = escaping_links(listing.links)
    return Snapshot(sid, final, reused=False, digest=listing.digest, rebuilt=rebuilt, outside=outside)


WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
LFS_MAX_BYTES = 1024  # pointer files are ~130 bytes: only files under this are opened
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def seal(tree: Path) -> workdir.Listing:
    """workdir.scan(tree) with its content_digest, the files made read-only on the way (directories stay
    writable, so the tree can still be deleted): one pass, each file opened once (stat'ed, read and
    chmod'ed through its descriptor). chmod keeps mtimes: the listing stays true."""
    files: dict[str, tuple[int, int]] = {}
    dirs: list[str] = []
    links: dict[str, str] = {}
    hashes: dict[str, str] = {}
    lfs: list[str] = []
    pending = [("", os.fspath(tree))]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():  # to a file or a directory: recreated as a link, not walked
                    links[rel] = os.readlink(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    dirs.append(rel)
                    pending.append((rel + "/", entry.path))
                elif not prefix and entry.name in workdir.RESERVED:
                    continue
                else:
                    files[rel], hashes[rel], pointer = _seal_file(entry.path)
                    if pointer:
                        lfs.append(rel)
    listing = workdir.Listing(files, sorted(dirs), links, lfs=sorted(lfs))
    listing.digest = _digest_of(hashes, links)
    return listing


def _seal_file(path: str) -> tuple[tuple[int, int], str, bool]:
    """A file's (size, mtime_ns), sha256 and whether it is a Git LFS pointer; its write bits taken away."""
    pointer = False
    fd = os.open(path, _READ)
    try:
        info = os.fstat(fd)
        digest = hashlib.sha256()
        # most files in one read: once a read comes short with all the bytes fstat counted, that is
        # the end (no second read for it; a short read before them, as NFS may give, reads on)
        want, seen = min(info.st_size + 1, 1 << 20), 0
        while chunk := os.read(fd, want):
            digest.update(chunk)
            if not seen and info.st_size < LFS_MAX_BYTES:
                pointer = chunk.startswith(LFS_POINTER)
            seen += len(chunk)
            if len(chunk) < want and seen == info.st_size:
                break
            want = 1 << 20
        if info.st_mode & WRITE_BITS:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~WRITE_BITS)
    finally:
        os.close(fd)
    return (info.st_size, info.st_mtime_ns), digest.hexdigest(), pointer


def _digest_of(hashes: dict[str, str], links: dict[str, str]) -> str:
    """content_digest's value from each file's sha256 and each symlink's target."""
    total = hashlib.sha256()
    for rel in sorted(hashes):
        total.update(f"f {rel}\0{hashes[rel]}\n".encode())
    for rel in sorted(links):
        total.update(f"l {rel}\0{links[rel]}\n".encode())
    return total.hexdigest()


def content_digest(tree: Path, listing: workdir.Listing) -> str:
    """sha256 over (path, content) of every file and (path, target) of every symlink, in path order."""
    hashes = {}
    for rel in listing.files:
        digest = hashlib.sha256()
        with open(tree / rel, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        hashes[rel] = digest.hexdigest()
    return _digest_of(hashes, listing.links)


def recorded_digest(path: Path) -> str:
    try:
        for line in (path / MARKER).read_text().splitlines():
            if line.startswith("digest "):
                return line.split(" ", 1)[1].strip()
    except OSError:
        pass
    return ""


def damage(path: Path) -> str:
    """Why an existing snapshot must not be used again ('' when it is sound): a run changed its files
    in place (tainted), a file's size or mtime differs from the listing, or it predates listings."""
    return _inspect(path)[0]


def _inspect(path: Path) -> tuple[str, workdir.Listing | None]:
    """damage(path), and the listing it checked (None when there is none to read)."""
    taint = path / workdir.TAINT
    if taint.exists():
        return f"tainted: {taint.read_text().strip()}", None
    try:
        listing = workdir.Listing.read(path / workdir.LISTING)
    except (OSError, ValueError):
        return "made by an older clusterrun (no file listing)", None
    for rel, recorded in listing.files.items():
        try:
            st = os.lstat(path / rel)
        except OSError:
            return f"{rel} is missing", listing
        if (st.st_size, st.st_mtime_ns) != recorded:
            return f"{rel} was modified in place", listing
    return "", listing


def verify(path: Path) -> str:
    """The snapshot's content digest now, recomputed from its files (for tests and `doctor`)."""
    return content_digest(path, workdir.Listing.read(path / workdir.LISTING))


def _set_aside(path: Path) -> None:
    """Move a damaged snapshot out of the way (jobs that linked its files keep them)."""
    aside = path.with_name(f".damaged-{path.name}-{int(time.time() * 1000)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # a concurrent submit set it aside first
    _remove(aside)


def _extract_commit(repo_root: Path, commit: str, dest: Path) -> None:
    """`git archive COMMIT | tar -x`: git and tar do the work (Python's tarfile with its extraction
    filter lstat's every path twice, 7x slower on a 5,000-file tree; see bench/snapshot.py). The tree's
    listing, for its submodules, is made by git meanwhile."""
    if shutil.which("tar") is None:  # no tar on PATH (minimal images, Windows): Python's own
        import git  # only when a snapshot is built: GitPython's import costs ~80 ms, reuse needs none

        _extract_with_tarfile(git.Repo(repo_root), commit, dest)
        tree = _tree_listing(repo_root, commit).communicate()[0]
    else:
        listing = _tree_listing(repo_root, commit)
        try:
            _extract_with_tar(repo_root, commit, dest)
        finally:
            tree = listing.communicate()[0]
        if listing.returncode != 0:
            raise GitError(f"cannot list the tree of commit {commit[:12]}")
    # `git archive` honours the tree's .gitattributes: export-ignore leaves files out, export-subst
    # rewrites $Format:...$ in them; the snapshot is the commit, so those files come from git as committed
    _undo_export_attributes(repo_root, tree, dest)
    # `git archive` leaves submodules out: each one is archived from its own checkout, at the commit
    # the superproject records (pinned by `commit`, hence by the snapshot id), recursively
    for path, sub_commit in _submodules(tree):
        _extract_submodule(repo_root, path, sub_commit, dest)


def _tree_listing(repo_root: Path, commit: str) -> subprocess.Popen[bytes]:
    """`git ls-tree -r -z COMMIT`, started (read it with communicate())."""
    return subprocess.Popen(
        ["git", "-C", str(repo_root), "ls-tree", "-r", "-z", commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _extract_with_tarfile(repo: git.Repo, commit: str, dest: Path) -> None:
    import git  # only when a snapshot is built: GitPython's import costs ~80 ms, reuse needs none

    buffer = io.BytesIO()
    try:
        repo.archive(buffer, treeish=commit, format="tar")
    except git.GitCommandError as exc:
        raise GitError(f"cannot archive commit {commit[:12]}: {exc.stderr.strip()}") from None
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        # 'tar', not 'data': committed symlinks such as data -> /scratch/datasets must survive
        tar.extractall(dest, filter="tar")


def _extract_with_tar(repo_root: Path, commit: str, dest: Path) -> None:
    archive = subprocess.Popen(
        ["git", "-C", str(repo_root), "archive", "--format=tar", commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert archive.stdout is not None
    # modes follow the process umask and owner is the user, even as root (tar's root defaults differ)
    untar = subprocess.run(
        ["tar", "-x", "--no-same-owner", "--no-same-permissions", "-f", "-", "-C", str(dest)],
        stdin=archive.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    archive.stdout.close()
    archive_err = archive.stderr.read().decode(errors="replace") if archive.stderr else ""
    if archive.stderr:
        archive.stderr.close()
    if archive.wait() != 0:
        raise GitError(f"cannot archive commit {commit[:12]}: {archive_err.strip()}")
    if untar.returncode != 0 and ("No space left" in untar.stderr or "quota exceeded" in untar.stderr):
        raise DiskFull(dest.parent)  # one line, exit 3; the half-made snapshot is removed by create()
    if untar.returncode != 0:
        raise GitError(f"cannot unpack commit {commit[:12]} into the snapshot: {untar.stderr.strip()}")


SUBMODULE_HINT = "git submodule update --init --recursive"


def _common_dir(repo_root: Path) -> Path | None:
    """The checkout's git directory holding its objects and config: .git, or a linked worktree's common
    one (no subprocess); None when it has no object store."""
    dot_git = repo_root / ".git"
    gitdir = dot_git
    if dot_git.is_file():  # a worktree or a submodule: "gitdir: PATH"
        line = dot_git.read_text(errors="replace").strip()
        if not line.startswith("gitdir:"):
            return None
        gitdir = (repo_root / line.removeprefix("gitdir:").strip()).resolve()
        common = gitdir / "commondir"
        if common.is_file():
            gitdir = (gitdir / common.read_text().strip()).resolve()
    return gitdir if (gitdir / "objects").is_dir() else None


_REMOTE_RE = re.compile(r'^\s*\[remote\s+"([^"\]\n]+)"\]\s*$')
_URL_RE = re.compile(r"^\s*url\s*=\s*(\S.*?)\s*$")
_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def _remotes(common: Path) -> list[tuple[str, str]]:
    """(name, url) of the checkout's remotes, from its config, each URL without its user information
    (a token in https://TOKEN@github.com/... is never written anywhere): what W&B and MLflow record as
    the repository's URL."""
    try:
        lines = (common / "config").read_text(errors="replace").splitlines()
    except OSError:
        return []
    found, name = [], ""
    for line in lines:
        section = _REMOTE_RE.match(line)
        if section or line.lstrip().startswith("["):
            name = section.group(1) if section else ""
            continue
        url = _URL_RE.match(line)
        if name and url and '"' not in url.group(1) and "\\" not in url.group(1):
            found.append((name, _USERINFO_RE.sub(r"\1", url.group(1))))
    return found


@dataclass
class _GitView:
    """A git view being made (make_git_view): its directory, and the `git read-tree` writing its index."""

    temporary: Path
    final: Path
    read_tree: subprocess.Popen[bytes]


def make_git_view(repo_root: Path, commit: str, snapshot_dir: Path) -> None:
    """A git directory in the snapshot (workdir.GIT_VIEW) whose HEAD is `commit` (detached), borrowing
    the checkout's objects (alternates) and with that commit's tree as its index (`git read-tree`, a few
    ms), so that git in a run's copy says what the run is: `git rev-parse HEAD` the run's commit, `git
    status` the run's changes (a dirty run's patch, what it wrote). Best effort: without it, the job's
    git finds nothing (command.sh sets GIT_CEILING_DIRECTORIES) rather than the checkout's HEAD."""
    _finish_git_view(_start_git_view(repo_root, commit, snapshot_dir))


def ensure_git_view(repo_root: Path, commit: str, snapshot_dir: Path) -> None:
    """make_git_view for a snapshot made before git views (a no-op once it has one)."""
    if not (snapshot_dir / workdir.GIT_VIEW).is_dir():
        make_git_view(repo_root, commit, snapshot_dir)


def _start_git_view(repo_root: Path, commit: str, snapshot_dir: Path) -> _GitView | None:
    """make_git_view's first half: the files written and `git read-tree` started (a new snapshot's
    extraction goes on meanwhile); None when the checkout's objects cannot be found or written to."""
    common = _common_dir(repo_root)
    if common is None:
        return None
    objects = common / "objects"
    remotes = "".join(f'[remote "{name}"]\n\turl = {url}\n' for name, url in _remotes(common))
    # beside the snapshot until done: inside it, the tree's listing (seal) would take it for code
    temporary = snapshot_dir.parent / f".tmp-view-{snapshot_dir.name}-{os.getpid()}"
    try:
        (temporary / "objects" / "info").mkdir(parents=True)
        (temporary / "refs" / "heads").mkdir(parents=True)
        (temporary / "objects" / "info" / "alternates").write_text(f"{objects.resolve()}\n")
        (temporary / "HEAD").write_text(f"{commit}\n")
        (temporary / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n" + remotes)
        read_tree = subprocess.Popen(
            ["git", f"--git-dir={temporary}", "read-tree", commit],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        )
    except OSError:
        _remove(temporary)
        return None
    return _GitView(temporary, snapshot_dir / workdir.GIT_VIEW, read_tree)


def _finish_git_view(view: _GitView | None) -> None:
    """make_git_view's second half: once its index is written, the view takes its name; else it is
    removed."""
    if view is None:
        return
    try:
        if view.read_tree.wait() != 0:
            raise OSError("git read-tree failed")
        os.rename(view.temporary, view.final)
    except OSError:
        _remove(view.temporary)  # a concurrent submit made it first, or git could not: runs do without


EXPORT_ATTRIBUTES = (b"export-ignore", b"export-subst")


def _tree_entries(tree: bytes) -> list[tuple[str, str, str, str]]:
    """(mode, type, object id, path) of every entry of `git ls-tree -r -z`'s output."""
    found = []
    for entry in tree.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) == 3:
            found.append((fields[0].decode(), fields[1].decode(), fields[2].decode(), os.fsdecode(path)))
    return found


def _blobs(tree: bytes) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) of every file and symlink in `git ls-tree -r -z`'s output."""
    return {path: (mode, oid) for mode, kind, oid, path in _tree_entries(tree) if kind == "blob"}


def _cat_blobs(repo_root: Path, ids: list[str]) -> list[bytes]:
    """The contents of blobs, by one `git cat-file --batch`."""
    answer = subprocess.run(
        ["git", "-C", str(repo_root), "cat-file", "--batch"],
        input="".join(f"{blob}\n" for blob in ids).encode(),
        capture_output=True,
        check=False,
    )
    if answer.returncode != 0:
        raise GitError(f"cannot read files of the commit: {answer.stderr.decode(errors='replace').strip()}")
    out, data, at = [], answer.stdout, 0
    for _ in ids:
        end = data.index(b"\n", at)
        size = int(data[at:end].split()[2])
        out.append(data[end + 1 : end + 1 + size])
        at = end + 1 + size + 1  # the content, then a newline
    return out


def _undo_export_attributes(repo_root: Path, tree: bytes, dest: Path) -> None:
    """When a .gitattributes of the tree sets export-ignore or export-subst (rare: `/tests export-ignore`
    for a release tarball, `$Format:%H$` version stamps), every file and symlink of the tree is written
    as committed over what `git archive` made of it: the snapshot holds the commit, not its export."""
    blobs = _blobs(tree)
    attributes = [path for path in blobs if path.rsplit("/", 1)[-1] == ".gitattributes"]
    if not attributes:
        return
    texts = _cat_blobs(repo_root, [blobs[path][1] for path in attributes])
    if not any(word in text for text in texts for word in EXPORT_ATTRIBUTES):
        return
    paths = sorted(blobs)
    for path, content in zip(paths, _cat_blobs(repo_root, [blobs[p][1] for p in paths]), strict=True):
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        mode = blobs[path][0]
        if mode == "120000":
            os.symlink(os.fsdecode(content), target)
            continue
        # as tar made the others: the mode git records, less the process umask (applied by open)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode == "100755" else 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)


def _submodules(tree: bytes) -> list[tuple[str, str]]:
    """(path, commit) of every submodule (a gitlink, mode 160000) in `git ls-tree -r -z`'s output."""
    return [(path, oid) for mode, _kind, oid, path in _tree_entries(tree) if mode == "160000"]


def _extract_submodule(repo_root: Path, path: str, commit: str, dest: Path) -> None:
    import git  # only when a snapshot is built: GitPython's import costs ~80 ms, reuse needs none

    checkout = repo_root / path
    try:
        git.Repo(checkout).git.cat_file("-e", f"{commit}^{{commit}}")
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(
            f"submodule {path} is not initialised in {repo_root}, so its code cannot be snapshotted",
            hint=SUBMODULE_HINT,
        ) from None
    except git.GitCommandError:
        raise GitError(
            f"submodule {path}: commit {commit[:12]} (recorded by the superproject) is not in its "
            f"repository at {checkout}",
            hint=SUBMODULE_HINT,
        ) from None
    target = dest / path
    target.mkdir(parents=True, exist_ok=True)
    _extract_commit(checkout, commit, target)


def _apply_patch(dest: Path, patch: str, ceiling: Path) -> None:
    import git  # only when a snapshot is built: GitPython's import costs ~80 ms, reuse needs none

    patch_file = dest / ".clusterrun.patch"
    patch_file.write_text(patch)
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(ceiling.resolve()))
    try:
        git.Git(str(dest)).execute(
            ["git", "apply", "--binary", "--whitespace=nowarn", str(patch_file)], env=env
        )
    except git.GitCommandError as exc:
        raise GitError(
            f"the uncommitted changes do not apply to the snapshot: {str(exc.stderr).strip()}",
            hint="commit your changes and submit again",
        ) from None
    finally:
        patch_file.unlink()


def _read_only(path: Path) -> None:
    os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~WRITE_BITS)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------------- notes

NOTE_SHOWN = 5


def lfs_pointers(snapshot_path: Path) -> list[str]:
    """Files of the snapshot that are Git LFS pointer files, not the content they stand for: as its
    listing recorded them when it was made (seal); a snapshot made before that is looked through."""
    try:
        recorded = workdir.Listing.read(snapshot_path / workdir.LISTING).lfs
    except (OSError, ValueError):
        recorded = None
    if recorded is not None:
        return recorded
    found = []
    for dirpath, dirnames, filenames in os.walk(snapshot_path):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or st.st_size >= LFS_MAX_BYTES:
                    continue
                with open(path, "rb") as handle:
                    head = handle.read(len(LFS_POINTER))
            except OSError:
                continue
            if head == LFS_POINTER:
                found.append(path.relative_to(snapshot_path).as_posix())
    return found


def _command_paths(argv: Iterable[str]) -> list[str]:
    """Relative paths an argv may name: plain tokens, and the value of `--flag=value` / `key=value`;
    not the value of an option named for where the program writes (`--output-dir outputs`:
    outputnames.py), which is the run's own to make, not something to link into it."""
    out: dict[str, None] = {}
    previous = ""
    for token in argv:
        flag, previous = previous, token
        if output_option(flag, token) is not None:
            continue
        for candidate in (token, token.split("=", 1)[1] if "=" in token else ""):
            if not candidate or candidate.startswith("-") or os.path.isabs(candidate):
                continue
            if "://" in candidate or "\0" in candidate:
                continue
            norm = os.path.normpath(candidate)
            if norm not in (".", "..") and not norm.startswith("../"):
                out[norm] = None
    return list(out)


def snapshot_notes(
    snapshot_path: Path,
    repo_root: Path,
    argv: Iterable[str],
    data_values: Iterable[object] = (),
    cwd: str = ".",
) -> list[str]:
    """What the snapshot lacks that the checkout has: Git LFS pointer files in place of content, and
    relative paths the command names (relative to the folder it runs in, the config's `cwd`) that exist
    in the checkout but not in the snapshot (untracked or gitignored). `data_values` (the config's
    `data:` values) are left out: they are linked into the run's working directory."""
    notes: list[str] = []
    pointers = lfs_pointers(snapshot_path)
    if pointers:
        shown = ", ".join(pointers[:NOTE_SHOWN]) + (" ..." if len(pointers) > NOTE_SHOWN else "")
        notes.append(
            f"{len(pointers)} file(s) in the snapshot are Git LFS pointer files, not their content: {shown}; "
            f"install git-lfs and run 'git lfs pull', then delete {snapshot_path} so it is made again "
            "(or name the real files under data: with an absolute path)"
        )
    linked = {os.path.normpath(v) for v in data_values if isinstance(v, str) and v}
    for rel in _command_paths(argv):
        inside = relative_path(rel, cwd)
        if inside is None:
            continue
        if rel in linked or os.path.lexists(snapshot_path / inside):
            continue
        if not os.path.lexists(repo_root / inside):
            continue
        notes.append(
            f"{rel} (named in the command) exists in your checkout but not in the snapshot (untracked or "
            f"gitignored), so the run will not find it: name it under data: in the config, e.g. "
            f"data: {{{suggest_key(rel)}: {rel}}} (then it is fingerprinted and linked into the run's "
            "working directory), or commit it"
        )
    return notes
