"""What slurmstepd (and the kernel under it) writes into a job's logs, as evidence of a verdict.

An OOM kill on a cluster without cgroups is FAILED 0:9 with a CANCELLED step, and a time limit also
prints 'CANCELLED AT': so the kinds are ordered most decisive first, cancellation last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clusterrun.scheduler.base import LogEvidence


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


#: (clusterrun state, pattern), most decisive first; of one state's patterns the first that matches
#: wins. A memory kill's used/limit are in slurmstepd's unit: bytes in recent versions, KB in older
#: ones (the limit, against the requested memory, tells which).
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("out_of_memory", _re(r"exceeded memory limit \((?P<used>\d+) > (?P<limit>\d+)\)")),
    ("out_of_memory", _re(r"exceeded (?:job |step )?memory limit")),
    ("out_of_memory", _re(r"oom[-_ ]kill|out of memory: kill(?:ed)? process|Memory cgroup out of memory")),
    ("timeout", _re(r"DUE TO TIME LIMIT")),
    ("deadline", _re(r"DUE TO JOB DEADLINE")),
    ("node_fail", _re(r"DUE TO NODE FAILURE|NODE_FAIL|boot_fail")),
    ("preempted", _re(r"DUE TO PREEMPTION")),
    ("cancelled", re.compile(r"CANCELLED AT \S+")),
)


def _find(lines: list[tuple[str, str]], pattern: re.Pattern[str]) -> tuple[str, str, re.Match[str]] | None:
    """The last matching line of the first log (in the given order) that has one."""
    best: tuple[str, str, re.Match[str]] | None = None
    for name, line in lines:
        if best is not None and name != best[0]:
            return best
        match = pattern.search(line)
        if match:
            best = (name, line, match)
    return best


def log_evidence(logs: Mapping[str, str]) -> list[LogEvidence]:
    lines = [(name, line) for name, text in logs.items() for line in text.splitlines() if line.strip()]
    out: list[LogEvidence] = []
    for state, pattern in PATTERNS:
        if any(e.state == state for e in out):
            continue  # a more specific pattern of the same kind already matched
        found = _find(lines, pattern)
        if found is not None:
            name, line, match = found
            values = {k: v for k, v in match.groupdict().items() if v}
            out.append(LogEvidence(state, name, line, values))
    return out
