"""What the benchmarks share: running the real CLI as a subprocess, counting scheduler calls through
shims on PATH, medians of several tries, peak memory of a child, and a small git project."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEDULER_TOOLS = ("sbatch", "sacct", "squeue", "scontrol", "scancel")
GIT = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
CLI = [sys.executable, "-m", "clusterrun"]


class BenchFailed(RuntimeError):
    """A measured command failed: its row reports it, the others are still measured."""


@dataclass
class Timed:
    seconds: float
    stdout: str
    stderr: str
    peak_mb: float = 0.0


class Shims:
    """sbatch/sacct/... wrappers that log each call, then run the real tool."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "shims"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = tmp / "scheduler-calls.log"
        for tool in SCHEDULER_TOOLS:
            real = shutil.which(tool)
            if real is None:
                continue
            shim = self.dir / tool
            shim.write_text(f'#!/bin/sh\necho "{tool}" >> {self.log}\nexec {real} "$@"\n')
            shim.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        # the clusterrun measured: this checkout's, or BENCH_CODE's (another checkout: before and after)
        code = os.environ.get("BENCH_CODE", str(REPO))
        env = dict(os.environ, PATH=f"{self.dir}:{os.environ['PATH']}", PYTHONPATH=code)
        env.pop("CLUSTERRUN_RUNS_DIR", None)
        # as installed packages are: compiled once (main() compiles clusterrun before measuring), not
        # recompiled by every process, which a shell's PYTHONDONTWRITEBYTECODE=1 would cause for
        # clusterrun's modules alone (the floors' site-packages are compiled at install)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env | extra

    def reset(self) -> None:
        self.log.unlink(missing_ok=True)

    def counts(self) -> dict[str, int]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return {tool: lines.count(tool) for tool in SCHEDULER_TOOLS if tool in lines}


def run(
    argv: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    memory: bool = False,
) -> Timed:
    """Run a command to its end; its wall time (and, with `memory`, its peak RSS through GNU time)."""
    out_file = None
    if memory:
        out_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-time-{os.getpid()}.txt"
        argv = ["/usr/bin/time", "-f", "%M", "-o", str(out_file), *argv]
    # what the step before wrote (a thousand run directories made, or removed) reaches the disk first:
    # its writeback, and the discards of its removal, landed on whatever was measured next
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - started
    if check and result.returncode != 0:
        raise BenchFailed(f"failed ({result.returncode}): {' '.join(argv[:8])} ...\n{result.stderr[-3000:]}")
    peak = 0.0
    if out_file is not None:
        peak = float(out_file.read_text().split()[-1]) / 1024
        out_file.unlink()
    return Timed(seconds, result.stdout, result.stderr, peak)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def repeat(action: Callable[[], float], times: int) -> float:
    """The median of `times` measurements."""
    return median([action() for _ in range(times)])


def make_project(root: Path, configs: dict[str, str] | None = None) -> Path:
    """A committed git project holding the quickstart example, its config, and `configs`."""
    (root / "examples" / "quickstart").mkdir(parents=True)
    (root / "configs").mkdir()
    shutil.copy(REPO / "examples" / "quickstart" / "train.py", root / "examples" / "quickstart" / "train.py")
    shutil.copy(REPO / "configs" / "examples" / "quickstart.yaml", root / "configs" / "quickstart.yaml")
    for name, text in (configs or {}).items():
        (root / "configs" / name).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True)
    return root


def scancel(job_ids: list[str], env: dict[str, str] | None = None) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, check=False, env=env)


def sweep_arguments(doc: str | None, ended: int, ended_help: str) -> argparse.Namespace:
    """The options of the benchmarks of one sweep's refreshes: --members, --ended, --rounds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--ended", type=int, default=ended, help=ended_help)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()
