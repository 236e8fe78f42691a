"""A log folder of tables as a metrics file: `metrics.file: work/lightning_logs` reads every
`version_N/metrics.csv` below it (Lightning's CSVLogger, Keras' CSVLogger, a csv.DictWriter's per-run
folders), one after the other, as the rows of one file.

A logger that starts a new folder for each process (Lightning's next `version_N` when a requeued job
starts again) leaves the run's metrics in several tables: naming one (`version_0/metrics.csv`) read the
first attempt's and never the rest, so a requeued run's final values were its first attempt's. Naming
the folder reads them all, in order (`version_2` before `version_10`). TensorBoard's event files in a
folder are analysis/tfevents.py's; a folder with event files is read for those.
"""

from __future__ import annotations

import os
from pathlib import Path

from clusterrun.analysis import rowformat, tfevents

MAX_FILES = 256  #: tables read under one folder, at most


def tables(path: Path) -> list[Path]:
    """The tables (.csv, .tsv) below the folder `path` (never through a symlink), in natural order; []
    for anything but a folder, and for a folder of TensorBoard event files (tfevents.py reads those)."""
    if not os.path.isdir(path) or os.path.islink(path):
        return []
    found: list[Path] = []
    for folder, _dirs, files in os.walk(path):  # (os.walk does not follow symlinked folders)
        if any(tfevents.MARK in name for name in files):
            return []  # a TensorBoard log folder (one walk: not tfevents.is_events's, then this)
        if len(found) < MAX_FILES:
            found += [
                Path(folder) / name
                for name in files
                if rowformat.is_table(name) and not os.path.islink(os.path.join(folder, name))
            ]
    return sorted(found, key=tfevents.natural)[:MAX_FILES]


def is_table_folder(path: Path) -> bool:
    """Whether `path` is a folder whose metrics are the tables below it."""
    return bool(tables(path))
