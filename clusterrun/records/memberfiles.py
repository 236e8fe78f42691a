"""The files of a sweep's members kept at the sweep level until their jobs start: config.yaml, command.sh
(and the copy of a config_file, records/config_copy.py).

A submitted sweep's member is a complete run directory (../shared/DESIGN.md, "The run directory"), but
what its config.yaml and command.sh hold is written once for every member, in two files of the sweep's
directory, instead of two new files in each member's: creating a file is most of what a member costs on
most disks (bench/member_files.py), and a sweep of 1,000 made 2,000 of them before its first job could
start. `member-files.txt` holds the texts one after the other; `member-files.json` says where each
member's are (bytes from the start, and how many), by run id. Neither is ever changed once written.

A member's job writes its two files into its directory when it starts (materialise, from the job's
wrapper): from then on it is whole, as any run is. Until then a reader asks `text(run_dir, name, sweep)`,
which reads the member's own file when there is one and its sweep's copy otherwise. Every path taken here
stays inside the registry (records/paths.py): the sweep's directory is the member's sibling, named by
the manifest's `sweep` (a plain name, else nothing is read), and no symlink in it is followed out.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from clusterrun.config.placeholders import CONFIG_FILE_DIR
from clusterrun.errors import ClusterrunError
from clusterrun.records.jsonio import file_mode, write_text_atomic
from clusterrun.records.paths import open_nofollow, read_text, run_file

TEXTS = "member-files.txt"
INDEX = "member-files.json"
#: The files of a member kept at the sweep level, and whether each is executable.
FILES = {"config.yaml": False, "command.sh": True}


def write(sweep_dir: Path, texts: dict[str, dict[str, str]]) -> None:
    """The members' files (`texts`: run id -> file name -> text) written into the sweep's directory: the
    texts first, then the index that finds them (a reader that finds the index finds every text)."""
    where: dict[str, dict[str, list[int]]] = {}
    pieces: list[str] = []
    offset = 0
    for run_id, files in texts.items():
        where[run_id] = {}
        for name, piece in files.items():
            size = len(piece.encode("utf-8"))
            where[run_id][name] = [offset, size]
            pieces.append(piece)
            offset += size
    write_text_atomic(sweep_dir / TEXTS, pieces)
    index = {"version": 1, "texts": TEXTS, "members": where}  # compact: a job reads it as it starts
    write_text_atomic(sweep_dir / INDEX, json.dumps(index, sort_keys=True, separators=(",", ":")))


def _sweep_dir(run_dir: Path, sweep: str | None) -> Path | None:
    """The member's sweep directory, when `sweep` is a plain name (a sibling of the member's)."""
    if not sweep or sweep in (".", "..") or sweep.startswith(".") or "/" in sweep or os.sep in sweep:
        return None
    return run_dir.parent / sweep


def kept(run_dir: Path, sweep: str | None) -> dict[str, str]:
    """The member's files as its sweep keeps them (name -> text); {} when the sweep keeps none for it
    (not a member, a member made whole, an index or texts missing, unreadable or damaged)."""
    folder = _sweep_dir(run_dir, sweep)
    if folder is None:
        return {}
    try:
        with open_nofollow(run_file(folder, INDEX)) as handle:
            index = json.load(handle)
        places = index["members"].get(run_dir.name) if isinstance(index, dict) else None
        if not isinstance(places, dict):
            return {}
        found: dict[str, str] = {}
        with open_nofollow(run_file(folder, TEXTS)) as handle:
            for name, place in places.items():
                if not _kept_name(name) or not isinstance(place, list) or len(place) != 2:
                    continue
                offset, length = int(place[0]), int(place[1])
                handle.seek(offset)
                data = handle.read(length)
                if len(data) != length:  # a texts file shorter than its index: damaged
                    return {}
                found[name] = data.decode("utf-8", errors="replace")
        return found
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ClusterrunError):
        return {}


def _kept_name(name: str) -> bool:
    """config.yaml, command.sh, or the run's copy of its config_file (config_file/<a plain name>)."""
    if name in FILES:
        return True
    folder, _, rest = name.partition("/")
    return folder == CONFIG_FILE_DIR and bool(rest) and "/" not in rest and not rest.startswith(".")


def text(run_dir: Path, name: str, sweep: str | None) -> str | None:
    """The text of the run's `name` (config.yaml, command.sh): its own file, else its sweep's copy;
    None when neither is there."""
    with contextlib.suppress(OSError, ClusterrunError):
        return read_text(run_file(run_dir, name))
    if name not in FILES:
        return None
    return kept(run_dir, sweep).get(name)


def materialise(run_dir: Path, sweep: str | None) -> list[str]:
    """The member's files its sweep keeps, written into its directory where they are missing (each
    replaced in one step: ranks of one job starting together write the same text, and none runs half a
    command.sh). Returns the names written; [] for a run that has its own (every run but a submitted
    sweep's member before its job starts)."""
    missing = [name for name in FILES if not os.path.lexists(run_dir / name)]
    if not missing:
        return []
    texts = kept(run_dir, sweep)
    written = []
    for name in missing:
        if name in texts:
            write_text_atomic(run_dir / name, texts[name], mode=file_mode(run_dir, FILES[name]))
            written.append(name)
    for name in texts:  # the copy of its config_file, with the two (in its folder, made here)
        if name not in FILES and not os.path.lexists(run_dir / name):
            (run_dir / CONFIG_FILE_DIR).mkdir(exist_ok=True)
            write_text_atomic(run_dir / name, texts[name], mode=file_mode(run_dir))
            written.append(name)
    return written
