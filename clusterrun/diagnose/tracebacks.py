"""Find the user's last Python traceback in a run's logs (chained exceptions included)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_COMMAND_FAILED = "CommandFailed"  # clusterrun's own exception in submitit's log, never the cause


_TB_HEAD = "Traceback (most recent call last):"
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
        i += 1
    return min(i, len(lines))


def _looks_like_log_record(line: str) -> bool:
    return bool(
        re.match(r"^(?:\d{4}-\d\d-\d\d|\[|submitit |slurmstepd|srun:|INFO|WARNING|ERROR|DEBUG)", line)
    )


def final_exception(traceback: str) -> str:
    """The exception line of a traceback: the first unindented line after the frames."""
    lines = traceback.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() == _TB_HEAD]
    if not heads:
        return ""
    for line in lines[heads[-1] + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            return line.strip()
    return ""


def find_traceback(logs: Mapping[str, str]) -> tuple[str, str]:
    """(log name, traceback) of the user's last traceback, searching the logs in order.

    clusterrun's own CommandFailed (in submitit's log, raised because the command failed) is skipped.
    """
    for name, text in logs.items():
        traceback = last_traceback(text)
        if traceback and _COMMAND_FAILED not in final_exception(traceback):
            return name, traceback
    return "", ""
