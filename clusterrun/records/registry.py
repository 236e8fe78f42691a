"""The run registry: one directory per run, created race-free, written atomically, never overwritten.

Layout (see DESIGN.md): `<root>/<name>_<YYYYmmdd-HHMMSS>[-n]/` with manifest.json, config.yaml,
command.sh, env.json, events.jsonl, stdout.log, stderr.log, summary.json, artifacts/. The root holds a
`.gitignore` of `*` so the registry never makes the experiment's git tree dirty.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.config.redact import redact_data
from clusterrun.errors import ClusterrunError, RunNotFound, UsageError
from clusterrun.records import perms, store
from clusterrun.records.jsonio import append_jsonl, write_text_atomic
from clusterrun.records.models import (
    SCHEMA_VERSION,
    SWEEP_FILE,
    Manifest,
    StateChange,
    as_manifest,
    require_fields,
)
from clusterrun.records.names import now_iso as now_iso  # where callers have long found it
from clusterrun.records.paths import OutsideRegistry, run_file

__all__ = ["SCHEMA_VERSION", "SWEEP_FILE", "Registry", "Run", "now_iso"]
RUNS_ENV = "CLUSTERRUN_RUNS_DIR"
ADHOC_DIR = ".adhoc"  # where `submit -- COMMAND` keeps the configs it writes (services/adhoc.py)
MAX_ID_BYTES = 255  # a run id is a directory name
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*_\d{8}-\d{6}(-\d+)?$")


def git_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a `.git` (a directory, or the file of a
    worktree or submodule); no subprocess, so `status` stays fast."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def repo_folder(path: Path) -> str:
    """`path`'s folder relative to the top of its git repository ('.' at the top, or outside git)."""
    here = path.resolve()
    top = git_root(here)
    return here.relative_to(top.resolve()).as_posix() if top is not None else "."


@dataclass(frozen=True)
class Run:
    """A run directory and accessors for its files."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """A file of the run; OutsideRegistry when a symlink on the way leads out of the registry."""
        return run_file(self.path, name)

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def load_manifest(self) -> Manifest:
        """The manifest, from any schema version ever written (records/models.py). RunNotFound without
        one; a ClusterrunError when it is damaged or was written by a newer clusterrun."""
        return store.read_manifest(self.path)

    def manifest(self) -> dict[str, Any]:
        """The manifest as JSON data (as on disk, read through load_manifest); prefer load_manifest()."""
        return self.load_manifest().to_data()

    def write_manifest(self, manifest: Manifest | Mapping[str, Any]) -> None:
        store.write_manifest(self.path, as_manifest(manifest, f"run {self.id}: manifest"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the manifest between processes (status, cancel, submit)."""
        with portable.locked(self.path / ".lock"):  # flock, or msvcrt's lock on Windows
            yield

    def update(
        self, state: str | None = None, note: str = "", *, read: Manifest | None = None, **fields: Any
    ) -> Manifest:
        """Re-write the manifest with new fields (atomically, under the run's lock); a state change is
        also an event. Concurrent updates never lose each other's fields. Every field must be one of
        Manifest's (a TypeError otherwise) and its value is validated; unknown fields already in the
        record are kept. `read`: the manifest as the caller read it (or had it from an update), used
        instead of reading the file again when nobody replaced the file since (its _file_stamp is the
        file's still); it is never changed itself (the updated manifest is returned)."""
        require_fields(Manifest, fields, "Run.update")  # before the lock: a bug, not a record problem
        with self.locked():
            return self._update(state, note, fields, read)

    def update_locked(
        self,
        state: str | None,
        note: str,
        events: list[tuple[str, dict[str, Any]]],
        *,
        read: Manifest | None = None,
        **fields: Any,
    ) -> Manifest:
        """`update` for a caller that holds the run's lock already (Run.locked) and writes more under it:
        the state's event is added to `events` ((kind, data) pairs) for the caller to append after its
        own records (Run.events), instead of being appended now."""
        require_fields(Manifest, fields, "Run.update")
        return self._update(state, note, fields, read, events)

    def _update(
        self,
        state: str | None,
        note: str,
        fields: dict[str, Any],
        read: Manifest | None = None,
        events: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> Manifest:
        stamp = read._file_stamp if read is not None else None
        if read is not None and stamp is not None and stamp == store.file_stamp(self.manifest_path):
            # the file is still the one it was read from: no second read and parse. A shallow copy: an
            # update sets top-level fields only, and the caller's copy may be shared (ManifestMemo)
            manifest = read.model_copy()
        else:
            manifest = self.load_manifest()
        was = manifest.state
        if (state is None or state == was) and all(
            name in manifest.model_fields_set and getattr(manifest, name) == value
            for name, value in fields.items()
        ):  # another writer recorded the same meanwhile (watchers that saw the same end): nothing to write
            return manifest
        # the file as written, by member: only the fields that change are encoded again (the lock held,
        # the file is still the one the manifest is: read just now, or by the caller and unreplaced since)
        members = store.manifest_members(self.path, manifest)
        changed = apply_update(manifest, state, note, fields, "Run.update")
        names = {*fields, "state", "state_history"} if changed else set(fields)
        data = manifest.model_dump(mode="python", include=names, exclude_unset=True)
        if members is None or store.rewrite_manifest(self.path, members, data) is None:
            store.write_manifest(self.path, manifest)
        if changed:  # the event follows the record, never the other way round
            if events is not None:
                events.append(("state", {"state": state, "note": note}))
            else:
                self.event("state", state=state, note=note)
            from clusterrun.records import index  # here: index itself reads the registry's names

            if was in index.SETTLED_STATES:  # the index does not look at settled runs: it is told
                index.note_change(self.path, manifest)
        return manifest

    def event(self, kind: str, **data: Any) -> None:
        """Append to events.jsonl, secrets redacted; never through a symlink (OutsideRegistry)."""
        self.events([(kind, data)])

    def events(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`event` of each (kind, data) pair, in order, appended with one write."""
        if not events:
            return
        path = self.file("events.jsonl")
        at = now_iso()
        try:
            append_jsonl(path, *(redact_data({"at": at, "event": kind, **data}) for kind, data in events))
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise OutsideRegistry(
                f"run {self.id}: events.jsonl is a symlink; clusterrun does not write through it",
                hint="remove the link; events.jsonl is a plain file of the run",
            ) from None


def apply_update(manifest: Manifest, state: str | None, note: str, fields: dict[str, Any], who: str) -> bool:
    """An update's new fields and state (with its history entry) applied to the manifest in memory;
    whether the state changed (its event is then appended once the record is written)."""
    manifest.apply(who, **fields)
    changed = state is not None and state != manifest.state
    if state is not None and changed:
        manifest.state = state
        entry = StateChange(state=state, at=now_iso())
        if note:  # absent when empty
            entry.note = note
        manifest.state_history = [*manifest.state_history, entry]
    return changed


def base_id(name: str, when: datetime | None = None) -> str:
    """A run id without its suffix: `<name>_<YYYYmmdd-HHMMSS>` (the time of `when`, else now)."""
    return f"{name}_{(when or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


def suffixed(base: str, n: int) -> str:
    """The run id `base` (n = 0), else `<base>-<n>`."""
    return base if n == 0 else f"{base}-{n}"


class Registry:
    """All runs under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._next_suffix: dict[str, int] = {}
        self.created: list[Run] = []  # the directories this Registry made, oldest first (see discard)
        self._ensured: Path | None = None  # the root ensure() last prepared (create: once per root)
        self._listed: dict[str, Run] = {}  # listed(): one Run per id under _listed_root, shared
        self._listed_root = root

    @classmethod
    def default(cls, explicit: Path | None = None, cwd: Path | None = None) -> Registry:
        """--runs-dir, else $CLUSTERRUN_RUNS_DIR, else runs/ at the top of the git repository holding
        the current directory (so a subdirectory finds the same runs), else ./runs outside git."""
        if explicit is not None:
            return cls(explicit)
        env = os.environ.get(RUNS_ENV)
        if env:
            return cls(Path(env))
        here = (cwd or Path.cwd()).absolute()
        return cls((git_root(here) or here) / "runs")

    def ensure(self) -> None:
        """The root exists, private unless shared (records/perms.py), with its own .gitignore."""
        perms.prepare_root(self.root)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            write_text_atomic(ignore, "# clusterrun's run registry: never part of the experiment's code\n*\n")
        self._ensured = self.root

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """A submission's writes under the registry's umask (perms.writing)."""
        return perms.writing(self.root)

    @property
    def cache_dir(self) -> Path:
        path = self.root / ".cache"
        perms.make_dir(path, parents=True)
        return path

    def create(
        self,
        name: str,
        when: datetime | None = None,
        record: Callable[[Path, str], None] | None = None,
        first_suffix: int | None = None,
    ) -> Run:
        """Make a new run directory; concurrent callers get distinct ids.

        With `record`, the directory appears with its first record in it, so that a submit killed at
        any moment leaves no directory without one: it is made under a hidden name, `record(path, id)`
        writes into it, and it is renamed into place. A rename never replaces a directory that holds a
        file, so of two processes after one id, the second moves on to the next. Without `record`: an
        empty directory (os.mkdir is atomic). `first_suffix`: the first id tried is `<base>-<n>` (a
        member made by a forked worker of one submission, each worker in its own range of ids)."""
        if self._ensured != self.root or not self.root.is_dir():  # a sweep's members: prepared once
            self.ensure()
        base = base_id(name, when)
        # a sweep's members share the second: skip known-taken ids
        start = self._next_suffix.get(base, 0) if first_suffix is None else first_suffix
        for n in range(start, start + 100_000):
            candidate = self.root / suffixed(base, n)
            if record is None:
                if not perms.make_dir(candidate):  # 0700, or 2770 in a shared registry; DiskFull
                    continue
            elif not self._made_with(candidate, record):
                continue
            self._next_suffix[base] = n + 1
            self.created.append(Run(candidate))
            return self.created[-1]
        raise ClusterrunError(f"could not create a run directory for {base}")

    def next_suffix(self, base: str) -> int:
        """The suffix the next run named `base` (base_id) is first tried with."""
        return self._next_suffix.get(base, 0)

    def adopt(self, run_id: str, base: str) -> Run:
        """A run directory made for this process's submission by another process (a forked worker of
        services/fanout.py): counted as made here (discard, the ids taken)."""
        suffix = 0 if run_id == base else int(run_id[len(base) + 1 :])
        self._next_suffix[base] = max(self._next_suffix.get(base, 0), suffix + 1)
        self.created.append(Run(self.root / run_id))
        return self.created[-1]

    def _made_with(self, candidate: Path, record: Callable[[Path, str], None]) -> bool:
        """`candidate` made, with `record` written into it first; False when the id is taken."""
        if os.path.lexists(candidate):
            return False
        hidden = self.root / f".{candidate.name}.{os.getpid()}.new"
        if os.path.lexists(hidden):
            shutil.rmtree(hidden, ignore_errors=True)  # left by a killed process with this pid
        perms.make_dir(hidden)
        try:
            record(hidden, candidate.name)
            os.rename(hidden, candidate)
        except OSError as exc:
            shutil.rmtree(hidden, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                return False  # another process took the id meanwhile
            raise
        except BaseException:
            shutil.rmtree(hidden, ignore_errors=True)
            raise
        return True

    def discard(self, runs: list[Run]) -> None:
        """Remove run directories this Registry made whose submission never reached a scheduler (a
        submission that cannot finish its records, e.g. on a full disk, leaves nothing half-made)."""
        mine = {run.path for run in self.created}
        for run in runs:
            if run.path in mine:
                shutil.rmtree(run.path, ignore_errors=True)
                self.created.remove(run)

    def create_sweep(
        self, name: str, when: datetime | None = None, record: Callable[[Path, str], None] | None = None
    ) -> Run:
        """A sweep's directory, `<name>-sweep_<stamp>`: holds sweep.json and the array's scheduler files
        (`record`: as for create)."""
        return self.create(f"{name}-sweep", when, record)

    def sweep_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if (p / SWEEP_FILE).is_file() and not p.is_symlink()]

    def is_sweep(self, run_id: str) -> bool:
        return bool(run_id) and "/" not in run_id and (self.root / run_id / SWEEP_FILE).is_file()

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if (p / "manifest.json").is_file() and not p.is_symlink()]

    def runs(self) -> Iterator[Run]:
        """All runs, newest first (ids carry the creation time after the name). Lazy: the directory
        names are sorted first and each is checked for a manifest as it is reached, so the newest 20
        of 10,000 runs cost one listing and about 20 stats."""
        try:
            with os.scandir(self.root) as listing:  # is_dir from the listing itself: no stat, no symlink
                names = [
                    e.name for e in listing if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError):  # no registry yet; other errors are the caller's
            return
        root = os.fspath(self.root)
        for run_id in sorted(names, key=_creation_key, reverse=True):
            if os.path.isfile(os.path.join(root, run_id, "manifest.json")):
                yield self.listed(run_id)

    def listed(self, run_id: str) -> Run:
        """A run by an id this registry listed (ids(), runs()) or get() checked: no checks again. One
        Run (immutable) per id, whoever asks: a listing and the refresh it hands 10,000 ids to made
        20,000 of them (3 MB)."""
        if self._listed_root is not self.root:  # the root was replaced (resolved): its runs are new
            self._listed, self._listed_root = {}, self.root
        run = self._listed.get(run_id)
        if run is None:
            run = self._listed[run_id] = Run(self.root / run_id)
        return run

    def get_many(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """`get` of each id (a sweep's members), at the cost of one listing and a stat each: an id the
        registry lists as a directory of its own (not a symlink) with a manifest is that run, as get
        would find; any other id goes through get, with its checks and errors."""
        try:
            with os.scandir(self.root) as listing:
                real = {e.name for e in listing if e.is_dir(follow_symlinks=False)}
        except OSError:
            real = set()
        root = os.fspath(self.root)
        out: dict[str, Run] = {}
        for run_id in run_ids:
            if run_id in real and os.path.isfile(os.path.join(root, run_id, "manifest.json")):
                out[run_id] = self.listed(run_id)
            else:
                out[run_id] = self.get(run_id)
        return out

    def get(self, run_id: str, allow_sweep: bool = False) -> Run:
        """A run (or, if allowed, a sweep) by id, a unique prefix of one, `@latest` or `@latest-failed`;
        hostile ids (paths, '..', symlinks out) are refused."""
        run_id = self.resolve(run_id, allow_sweep)
        if not run_id or "/" in run_id or "\\" in run_id or run_id in {".", ".."} or "\0" in run_id:
            raise UsageError(
                f"{run_id!r} is not a run id",
                hint="run ids look like quickstart_20261129-101500; see 'clusterrun status'",
            )
        path = self.root / run_id
        # a plain name (no separator, not '.' or '..') that is not a symlink stays in the registry
        if path.is_symlink():
            raise UsageError(f"{run_id!r} leaves the run registry {self.root}", hint="use a run id")
        if (path / SWEEP_FILE).is_file() and not (path / "manifest.json").is_file():
            if allow_sweep:
                return Run(path)
            raise UsageError(
                f"{run_id} is a sweep, not a single run",
                hint=f"see its members with: clusterrun status {run_id}",
            )
        if not self.root.is_dir():
            raise RunNotFound(
                f"no run {run_id!r}: there is no run registry at {self.root}",
                hint="cd into the project that made it (runs/ at the top of its git repository), or pass "
                "--runs-dir PATH (or set CLUSTERRUN_RUNS_DIR)",
            )
        if not (path / "manifest.json").is_file():
            close = difflib.get_close_matches(run_id, self.ids() + self.sweep_ids(), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else "list runs with 'clusterrun status'"
            raise RunNotFound(f"no run {run_id!r} in {self.root}", hint=hint)
        return Run(path)

    def resolve(self, text: str, allow_sweep: bool = False) -> str:
        """`@latest`, `@latest-failed`, or a unique prefix -> the full id; anything else unchanged."""
        if len(text.encode(errors="replace")) > MAX_ID_BYTES:  # no file system has such a name
            raise UsageError(
                f"{text[:40]!r}... is {len(text)} characters long: not a run id (at most {MAX_ID_BYTES})",
                hint="copy the id from 'clusterrun status', or type a unique prefix of it",
            )
        if text in ("@latest", "@latest-failed"):
            for run in self.runs():
                if text == "@latest" or run.load_manifest().state in _FAILED_STATES:
                    return run.id
            raise RunNotFound(
                f"no {'failed ' if text != '@latest' else ''}run in {self.root}",
                hint="list runs with 'clusterrun status'",
            )
        if not text or "/" in text or "\\" in text or text in {".", ".."} or (self.root / text).exists():
            return text
        known = self.ids() + (self.sweep_ids() if allow_sweep else [])
        matches = sorted({i for i in known if i.startswith(text)}, key=_creation_key, reverse=True)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            more = f" (and {len(matches) - 5} more)" if len(matches) > 5 else ""
            raise UsageError(
                f"{text!r} matches {len(matches)} runs: {', '.join(matches[:5])}{more}",
                hint="type more of the id, or use @latest",
            )
        return text


#: what @latest-failed looks for: every way a run can end without success (clusterrun's state words)
_FAILED_STATES = frozenset(
    {
        "failed",
        "timeout",
        "out_of_memory",
        "cancelled",
        "node_fail",
        "preempted",
        "boot_fail",
        "deadline",
        "lost",
        "smoke_failed",
        "interrupted",
        "submit_failed",
    }
)


def _creation_key(run_id: str) -> tuple[str, int, str]:
    """`name_YYYYmmdd-HHMMSS-n` -> (stamp, n, id): numeric suffixes, so -10 is newer than -9."""
    stamp = run_id.rsplit("_", 1)[-1]
    parts = stamp.split("-")
    suffix = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    return ("-".join(parts[:2]), suffix, run_id)


def looks_like_run_id(text: str) -> bool:
    return bool(_RUN_ID_RE.match(text))
