"""`clusterrun gc` and `clusterrun rm`: what can go, why, and how much disk it really frees.

Whole runs that never ran a job (dry runs, failed smoke tests, refused submissions) older than a cut-off,
snapshots no run or sweep refers to, and the working copies (`work/`, `smoke/work/`) of finished runs
(their records and artifacts/ stay). A run's working copy that holds what the run wrote there (the
outputs of a script that writes relative to its working directory) stays unless --outputs. Never a run
another run reproduces, never a member of a sweep (a finished sweep's members only lose their working
copies), never a run still going.

Sizes count each file once per inode: a working copy is hard links to its snapshot, so removing it
frees only what the run wrote or changed there; the report says so instead of counting the links.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from clusterrun.config.resources import duration_seconds
from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.inputs import workdir
from clusterrun.inputs.snapshot import SNAPSHOT_DIR
from clusterrun.records import index as registry_index
from clusterrun.records import store
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry, Run
from clusterrun.scheduler import TERMINAL

#: Runs that ended before reaching the scheduler: removed whole by gc.
NEVER_RAN = {"dry_run": "dry run", "smoke_failed": "smoke test failed", "not_submitted": "not submitted"}
NEVER_RAN_ALSO = {
    "declined": "declined",
    "submit_failed": "submission failed",
    "interrupted": "interrupted during the smoke test",
}
#: States in which a run may be removed by `rm` (nothing of it is still going).
ENDED = TERMINAL | set(NEVER_RAN) | set(NEVER_RAN_ALSO)
DEFAULT_OLDER_THAN = "1d"
_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{20}$")


@dataclass
class GcItem:
    what: str  # "run", "snapshot", "work", "smoke work"
    run: str  # run id, or the snapshot id
    why: str
    path: Path
    frees: int = 0  # bytes freed by removing this item alone
    files: int = 0
    shared: int = 0  # files that are hard links kept alive elsewhere (free nothing)


@dataclass
class GcPlan:
    items: list[GcItem] = field(default_factory=list)
    frees: int = 0  # bytes freed by removing every item together
    removed: bool = False
    notes: list[str] = field(default_factory=list)
    #: finished runs whose working copy was kept for what the run wrote there: (run id, files, bytes)
    kept_outputs: list[tuple[str, int, int]] = field(default_factory=list)


def parse_age(text: str) -> float:
    """'1d', '12h', '30m', '45s', '2w' -> seconds; anything else is a usage error."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise UsageError(f"--older-than {text!r} is not a duration", hint="e.g. --older-than 1d, 12h, 30m")
    return seconds


# ------------------------------------------------------------------------------------------ sizes


def _inodes(paths: Iterable[Path]) -> dict[tuple[int, int], tuple[int, int, int]]:
    """(dev, ino) -> (links seen under paths, st_nlink, bytes on disk)."""
    seen: dict[tuple[int, int], tuple[int, int, int]] = {}
    for top in paths:
        for dirpath, dirs, files in os.walk(top):
            for name in [*files, *dirs]:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    continue
                key = (st.st_dev, st.st_ino)
                size = st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
                count = seen.get(key, (0, 0, 0))[0]
                seen[key] = (count + 1, st.st_nlink, size)
    return seen


def _frees(inodes: dict[tuple[int, int], tuple[int, int, int]]) -> tuple[int, int, int]:
    """(bytes freed, files, files kept alive by links elsewhere): an inode frees its bytes only when
    every link to it goes."""
    freed = shared = 0
    for count, nlink, size in inodes.values():
        if count >= nlink:
            freed += size
        else:
            shared += 1
    return freed, len(inodes), shared


def _measure(items: list[GcItem]) -> int:
    for item in items:
        item.frees, item.files, item.shared = _frees(_inodes([item.path]))
    return _frees(_inodes(item.path for item in items))[0]


# ------------------------------------------------------------------------------------------ facts


@dataclass(frozen=True)
class _Run:
    """What gc reads of a run's manifest (not the manifest: 10,000 of those held 360 MB)."""

    state: str
    sweep: str | None
    reproduces: str | None
    snapshot_id: str
    created: str
    workdir_links: dict[str, str]

    @classmethod
    def of(cls, m: Manifest) -> _Run:
        return cls(m.state, m.sweep, m.reproduces, m.snapshot.id, m.created, m.workdir_links)


@dataclass
class _Facts:
    runs: dict[str, _Run]
    unreadable: list[str]
    reproduced_by: dict[str, list[str]]
    snapshots_used: set[str]
    sweep_snapshots: set[str]
    going_sweeps: set[str]  # sweeps with a member that has not ended


def _facts(registry: Registry) -> _Facts:
    runs: dict[str, _Run] = {}
    unreadable: list[str] = []
    for run in registry.runs():
        try:
            runs[run.id] = _Run.of(run.load_manifest())
        except ClusterrunError:
            unreadable.append(run.id)
    reproduced_by: dict[str, list[str]] = {}
    used: set[str] = set()
    going: set[str] = set()
    for run_id, r in runs.items():
        if r.reproduces:
            reproduced_by.setdefault(r.reproduces, []).append(run_id)
        if r.snapshot_id:
            used.add(r.snapshot_id)
        if r.sweep and r.state.lower() not in ENDED:
            going.add(r.sweep)
    sweeps: set[str] = set()
    for sweep_id in registry.sweep_ids():
        try:
            sweeps.add(store.read_sweep(registry.root / sweep_id).snapshot.id)
        except ClusterrunError:
            unreadable.append(sweep_id)
    return _Facts(runs, unreadable, reproduced_by, used | sweeps, sweeps, going)


def _age(r: _Run, path: Path) -> float:
    try:
        created = datetime.fromisoformat(r.created).timestamp()
    except ValueError:
        created = path.stat().st_mtime
    return time.time() - created


# ------------------------------------------------------------------------------------------- gc


def _outputs_in(run_path: Path, r: _Run) -> tuple[int, int]:
    """What a finished run wrote or changed in its working copy (workdir.check, which counts every file
    not linked to the snapshot when the listing is missing): (files, bytes)."""
    found = workdir.check(run_path / workdir.NAME, r.workdir_links).artifacts
    return len(found), sum(size for _rel, size in found)


def plan(
    registry: Registry,
    older_than: str = DEFAULT_OLDER_THAN,
    keep_failed: bool = False,
    outputs: bool = False,
) -> GcPlan:
    """What gc would remove (nothing is touched). A finished run's working copy that holds what the run
    wrote there (checkpoints, results: its outputs, which the summary lists as artifacts) is kept unless
    `outputs`, and then only once the run is older than `older_than`; a note says what was kept."""
    min_age = parse_age(older_than)
    kept_outputs: list[tuple[str, int, int]] = []
    facts = _facts(registry)
    result = GcPlan()
    for run_id, r in facts.runs.items():
        path = registry.root / run_id
        state = r.state.lower()
        why = NEVER_RAN.get(state) or NEVER_RAN_ALSO.get(state)
        if why and not r.sweep:
            if keep_failed and state in {"smoke_failed", "submit_failed", "interrupted"}:
                continue
            if run_id in facts.reproduced_by or _age(r, path) < min_age:
                continue
            result.items.append(GcItem("run", run_id, why, path))
            continue
        if state not in TERMINAL:
            continue  # still going (or not known to have ended): untouched
        if keep_failed and state != "completed":
            continue
        if r.sweep and not _sweep_ended(r.sweep, facts):
            continue
        for what, sub in (("work", path / "work"), ("smoke work", path / "smoke" / "work")):
            if not sub.is_dir() or sub.is_symlink():
                continue
            why = f"working copy of a {state} run"
            if what == "work":
                files, size = _outputs_in(path, r)
                if files and not (outputs and _age(r, path) >= min_age):
                    kept_outputs.append((run_id, files, size))
                    continue
                if files:
                    why += f", with its {files} output file(s)"
            result.items.append(GcItem(what, run_id, why, sub))
    result.kept_outputs = kept_outputs
    snapshots = registry.root / SNAPSHOT_DIR
    if facts.unreadable:
        result.notes.append(
            f"snapshots kept: {len(facts.unreadable)} record(s) could not be read "
            f"({', '.join(sorted(facts.unreadable)[:3])})"
        )
    elif snapshots.is_dir():
        going = {i.run for i in result.items if i.what == "run"}
        kept = facts.sweep_snapshots | {
            r.snapshot_id for rid, r in facts.runs.items() if rid not in going and r.snapshot_id
        }
        for snap in sorted(snapshots.iterdir()):
            if not _SNAPSHOT_ID.match(snap.name) or snap.is_symlink() or not snap.is_dir():
                continue
            if snap.name in kept:
                continue
            if snap.name in facts.snapshots_used:  # its runs are removed here (they passed the age test)
                result.items.append(GcItem("snapshot", snap.name, "used only by runs removed here", snap))
            elif time.time() - snap.stat().st_mtime >= min_age:  # a submit may be about to record it
                result.items.append(GcItem("snapshot", snap.name, "no run refers to it", snap))
    result.frees = _measure(result.items)
    return result


def _sweep_ended(sweep_id: str, facts: _Facts) -> bool:
    """Every member of the sweep has ended (once per member, it scanned every run: 10,000 members, 10^8)."""
    return sweep_id not in facts.going_sweeps


def remove(items: list[GcItem]) -> None:
    for item in items:
        _rmtree(item.path)


def gc(
    registry: Registry,
    older_than: str = DEFAULT_OLDER_THAN,
    keep_failed: bool = False,
    yes: bool = False,
    outputs: bool = False,
) -> GcPlan:
    result = plan(registry, older_than, keep_failed, outputs)
    if yes and result.items:
        remove(result.items)
        result.removed = True
    return result


# ------------------------------------------------------------------------------------------- rm


def rm(registry: Registry, run_id: str, yes: bool = False, force: bool = False) -> GcPlan:
    """One run, whole (records, artifacts, working copies); refuses a run still going, a member of a
    sweep still going, and (unless force) a run another run reproduces."""
    run: Run = registry.get(run_id)
    m = run.load_manifest()
    if m.state.lower() not in ENDED:  # as last recorded: the scheduler is asked before it is refused
        _bring_up_to_date(registry, [run.id])
        m = run.load_manifest()
    state = m.state.lower()
    if state not in ENDED:
        raise UsageError(
            f"run {run.id} is {state or 'in an unknown state'}: it may still be going",
            hint=f"cancel it first ('clusterrun cancel {run.id}'), or wait until it ends",
        )
    # the runs that concern this one, found in the registry index and each read: not every manifest
    index = {i: e for i, e in registry_index.entries(registry.root).items() if not e.damaged}
    going = [i for i, e in index.items() if m.sweep and e.sweep == m.sweep and e.state.lower() not in ENDED]
    if going:  # (a member the index is behind on is read as settled, and no scheduler is asked for it)
        _bring_up_to_date(registry, going)
    if any(r.sweep == m.sweep and r.state.lower() not in ENDED for r in _read(registry, going).values()):
        raise UsageError(
            f"run {run.id} is a member of sweep {m.sweep}, which is still going",
            hint="wait until the sweep ends",
        )
    named = [i for i, e in index.items() if e.reproduces == run.id]
    reproducers = [i for i, r in _read(registry, named).items() if r.reproduces == run.id]
    if reproducers and not force:
        raise UsageError(
            f"run {run.id} is reproduced by {', '.join(sorted(reproducers))}",
            hint="pass --force to remove the original anyway",
        )
    result = GcPlan(items=[GcItem("run", run.id, f"requested ({state})", run.path)])
    result.frees = _measure(result.items)
    if yes:
        remove(result.items)
        result.removed = True
    return result


def _bring_up_to_date(registry: Registry, run_ids: list[str]) -> None:
    """Runs recorded as going, brought up to date (one scheduler query; an end that was not yet recorded
    is recorded now): `rm` refused a run that had failed an hour before, as no status had looked since.
    A scheduler that does not answer leaves them as they were (refused, as before)."""
    from clusterrun.services.status import refresh  # here: rm of an ended run asks no scheduler

    refresh(registry, run_ids, keep_summaries=False)


def _read(registry: Registry, run_ids: list[str]) -> dict[str, _Run]:
    """These runs as their own manifests say now: the registry index only names them (its word is never
    the verdict; a settled run's row may be a few minutes behind a hand edit). An unreadable one is left
    out, as gc's facts leave it."""
    found: dict[str, _Run] = {}
    for run_id in run_ids:
        try:
            found[run_id] = _Run.of(registry.listed(run_id).load_manifest())
        except ClusterrunError:
            continue
    return found


def _rmtree(path: Path) -> None:
    """Remove a tree, also with read-only directories (a run may have made some)."""

    def retry(func, target, _exc):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(target)
        try:
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
            func(target)
        except FileNotFoundError:
            pass

    if path.is_symlink():
        path.unlink()
    elif path.exists():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
