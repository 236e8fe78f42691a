"""Shared by the tests of issue 11's live progress and log following: a project whose job prints lines
over a few seconds, a job that fails on start, and a real terminal (tmux, on a private socket)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO, make_project

TICKER = """\
import argparse, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--lines", type=int, default=5)
parser.add_argument("--delay", type=float, default=0.5)
args = parser.parse_args()
for i in range(1, args.lines + 1):
    print(f"tick {i} of {args.lines}", flush=True)
    if i == 2:
        print(f"warn at tick {i}", file=sys.stderr, flush=True)
    time.sleep(args.delay)
print("final loss=0.5", flush=True)
"""

TICKER_CONFIG = """\
name: ticker
command: python ticker.py --lines {lines} --delay {delay}
params: {lines: 6, delay: 0.7}
smoke: {params: {lines: 2, delay: 0.1}, timeout: 60}
resources: {time: "00:05:00", mem: 200M}
metrics:
  patterns: {tick: 'tick ([0-9]+) of', final_loss: 'final loss=([0-9.]+)'}
"""

# fails on the cluster at once (its smoke test is skipped: --skip-smoke)
BROKEN_CONFIG = """\
name: broken
command: python -c "import no_such_module_for_clusterrun"
resources: {time: "00:10:00", mem: 100M}
"""


def ticker_project(root: Path) -> Path:
    return make_project(
        root,
        {"ticker.py": TICKER, "configs/ticker.yaml": TICKER_CONFIG, "configs/broken.yaml": BROKEN_CONFIG},
    )


def ticks(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("tick ")]


def holding_sbatch(tmp_path: Path) -> dict[str, str]:
    """PATH with an `sbatch` that submits every job held (`--hold`): it stays PENDING, reason
    JobHeldUser, until the test runs `scontrol release`. Only this test's jobs are affected."""
    real = shutil.which("sbatch")
    assert real, "sbatch is not installed"
    shims = tmp_path / "holding"
    shims.mkdir(exist_ok=True)
    (shims / "sbatch").write_text(f'#!/bin/sh\nexec {shlex.quote(real)} --hold "$@"\n')
    (shims / "sbatch").chmod(0o755)
    return {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}


class Terminal:
    """A command in a real terminal: a tmux session on its own socket, sized `width` x `height`."""

    def __init__(self, tmp_path: Path, width: int = 160, height: int = 45) -> None:
        if shutil.which("tmux") is None:
            raise AssertionError("tmux is not installed (scripts/test.sh installs it)")
        self.socket = f"clusterrun-test-{os.getpid()}-{time.monotonic_ns()}"
        self.tmp_path, self.width, self.height = tmp_path, width, height

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout

    def start(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        """Run `python -m clusterrun ARGS` in the terminal; `exit=N` is printed when it ends."""
        exports = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "TERM": "xterm-256color",
            **(env or {}),
        }
        lines = ["unset NO_COLOR CLUSTERRUN_RUNS_DIR", f"cd {shlex.quote(str(cwd))}"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
        lines += [
            shlex.join([sys.executable, "-m", "clusterrun", *args]) + " </dev/null",  # no prompt
            'echo "exit=$?"',
            "sleep 3600",
        ]
        script = self.tmp_path / f"terminal-{self.socket}.sh"
        script.write_text("\n".join(lines) + "\n")
        self.tmux(
            "new-session", "-d", "-s", "t", "-x", str(self.width), "-y", str(self.height), f"bash {script}"
        )

    def screen(self) -> str:
        """Everything the terminal shows and has scrolled away (its whole history)."""
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-", "-E", "-")

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {timeout:g} s; the terminal shows:\n{screen}"
                )
            time.sleep(0.3)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
