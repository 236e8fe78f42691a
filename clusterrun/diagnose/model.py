"""The things rules pass around: the run's evidence (Context), a matched log line (Hit), what a matcher
found (Found), the fix a category proposes (Fix), the rule that ties them (Rule), and the result
(Diagnosis). Pure data and text; no patterns (evidence.py, scheduler_evidence.py) and no advice (fixes/)."""

from __future__ import annotations

import re
import signal as signals
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Any

from clusterrun.diagnose.tracebacks import final_exception, find_traceback

MAX_LINE = 300  # characters of a log line quoted as evidence


@dataclass(frozen=True)
class Diagnosis:
    category: str
    evidence: str
    fix: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.category}: {self.evidence} -> {self.fix}"


class Strength(IntEnum):
    """How decisive a kind of evidence is, strongest first. Stronger evidence wins whatever the category;
    among equally strong evidence the order of RULES decides (rules.py says why)."""

    VERDICT = 1  # the scheduler's final state names the cause (OUT_OF_MEMORY, TIMEOUT, NODE_FAIL, ...)
    SCHEDULER_LOG = 2  # slurmstepd's line names why it killed the job (such kills may end FAILED/CANCELLED)
    CANCELLATION = (
        3  # state CANCELLED: weaker than a slurmstepd line, as the scheduler's own kills end so too
    )
    TIME_WARNING = 4  # the command died of SIGUSR2, which has one meaning: the time limit is near
    KILLED = 5  # SIGKILL and a 'Killed' line: an inference (the kernel's OOM killer is the usual sender)
    EXCEPTION = 6  # the final exception of the user's last traceback: what the program died of
    LOG_LINE = 7  # any line of the logs, earlier warnings included
    EXIT_CODE = 8  # an exit code (127 alone; 2 with a usage line)
    FALLBACK = 9  # nothing else: quote the last words


@dataclass(frozen=True)
class Hit:
    """A log line that shows the evidence."""

    log: str
    line: str
    match: re.Match[str] | None = None
    values: dict[str, str] = field(default_factory=dict)  # named parts found by the scheduler layer

    def groups(self) -> dict[str, str]:
        """The named groups that matched."""
        found = {k: v for k, v in (self.match.groupdict() if self.match else {}).items() if v}
        return found or dict(self.values)


@dataclass(frozen=True)
class Found:
    """What a matcher found: the line that shows it (None when the evidence is not a line, such as a
    state or an exit code) and a note for the evidence text."""

    hit: Hit | None = None
    note: str = ""

    def groups(self) -> dict[str, str]:
        """The named groups of the line's match ({} when the evidence is not a line)."""
        return self.hit.groups() if self.hit is not None else {}


@dataclass(frozen=True)
class Fix:
    """The concrete fix, the words that follow the evidence's head, and the details for the record."""

    text: str
    extra: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Matcher:
    """One kind of evidence for a category: None when it is absent."""

    strength: Strength
    find: Callable[[Context], Found | None]


@dataclass(frozen=True)
class Rule:
    """A failure category: the evidence that shows it (one matcher per kind) and the fix it proposes."""

    category: str
    evidence: tuple[Matcher, ...]
    fix: Callable[[Context, Found], Fix]


def signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass
class Context:
    """Everything known about the run that did not succeed."""

    state: str
    exit_code: int | None
    signal: int | None
    logs: Mapping[str, str]
    resources: Mapping[str, Any]
    elapsed_seconds: float | None
    max_rss_mb: float | None
    cancelled_by: str
    progress: Mapping[str, Any] | None
    params: Mapping[str, Any]
    node: str
    smoke: Mapping[str, Any] | None
    run_id: str
    repo_root: str = ""  # the folder of the checkout the command ran in (the config's cwd), when known
    copy_root: str = ""  # the same folder of the run's own copy of the code, when known
    smoke_peak_mb: float | None = None  # the run's own smoke test's peak (summed RSS of its process tree)
    lines: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = [
            (n, line) for n, text in self.logs.items() for line in text.splitlines() if line.strip()
        ]

    @cached_property
    def traceback(self) -> tuple[str, str]:
        """(log name, text) of the user's last traceback; ('', '') when there is none."""
        return find_traceback(self.logs)

    @property
    def final_exception(self) -> str:
        return final_exception(self.traceback[1])

    def killed_by(self, sig: signals.Signals) -> bool:
        """The command (exit code -N, or 128+N from a shell) or the job (sacct's ':N') died of `sig`."""
        return self.exit_code in (-sig.value, 128 + sig.value) or self.signal == sig.value

    def find(self, pattern: re.Pattern[str]) -> Hit | None:
        """The last matching line of the first log (in the given order) that has one."""
        best: Hit | None = None
        current = ""
        for name, line in self.lines:
            if best is not None and name != current:
                return best
            match = pattern.search(line)
            if match:
                best, current = Hit(name, line, match), name
        return best

    def find_related(self, pattern: re.Pattern[str]) -> Hit | None:
        """The last matching line of the user's last traceback (what the program died of, with the
        exceptions chained to it) and of what its log says after it, when there is one; else of the
        first log that has one (see find). Lines before the traceback are not its cause."""
        log, traceback = self.traceback
        if not traceback:
            return self.find(pattern)
        text = self.logs.get(log, "")
        start = text.rfind(traceback.rstrip("\n"))
        related = text[start:] if start >= 0 else traceback
        for line in reversed(related.splitlines()):
            match = pattern.search(line) if line.strip() else None
            if match:
                return Hit(log, line, match)
        return None

    def head(self) -> str:
        """'state FAILED, exit code 0:9' (or 'smoke test exited with code 1')."""
        if self.smoke is not None:
            if self.state == "timeout":
                return f"smoke test timed out after {self.smoke.get('timeout')} s"
            if self.smoke.get("stopped"):
                return f"smoke test stopped after {self.elapsed_seconds or 0:.0f} s"
            return f"smoke test exited with code {self.exit_code}"
        text = f"state {self.state.upper()}"
        if self.exit_code is not None:
            text += f", exit code {self.exit_code}" + (f":{self.signal}" if self.signal else "")
            if self.exit_code < 0:
                text += f" (killed by {signal_name(-self.exit_code)})"
        elif self.signal:
            text += f", signal {self.signal}"
        return text

    def evidence(self, hit: Hit | None, extra: str = "") -> str:
        text = self.head() + (f" {extra}" if extra else "")
        if hit is not None:
            line = hit.line.strip()
            line = line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
            text += f"; {hit.log}: {line}"
        return text

    def diagnosis(self, category: str, hit: Hit | None, fix: Fix) -> Diagnosis:
        details = dict(fix.details)
        if hit is not None:
            details = {"log": hit.log, "line": hit.line.strip()[:1000], **details}
        return Diagnosis(category, self.evidence(hit, fix.extra), fix.text, details)
