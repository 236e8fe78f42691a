"""Notes and tags of runs (`clusterrun note RUN "text"`, `submit --tag T`): lines appended to the run's
notes.jsonl through records/store.py; the manifest is never rewritten for them."""

from __future__ import annotations

import getpass
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterrun.errors import UsageError
from clusterrun.records import store
from clusterrun.records.models import Note
from clusterrun.records.registry import Registry, Run, now_iso

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}")
MAX_NOTE = 10_000  # characters


@dataclass
class RunNotes:
    """What was noted about one run: its tags (each once, in the order added) and its notes."""

    run_id: str
    tags: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [n.text for n in self.notes if n.text]

    def as_record(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "tags": self.tags, "notes": [n.to_data() for n in self.notes]}


def check_tags(tags: Sequence[str]) -> list[str]:
    """Tags as given (comma-separated or repeated), each checked: letters, digits and _ . : + -."""
    out: list[str] = []
    for tag in (t.strip() for value in tags for t in value.split(",")):
        if not tag:
            continue
        if not _TAG.fullmatch(tag):
            raise UsageError(
                f"--tag {tag!r} is not a tag",
                hint="use 1-64 letters, digits and _ . : + - (starting with a letter or digit), "
                "e.g. --tag baseline",
            )
        if tag not in out:
            out.append(tag)
    return out


def read(run: Run) -> RunNotes:
    notes = store.read_notes(run.path)
    tags: list[str] = []
    for note in notes:
        tags += [t for t in note.tags if t not in tags]
    return RunNotes(run.id, tags, notes)


def notes_of(registry: Registry, run_ids: Sequence[str]) -> dict[str, RunNotes]:
    return {run_id: read(registry.get(run_id)) for run_id in run_ids}


def add(
    registry: Registry, run_id: str, text: str = "", tags: Sequence[str] = (), by: str | None = None
) -> RunNotes:
    """Append a note and/or tags to a run (a unique prefix or @latest names it); returns all its notes."""
    run = registry.get(run_id)
    text = text.strip()
    checked = check_tags(tags)
    if not text and not checked:
        raise UsageError(
            "nothing to note", hint=f'give a text or a tag, e.g. clusterrun note {run.id} "lr too high"'
        )
    if "\0" in text or len(text) > MAX_NOTE:
        raise UsageError(f"the note is longer than {MAX_NOTE} characters or holds a NUL", hint="shorten it")
    tag_runs(run, checked, text, by)
    return read(run)


def tag_runs(run: Run, tags: Sequence[str], text: str = "", by: str | None = None) -> None:
    """One notes.jsonl line: the text (if any) and the tags (if any)."""
    fields: dict[str, Any] = {"at": now_iso(), "by": by or getpass.getuser()}
    if text:
        fields["text"] = text
    if tags:
        fields["tags"] = list(tags)
    store.append_note(run.path, Note(**fields))
    run.event("note_added", tags=list(tags), chars=len(text))
