"""Find the user's last Python traceback in a run's logs (chained exceptions included)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_COMMAND_FAILED = "CommandFailed"  # clusterrun's own exception in submitit's log, never the cause


_TB_HEAD = "Traceback (most recent call last):"
#: PyTorch re-raises an exception of a DataLoader worker (or another process) with the worker's own
#: traceback after its message: `KeyError: Caught KeyError in DataLoader worker process 1.`, then this
#: head, the worker's frames and the real exception line.
_ORIGINAL_HEAD = "Original Traceback (most recent call last):"
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")


def last_traceback(text: str) -> str:
    """The last Python traceback in `text`, with the exceptions chained to it; '' when there is none."""
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() == _TB_HEAD]
    if not heads:
        return ""
    start = heads[-1]
    end = _traceback_end(lines, start)
    for head in reversed(heads[:-1]):
        between = [ln.strip() for ln in lines[_traceback_end(lines, head) : start] if ln.strip()]
        if len(between) == 1 and between[0].startswith(_CHAIN):
            start = head
        else:
            break
    return "\n".join(lines[start:end]).rstrip() + "\n"


def _traceback_end(lines: list[str], head: int) -> int:
    """Index after the exception line(s) that close the traceback starting at `head`."""
    i = head + 1
    while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i].strip()):
        i += 1
    i += 1  # the exception line
    # a message may go on over unindented lines, until a blank line, a new traceback or a log record
    while i < len(lines) and lines[i].strip() and not lines[i].startswith((" ", "\t")):
        if lines[i].strip() == _TB_HEAD or lines[i].startswith(_CHAIN) or _looks_like_log_record(lines[i]):
            break
        if lines[i].strip() == _ORIGINAL_HEAD:  # the re-raised exception's own traceback follows
            return _traceback_end(lines, i)
        i += 1
    return min(i, len(lines))


def _looks_like_log_record(line: str) -> bool:
    return bool(
        re.match(r"^(?:\d{4}-\d\d-\d\d|\[|submitit |slurmstepd|srun:|INFO|WARNING|ERROR|DEBUG)", line)
    )


def final_exception(traceback: str) -> str:
    """The exception line of a traceback: the first unindented line after the frames (of the original
    traceback, when PyTorch re-raised a worker's exception)."""
    lines = traceback.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() in (_TB_HEAD, _ORIGINAL_HEAD)]
    if not heads:
        return ""
    for line in lines[heads[-1] + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            return line.strip()
    return ""


_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_LIBRARY = re.compile(r"/(?:site|dist)-packages/|/lib/python\d[\d.]*/|^<")


def user_frame(traceback: str) -> str:
    """Where the user's code raised: the last frame outside installed packages and the standard library,
    as 'train.py line 10, in __getitem__' (a path inside a run's working copy, work/..., is shown from
    there, as is a module imported through the run's .imports/ links: src/pkg/train.py); '' when every
    frame is a library's."""
    found = ""
    for line in traceback.splitlines():
        match = _FRAME.match(line)
        if match and not _LIBRARY.search(match.group("path")):
            path = match.group("path")
            if "/.imports/" in path:  # a link execution/codepath.py made to the run's copy: the copy's path
                path = os.path.realpath(path)
            path = path.split("/work/", 1)[1] if "/work/" in path else path
            found = f"{path} line {match.group('line')}, in {match.group('func')}"
    return found


def find_traceback(logs: Mapping[str, str]) -> tuple[str, str]:
    """(log name, traceback) of the user's last traceback, searching the logs in order.

    clusterrun's own CommandFailed (in submitit's log, raised because the command failed) is skipped.
    """
    for name, text in logs.items():
        traceback = last_traceback(text)
        if traceback and _COMMAND_FAILED not in final_exception(traceback):
            return name, traceback
    return "", ""
