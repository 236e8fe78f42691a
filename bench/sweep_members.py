"""Benchmark: making a submitted sweep's N members (default 1,000), with their config.yaml and command.sh
kept at the sweep level (records/memberfiles.py) against written into each member's directory.

Both ways run the same code (`prepare_plan` of a sweep over N seeds, backend slurm, nothing submitted),
alternating, each into a registry of its own, and time `_Records.make_many` alone (the smoke test, the
same for both, is left out): the difference is the two files per member.

Run:  bash scripts/local-slurm.sh up && python bench/sweep_members.py [--members 1000] [--pairs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from clusterrun.records.registry import Registry
from clusterrun.services import prepare, quiet
from clusterrun.services.plan import plan
from clusterrun.services.submit import SubmitRequest

REPO = Path(__file__).resolve().parents[1]


def _project(root: Path) -> Path:
    (root / "examples" / "quickstart").mkdir(parents=True)
    (root / "configs").mkdir()
    shutil.copy(REPO / "examples" / "quickstart" / "train.py", root / "examples" / "quickstart" / "train.py")
    shutil.copy(REPO / "configs" / "examples" / "quickstart.yaml", root / "configs" / "q.yaml")
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *args], cwd=root, check=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="clusterrun-bench-"))
    project = _project(tmp / "project")
    made: list[float] = []
    real = prepare._Records.make_many
    kept = {"at the sweep level": True}

    def timed(self: Any, wanted: Any, step: Any = None) -> Any:
        self.lean = self.lean and kept["at the sweep level"]
        os.sync()
        started = time.perf_counter()
        out = real(self, wanted, step)
        made.append(time.perf_counter() - started)
        return out

    prepare._Records.make_many = timed  # type: ignore[method-assign]
    results: dict[bool, list[float]] = {True: [], False: []}
    seeds = ",".join(str(i) for i in range(args.members))
    try:
        for pair in range(args.pairs):
            for lean in (True, False) if pair % 2 else (False, True):
                kept["at the sweep level"] = lean
                registry = Registry(tmp / f"runs-{pair}-{lean}")
                request = SubmitRequest(
                    project / "configs" / "q.yaml",
                    overrides=["params.steps=5"],
                    sweep_axes=[f"seed={seeds}"],
                    backend="slurm",
                    cwd=project,
                )
                prepare.prepare_plan(plan(request, registry), registry, quiet, submitting=True)
                results[lean].append(made[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lean_s, whole_s = statistics.median(results[True]), statistics.median(results[False])
    print(f"making {args.members:,} members (medians of {args.pairs}, alternating):")
    print(f"  config.yaml and command.sh at the sweep level  {lean_s:.3f} s")
    print(f"  written into each member's directory           {whole_s:.3f} s  ({whole_s / lean_s:.2f}x)")
    for lean, label in ((True, "sweep level"), (False, "each member")):
        print(f"  tries, {label}: " + " ".join(f"{s:.2f}" for s in results[lean]))


if __name__ == "__main__":
    main()
