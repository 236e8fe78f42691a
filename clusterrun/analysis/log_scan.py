"""The last value each metrics pattern finds in a log, read from the end.

A status row of a running job shows the last value of each of its patterns (`loss=...` in stdout.log),
and every refresh looked for them over the log's last 64 MB, through every match: a job that printed a
line per step had a million matches there, and a refresh took 11 s and 130 MB for two patterns. The
last value is almost always in the last few lines, so `last_values` reads the log backwards in chunks
that start at a line's start (16 KB, then four times more each time, up to CHUNK_MAX) and stops for
each pattern at the first chunk that holds a match whose number reads: the same value the whole
window's scan finds, since a match never spans lines (a pattern that could: one anchored with ^ or $,
or with a look-behind, is looked for over the whole window instead, as before). A pattern that matches
nothing reads the whole window, a chunk at a time, in bounded memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from clusterrun.analysis.patterns import finditer
from clusterrun.records.paths import open_nofollow

FIRST_CHUNK = 16 * 1024
CHUNK_MAX = 4 * 1024 * 1024

_ESCAPED = re.compile(r"\\.")  # an escaped character (\^, \$, \b ...): not an anchor


def whole_window(pattern: str) -> bool:
    """Whether the pattern must be looked for over the whole window at once: anchors (^, $, \\A, \\Z,
    and the flags that change them or the dot) and look-behinds depend on what precedes a chunk."""
    if "\\A" in pattern or "\\Z" in pattern or "(?<" in pattern or re.search(r"\(\?[a-z]*[ms]", pattern):
        return True
    plain = _ESCAPED.sub("", pattern).replace("[^", "[")
    return "^" in plain or "$" in plain


def _last(pattern: re.Pattern[str], text: str, read: Callable[[str], float | None]) -> float | None:
    """The number of the last match in `text` whose first group reads as one, else None."""
    value = None
    for match in finditer(pattern, text):
        number = read(match.group(1))
        if number is not None:
            value = number
    return value


def last_values(
    log: Path, patterns: Mapping[str, re.Pattern[str]], max_bytes: int, read: Callable[[str], float | None]
) -> dict[str, float]:
    """{name: the number of the pattern's last match over the log's last `max_bytes`} for the patterns
    that match there (`read`: a group's text as a number, or None when it is not one); {} when the log
    cannot be read (never through a symlink)."""
    found: dict[str, float] = {}
    try:
        with open_nofollow(log) as handle:
            size = os.fstat(handle.fileno()).st_size
            floor = max(0, size - max_bytes)
            whole = {name: p for name, p in patterns.items() if whole_window(p.pattern)}
            if whole:
                handle.seek(floor)
                text = handle.read().decode(errors="replace")
                for name, pattern in whole.items():
                    value = _last(pattern, text, read)
                    if value is not None:
                        found[name] = value
                del text
            pending = {name: p for name, p in patterns.items() if name not in whole}
            end, want = size, FIRST_CHUNK
            while pending and end > floor:
                start = max(floor, end - want)
                handle.seek(start)
                data = handle.read(end - start)
                if start > floor:  # from the first line that starts in the chunk
                    cut = data.find(b"\n") + 1
                    if not cut or cut == len(data):  # no line starts in it (a long line): a bigger one
                        want = min(want * 4, max(CHUNK_MAX, end - floor))
                        continue
                    data, start = data[cut:], start + cut
                text = data.decode(errors="replace")
                for name, pattern in list(pending.items()):
                    value = _last(pattern, text, read)
                    if value is not None:
                        found[name] = value
                        del pending[name]
                end, want = start, min(want * 4, CHUNK_MAX)
    except OSError:
        return {}
    return found
