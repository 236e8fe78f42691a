"""Benchmark: make a run's working directory for a repository of N files (default 5,000).

Measured in the same run, on the same filesystem, as medians of --repeat tries:
- clusterrun: `workdir.materialise(snapshot, dest)` (hard links in real directories, with the
  in-place-change check of every linked file),
- floor: `cp -al snapshot dest` (hard links, no check),
- full copy: `git archive HEAD | tar -x` (what a per-run snapshot would cost),
and the extra disk each uses (`du` of the new tree beside the snapshot, so hard links count once).

Goal (issue "Results you can trust"): within 1.5x of `cp -al`, and extra disk under 1% of the snapshot.
Run:  python bench/workdir.py [--files 5000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clusterrun.inputs import snapshot, workdir  # noqa: E402


def du_kb(*paths: Path) -> int:
    """Disk used by the paths together (a hard-linked file counts once), in KiB."""
    out = subprocess.run(["du", "-skc", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0])


def make_repo(root: Path, files: int) -> str:
    root.mkdir(parents=True)
    for i in range(files):
        path = root / f"pkg{i % 50}" / f"sub{i % 7}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# module {i}\n" + "x = 1\n" * (20 + i % 200))
    git = ["git", "-c", "user.email=b@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=root, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def median_seconds(action, repeat: int, base: Path, name: str) -> float:  # type: ignore[no-untyped-def]
    times = []
    for n in range(repeat):
        dest = base / f"{name}-{n}" / "work"
        dest.parent.mkdir(parents=True)
        started = time.perf_counter()
        action(dest)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterrun-bench-") as tmp:
        base = Path(tmp)
        commit = make_repo(base / "repo", args.files)
        started = time.perf_counter()
        snap = snapshot.create(base / "repo", commit, "", base / "runs")
        snapshot_seconds = time.perf_counter() - started

        def ours(dest: Path) -> None:
            workdir.materialise(snap.path, dest)

        def cp_al(dest: Path) -> None:
            subprocess.run(["cp", "-al", str(snap.path), str(dest)], check=True)

        def archive(dest: Path) -> None:
            dest.mkdir()
            subprocess.run(
                f"git -C {base / 'repo'} archive {commit} | tar -x -C {dest}", shell=True, check=True
            )

        results = {}
        for name, action in (("clusterrun", ours), ("cp -al", cp_al), ("git archive | tar -x", archive)):
            results[name] = median_seconds(action, args.repeat, base / "out", name.split()[0])
        snap_kb = du_kb(snap.path)
        extra = {name: du_kb(snap.path, base / "out" / f"{name.split()[0]}-0") - snap_kb for name in results}
        print(
            f"repository: {args.files} files, snapshot {snap_kb} KiB (made once in {snapshot_seconds:.3f} s)"
        )
        print(f"{'method':24} {'median s':>9} {'vs cp -al':>10} {'extra disk KiB':>15} {'% of snapshot':>14}")
        for name, seconds in results.items():
            print(
                f"{name:24} {seconds:9.4f} {seconds / results['cp -al']:9.2f}x "
                f"{extra[name]:15d} {100 * extra[name] / snap_kb:13.2f}%"
            )
        shutil.rmtree(base / "out", ignore_errors=True)


if __name__ == "__main__":
    main()
