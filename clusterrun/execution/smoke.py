"""The smoke test: run the real command locally, from the snapshot, for a single batch.

A failing smoke test stops the submission. A passing one is cached per (snapshot, resolved config), so
submitting the same thing again skips it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.records.jsonio import read_json, write_json_atomic


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

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            text = Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


class _StepWatcher:
    """Timestamps each new `{step_metric: N}` line of the metrics file as the job writes it."""

    def __init__(self, path: Path | None, step_metric: str, started: float) -> None:
        self.path, self.step_metric, self.started = path, step_metric, started
        self.offset = 0
        self.points: list[list[float]] = []

    def poll(self) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        now = round(time.monotonic() - self.started, 4)
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            step = record.get(self.step_metric) if isinstance(record, dict) else None
            if isinstance(step, int | float) and not isinstance(step, bool):
                self.points.append([float(step), now])


class _TreeMemory:
    """The peak of the summed RSS of a process tree: `root` and its descendants, sampled at most every
    `interval` s (less often when a sample is slow, so the overhead stays under ~5%).

    The tree is walked through /proc/<pid>/task/<tid>/children, at a cost in proportion to the tree, not
    to the machine; where the kernel has no such file, /proc is scanned for root's session instead (the
    smoke test runs in its own)."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root, self.interval = root, interval
        self.peak_kb = 0
        self.next = 0.0
        self.page_kb = max(1, os.sysconf("SC_PAGE_SIZE") // 1024)
        self.walk = os.path.exists(f"/proc/{root}/task/{root}/children")

    def poll(self) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        total = self._walk() if self.walk else self._scan()
        self.peak_kb = max(self.peak_kb, total)
        self.next = now + max(self.interval, 20 * (time.monotonic() - now))

    def _rss_kb(self, pid: int | str) -> int:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                return int(handle.read().split()[1]) * self.page_kb
        except (OSError, ValueError, IndexError):
            return 0

    def _walk(self) -> int:
        total, stack, seen = 0, [self.root], set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            total += self._rss_kb(pid)
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:  # a child belongs to the thread that started it
                try:
                    with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                        stack.extend(int(child) for child in handle.read().split())
                except (OSError, ValueError):
                    continue
        return total

    def _scan(self) -> int:
        total = 0
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    data = handle.read()
                fields = data[data.rfind(b")") + 2 :].split()
                if int(fields[3]) == self.root:  # the session id
                    total += int(fields[21]) * self.page_kb  # rss, in pages
            except (OSError, ValueError, IndexError):
                continue
        return total


def run_smoke(
    script: Path, workdir: Path, timeout: float, metrics_file: Path | None = None, step_metric: str = "step"
) -> SmokeResult:
    """Run `bash script` with stdout/stderr to files in `workdir`; kill its process group on timeout.

    While it runs, the metrics file is watched so that steps get timestamps (for the estimate), and the
    memory of its whole process tree is sampled (workers and data loaders count, as on the cluster)."""
    stdout_path, stderr_path = workdir / "stdout.log", workdir / "stderr.log"
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERRUN_SETUP_DONE"}
    started = time.monotonic()
    watcher = _StepWatcher(metrics_file, step_metric, started)
    timed_out = False
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            ["bash", str(script)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = started + timeout
        memory = _TreeMemory(process.pid)
        try:
            while True:
                memory.poll()  # before wait4: once the root is reaped, its tree is gone from /proc
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                watcher.poll()
                if pid:
                    break
                if time.monotonic() > deadline and not timed_out:
                    timed_out = True
                    _kill_group(process.pid)
                    deadline = time.monotonic() + 3600  # now only wait for it to die
                time.sleep(0.02)
        except BaseException:  # Ctrl-C: the test runs in its own session, so it must be stopped here
            _kill_group(process.pid)
            process.wait()
            raise
    process.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(process.pid)  # stray children of the command
    seconds = time.monotonic() - started
    if timed_out:
        with open(stderr_path, "a") as err_text:
            err_text.write(
                f"\nclusterrun: smoke test killed after the {timeout:g} s timeout (smoke.timeout)\n"
            )
    return SmokeResult(
        ok=process.returncode == 0 and not timed_out,
        returncode=process.returncode,
        seconds=round(seconds, 3),
        peak_rss_mb=round(max(memory.peak_kb, usage.ru_maxrss) / 1024, 1),  # KB
        timed_out=timed_out,
        stdout_path=str(stdout_path),
        stderr_path=str(stderr_path),
        step_points=watcher.points,
    )


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.2)


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
