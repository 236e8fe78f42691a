"""The journal of a scheduler folder's submissions: what was asked of the scheduler, and what it answered.

Before sbatch is called, one small file per call names the runs it carries (in task order), the tag
its job goes under (its name: the run or sweep id) and the job's pickles; the moment sbatch answers,
the job id is added to it (one atomic rewrite), before anything else is written. A submission
interrupted anywhere (Ctrl-C, kill -9, an sbatch that did not answer in time) is recovered from it
by `clusterrun status` (services/adopt.py): an answered call at once, an unanswered one by looking its
tag up in the scheduler. Nothing here is unpickled; the files are JSON.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from clusterrun.records.jsonio import write_text_atomic

#: The journal's directory inside a scheduler folder.
JOURNAL_DIR = ".submissions"


@dataclass(frozen=True)
class Entry:
    """One call of the scheduler's submit command."""

    key: str  # the file's stem: '<ns>-<uuid>', ordered by when the call began
    tag: str  # the job's name in the scheduler (the run id, a sweep's id)
    runs: tuple[str, ...]  # the run directories it carries, task i running runs[i]
    pickles: tuple[str, ...]  # submitit's pickles (file names in the folder), in the same order
    array: bool  # submitted as a job array (task ids '<job>_<i>')
    started: float  # epoch seconds: the call began
    job_id: str = ""  # what the scheduler answered (an array's id), once it did

    def job_of(self, index: int) -> str:
        """The job id of task `index` (the answer itself for a job that is no array)."""
        return f"{self.job_id}_{index}" if self.array else self.job_id

    def index_of(self, run_id: str) -> int | None:
        """Which task carries the run with this id (a run directory's name), or None."""
        for index, run_dir in enumerate(self.runs):
            if Path(run_dir).name == run_id:
                return index
        return None


def _path(folder: Path, key: str) -> Path:
    return folder / JOURNAL_DIR / f"{key}.json"


def _write(folder: Path, entry: Entry) -> None:
    text = json.dumps(asdict(entry), sort_keys=True)
    write_text_atomic(_path(folder, entry.key), text)


def begin(folder: Path, tag: str, runs: list[str], pickles: list[str], array: bool) -> Entry:
    """Note a call about to be made (before the scheduler is asked)."""
    (folder / JOURNAL_DIR).mkdir(parents=True, exist_ok=True)
    entry = Entry(
        key=f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",
        tag=tag,
        runs=tuple(runs),
        pickles=tuple(pickles),
        array=array,
        started=time.time(),
    )
    _write(folder, entry)
    return entry


def answered(folder: Path, entry: Entry, job_id: str) -> Entry:
    """Add the scheduler's answer: one atomic rewrite, the first thing done with it."""
    done = replace(entry, job_id=job_id)
    _write(folder, done)
    return done


def read(folder: Path) -> list[Entry]:
    """Every call noted in a folder, oldest first; unreadable files are skipped."""
    directory = folder / JOURNAL_DIR
    if not directory.is_dir():
        return []
    entries: list[Entry] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries.append(
                Entry(
                    key=str(data["key"]),
                    tag=str(data["tag"]),
                    runs=tuple(str(r) for r in data["runs"]),
                    pickles=tuple(str(p) for p in data.get("pickles", [])),
                    array=bool(data["array"]),
                    started=float(data["started"]),
                    job_id=str(data.get("job_id", "")),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return entries


def place_pickles(folder: Path, entry: Entry) -> None:
    """Give an answered call's pickles the names its tasks look for (submitit's `<job>_submitted.pkl`),
    when the submission was interrupted before it renamed them. A task waits 60 s for its pickle."""
    from submitit.core.utils import JobPaths  # here, not at the top: every `status` imports this module

    if not entry.job_id:
        return
    for index, name in enumerate(entry.pickles):
        source = folder / Path(name).name
        if not source.is_file():
            continue
        target = JobPaths(folder, job_id=entry.job_of(index)).submitted_pickle
        if not target.exists():
            os.replace(source, target)
