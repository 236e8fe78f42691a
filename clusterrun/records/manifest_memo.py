"""Manifests read once per change, for a process that reads the same runs again and again (a watch).

A watch of a 1,000-member sweep refreshes every few seconds, and each refresh read and validated every
member's manifest again: about a third of its CPU, though most of them had not changed. `ManifestMemo`
keeps each manifest with the identity of the file it was read from (inode, size, mtime: a manifest is
only ever replaced whole, by rename, so a new one is a new file) and hands it back while the file is
the same. A file changed less than FRESH seconds before it was read is not kept: file times tick
coarsely (a few ms), and two replacements within one tick could otherwise look the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from clusterrun.records import store
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Run

#: A manifest written this recently (seconds) is read again next time rather than kept.
FRESH = store.STAMP_SETTLE


class ManifestMemo:
    """`load(run)`: the run's manifest as `Run.load_manifest` gives it, read again only when its file
    changed. The manifests handed out are shared: callers must not change them (nothing does: an update
    given one as `read` works on a copy, records/registry.py)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[store.Stamp, Manifest]] = {}
        self.reads = 0

    def load(self, run: Run) -> Manifest:
        # taken before the read: a change meanwhile makes the next look read again
        before = store.file_stamp(run.manifest_path)
        kept = self._kept.get(os.fspath(run.path))
        if kept is not None and before is not None and kept[0] == before:
            return kept[1]
        manifest = run.load_manifest()  # its errors (missing, damaged, newer) are the caller's
        self.reads += 1
        if before is not None and store.settled(before, FRESH):
            self._kept[os.fspath(run.path)] = (before, manifest)
        else:
            self._kept.pop(os.fspath(run.path), None)
        return manifest

    def forget(self, paths: Iterable[Path]) -> None:
        """Drop the manifests of these run directories (runs the caller will not ask about again: a
        watch's settled runs), so that what is kept is never more than the runs still going."""
        for path in paths:
            self._kept.pop(os.fspath(path), None)
