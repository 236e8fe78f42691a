"""A smoke test's result (SmokeResult) and the cache of passed ones (SmokeCache): what a submission reads
when its smoke test passed before, without what runs one (execution/smoke.py: process sampling through
psutil, supervision), which a submit whose test is cached never uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.records.jsonio import read_json, write_json_atomic
from clusterrun.records.logtext import terminal_lines


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    returncode: int | None
    seconds: float
    # the peak of the summed RSS of the command's whole process tree (sampled while it runs; at least
    # the largest single process's peak), in MB: what the cluster counts against resources.mem
    peak_rss_mb: float
    timed_out: bool
    stdout_path: str
    stderr_path: str
    cached: bool = False
    cached_from: str = ""  # the run whose smoke test this reuses
    step_points: list[list[float]] = field(default_factory=list)  # [step, seconds since start] as logged
    # the second, longer run that times one step when the job logs fewer than two steps: {param, steps,
    # seconds, ok, returncode, timed_out, stderr_tail, stderr_path}; cached with the test, which so
    # keeps its estimate
    timing_run: dict[str, Any] | None = None
    # what the command left running when it exited (stopped: supervise.stop_leftovers), command lines
    leftover: list[str] = field(default_factory=list)
    # why the test was stopped before its end and its timeout ('' when it was not): a hang it cannot
    # leave (workers started at import dying as they start, again and again)
    stopped: str = ""

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            text = (
                Path(self.stderr_path).read_bytes().decode(errors="replace")
            )  # its \r kept (no newline translation)
        except OSError:
            return ""
        return "\n".join(terminal_lines(text.rstrip())[-lines:])


class SmokeCache:
    """Passed smoke tests by key (snapshot id + resolved config hash), as JSON files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> SmokeResult | None:
        path = self._path(key)
        try:
            data = read_json(path)
            known = set(SmokeResult.__dataclass_fields__)
            result = SmokeResult(**{k: v for k, v in data.items() if k in known})
        except (OSError, ValueError, TypeError):
            return None
        return result if result.ok else None

    def put(self, key: str, result: SmokeResult, run_id: str) -> None:
        if not result.ok:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        record = result.as_record() | {"cached_from": run_id, "cached": False}
        write_json_atomic(self._path(key), record)
