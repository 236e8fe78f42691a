"""Whether two runs wrote the same outputs (`compare`, `reproduce`): their files, by path and size, then
by content, read side by side until the first difference, within a budget of bytes.

Matching metrics say the results agree at the precision they were logged; this says whether the runs
wrote the same bytes (a checkpoint from an unseeded program differs although its printed loss does not).
Files are opened as a run's files always are: never through a symlink, never outside the registry.

A file one run wrote under a directory named by the time it started (Hydra's outputs/2026-12-04/21-51-13,
wandb's run-20261204_215113-x) is compared with the other run's file at the same path but for its dates
and times, when each run has exactly one such file: otherwise every file of two identical runs would
be 'only in A' and 'only in B'.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.records.paths import open_nofollow
from clusterrun.records.registry import Run

#: At most this many bytes are read from each run (same-size files beyond it are counted, not read).
BUDGET_BYTES = 256 * 1024 * 1024
_BLOCK = 1024 * 1024

#: a date, with or without a time of day (2026-12-04, 20261204_215113, 2026-12-04T21:51:13), or a time
#: of day alone with its separators (21-51-13, 21:51:13): what tools name a run's output directory by
_STAMP = re.compile(
    r"(?<!\d)(?:(?:19|20)\d\d(?P<sep>-?)[01]\d(?P=sep)[0-3]\d(?:[T_-]?[0-2]\d[-:]?[0-5]\d[-:]?[0-5]\d)?"
    r"|[0-2]\d([-:])[0-5]\d\2[0-5]\d)(?!\d)"
)
TIME = "*"  #: what a date or time stands as in a path paired without it


#: what follows `tfevents.` in a TensorBoard event file's name: the time it was opened, the host, the
#: writer's pid (`events.out.tfevents.1796689635.node12.4242.0`)
_EVENTS = re.compile(r"(?<=\.tfevents\.)[^/]+$")
#: a wandb run's id beside its time, in its folder and its file (`offline-run-<time>-m8xmvrb3/`,
#: `run-m8xmvrb3.wandb`): random for each run
_WANDB_ID = re.compile(r"((?:^|/)(?:offline-)?run-(?:\*-)?)[a-z0-9]{8}(?=[/.]|$)")


def timeless(path: str) -> str:
    """`path` with each date and time in it set aside (as TIME), and what is named by them: what follows
    a TensorBoard event file's `tfevents.`, a wandb run's id."""
    path = _EVENTS.sub(TIME, _STAMP.sub(TIME, path))
    return _WANDB_ID.sub(rf"\g<1>{TIME}", path) if "wandb/" in path else path


def _timed(path: str) -> bool:
    """Whether `path` has a date, time or run id in it (timeless changes it)."""
    return timeless(path) != path


@dataclass
class OutputDiff:
    """Files present in either run: how many were compared, which differ and how, how many were not
    read (over the budget, or unreadable)."""

    files: int = 0  # in either run (a pair of files at paths that differ in their times only: one)
    differ: list[tuple[str, str]] = field(default_factory=list)  # (path, what differs)
    paired: list[tuple[str, str]] = field(default_factory=list)  # (path in A, path in B) told apart by times
    unchecked: list[str] = field(default_factory=list)  # same path and size, content not read
    gone: list[str] = field(default_factory=list)  # runs whose working copy was removed (clusterrun gc)
    #: the same but for what differs each time such a file is written (alike): each run's own directory
    #: written in it, torch.save's id in a PyTorch checkpoint
    alike: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "differ": [{"path": path, "change": change} for path, change in self.differ],
            "unchecked": self.unchecked,
            "workdir_removed": self.gone,
            "paired": [{"a": a, "b": b} for a, b in self.paired],
            "alike": self.alike,
        }


def between(
    run_a: Run, files_a: list[tuple[str, int]], run_b: Run, files_b: list[tuple[str, int]]
) -> OutputDiff:
    """diff(), but where a run's working copy was removed (`clusterrun gc` keeps records and artifacts/),
    only what both still have is compared: artifacts/, never 'only in A' for files that merely went."""
    gone = [run.id for run in (run_a, run_b) if not (run.path / WORKDIR).is_dir()]
    if gone:
        files_a = [f for f in files_a if not f[0].startswith(f"{WORKDIR}/")]
        files_b = [f for f in files_b if not f[0].startswith(f"{WORKDIR}/")]
    found = diff(run_a, files_a, run_b, files_b)
    found.gone = gone
    return found


def diff(
    run_a: Run,
    files_a: list[tuple[str, int]],
    run_b: Run,
    files_b: list[tuple[str, int]],
    budget: int = BUDGET_BYTES,
) -> OutputDiff:
    """The outputs of run A against run B (output_files of each: path relative to the run, size). A
    file of one run at a path the other lacks is compared with the other's file at the same path but
    for its dates and times (reported at A's path, as `paired`), when that file is the only one of
    either run there."""
    sizes_a, sizes_b = dict(files_a), dict(files_b)
    pairs = {a: a for a in sizes_a if a in sizes_b}
    pairs.update(_paired_by_time(sorted(set(sizes_a) - set(sizes_b)), sorted(set(sizes_b) - set(sizes_a))))
    taken_b = set(pairs.values())
    paired = sorted((a, b) for a, b in pairs.items() if a != b)
    out = OutputDiff(files=len(set(sizes_a) | set(sizes_b)) - len(paired), paired=paired)
    for path in sorted(set(sizes_a) | (set(sizes_b) - taken_b)):
        other = pairs.get(path)
        if path not in sizes_a:
            out.differ.append((path, "only in B"))
        elif other is None:
            out.differ.append((path, "only in A"))
        elif sizes_a[path] != sizes_b[other]:
            out.differ.append((path, f"{sizes_a[path]:,} vs {sizes_b[other]:,} bytes"))
        elif sizes_a[path] > budget:
            out.unchecked.append(path)
        else:
            same = _same_bytes(run_a, path, run_b, other)
            budget -= sizes_a[path]
            if same is None:
                out.unchecked.append(path)
            elif not same and _alike(run_a, path, run_b, other):
                out.alike.append(path)
            elif not same:
                out.differ.append((path, "content differs"))
    return out


#: files up to this size that differ are read again whole, for what differs each time a file is written
_ALIKE_BYTES = 64 * 1024 * 1024
#: a zip member that torch.save writes anew, different, each time (PyTorch >= 2.5)
_SAVE_IDS = (".data/serialization_id",)


def _alike(run_a: Run, path_a: str, run_b: Run, path_b: str) -> bool:
    """Whether two files of the same size differ only in what differs each time such a file is written:
    each run's own directory written in it (Lightning's checkpoint keeps its callbacks' paths,
    <run>/work/lightning_logs/...), and in a zip (a PyTorch checkpoint) the id torch.save writes anew
    and the checksums that follow from them. Each run's directory is replaced by one placeholder (run
    ids of one name are as long as each other: a time stamp), a zip compared member by member."""
    try:
        if run_a.file(path_a).stat().st_size > _ALIKE_BYTES:
            return False
        with open_nofollow(run_a.file(path_a)) as one, open_nofollow(run_b.file(path_b)) as other:
            data_a, data_b = one.read(), other.read()
    except (OSError, ClusterrunError):
        return False
    own_a, own_b = (str(run.path).encode() for run in (run_a, run_b))
    if len(own_a) != len(own_b):
        return False
    mark = b"\0" * len(own_a)

    def same(one: bytes, other: bytes) -> bool:
        return one.replace(own_a, mark) == other.replace(own_b, mark)

    if data_a[:4] == data_b[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data_a)) as zip_a, zipfile.ZipFile(io.BytesIO(data_b)) as zip_b:
                names = zip_a.namelist()
                if names != zip_b.namelist():
                    return False
                return all(
                    name.endswith(_SAVE_IDS) or same(zip_a.read(name), zip_b.read(name)) for name in names
                )
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError):
            return False
    return own_a in data_a and same(data_a, data_b)


def _paired_by_time(only_a: list[str], only_b: list[str]) -> dict[str, str]:
    """Paths of A -> paths of B that are the same but for their dates and times, each the only one of
    its run at that timeless path (two of a run's runs of a tool under one directory are not guessed)."""
    alone_a, alone_b = _alone_by_time(only_a), _alone_by_time(only_b)
    return {path: alone_b[key] for key, path in alone_a.items() if key in alone_b}


def _alone_by_time(paths: list[str]) -> dict[str, str]:
    """timeless(path) -> path, for the paths with a date or time in them that are alone at theirs."""
    found: defaultdict[str, list[str]] = defaultdict(list)
    for path in paths:
        if _timed(path):
            found[timeless(path)].append(path)
    return {key: group[0] for key, group in found.items() if len(group) == 1}


def _same_bytes(run_a: Run, path_a: str, run_b: Run, path_b: str) -> bool | None:
    """Whether the two runs' files hold the same bytes; None when either cannot be read."""
    try:
        with open_nofollow(run_a.file(path_a)) as one, open_nofollow(run_b.file(path_b)) as other:
            while True:
                block = one.read(_BLOCK)
                if block != other.read(_BLOCK):
                    return False
                if not block:
                    return True
    except (OSError, ClusterrunError):
        return None
