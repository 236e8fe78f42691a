"""Whether two runs wrote the same outputs (`compare`, `reproduce`): their files, by path and size, then
by content, read side by side until the first difference, within a budget of bytes.

Matching metrics say the results agree at the precision they were logged; this says whether the runs
wrote the same bytes (a checkpoint from an unseeded program differs although its printed loss does not).
Files are opened as a run's files always are: never through a symlink, never outside the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusterrun.errors import ClusterrunError
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.records.paths import open_nofollow
from clusterrun.records.registry import Run

#: At most this many bytes are read from each run (same-size files beyond it are counted, not read).
BUDGET_BYTES = 256 * 1024 * 1024
_BLOCK = 1024 * 1024


@dataclass
class OutputDiff:
    """Files present in either run: how many were compared, which differ and how, how many were not
    read (over the budget, or unreadable)."""

    files: int = 0  # in either run
    differ: list[tuple[str, str]] = field(default_factory=list)  # (path, what differs)
    unchecked: list[str] = field(default_factory=list)  # same path and size, content not read
    gone: list[str] = field(default_factory=list)  # runs whose working copy was removed (clusterrun gc)

    def as_record(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "differ": [{"path": path, "change": change} for path, change in self.differ],
            "unchecked": self.unchecked,
            "workdir_removed": self.gone,
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
    """The outputs of run A against run B (output_files of each: path relative to the run, size)."""
    sizes_a, sizes_b = dict(files_a), dict(files_b)
    out = OutputDiff(files=len(set(sizes_a) | set(sizes_b)))
    for path in sorted(set(sizes_a) | set(sizes_b)):
        if path not in sizes_b:
            out.differ.append((path, "only in A"))
        elif path not in sizes_a:
            out.differ.append((path, "only in B"))
        elif sizes_a[path] != sizes_b[path]:
            out.differ.append((path, f"{sizes_a[path]:,} vs {sizes_b[path]:,} bytes"))
        elif sizes_a[path] > budget:
            out.unchecked.append(path)
        else:
            same = _same_bytes(run_a, run_b, path)
            budget -= sizes_a[path]
            if same is None:
                out.unchecked.append(path)
            elif not same:
                out.differ.append((path, "content differs"))
    return out


def _same_bytes(run_a: Run, run_b: Run, path: str) -> bool | None:
    """Whether the two runs' files hold the same bytes; None when either cannot be read."""
    try:
        with open_nofollow(run_a.file(path)) as one, open_nofollow(run_b.file(path)) as other:
            while True:
                block = one.read(_BLOCK)
                if block != other.read(_BLOCK):
                    return False
                if not block:
                    return True
    except (OSError, ClusterrunError):
        return None
