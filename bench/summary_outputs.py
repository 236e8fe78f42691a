"""Benchmark: what a run's summary costs for a real repository's working copy (N files, default 5,000).

A run works in its own working copy of the snapshot (hard links in real directories). Its summary lists
what the run created there; the job walks that copy as it ends (for the files it rewrote in place), and
records what it found in exit.json's `outputs`. Measured here, in the same run, medians of --repeat:
- recorded: `summary.collect` of a run whose exit.json holds the job's `outputs` (read, not walked again),
- walked:   the same run's summary with that record taken out (the working copy walked, as before),
- the walk alone: `workdir.run_outputs` of the run (what the job does once, on its node, as it ends).
The run is made by the real CLI (`submit --backend local --wait` of a command writing one file).
The bench registries of bench/run_all.py have no working copies (synth.py leaves them out): this is
the cost they do not show, per run, for every first `status` after a sweep of such runs ended.

Run:  python bench/summary_outputs.py [--files 5000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import CLI, GIT, make_project, run  # noqa: E402

from clusterrun.inputs import workdir  # noqa: E402
from clusterrun.records import summary as summaries  # noqa: E402
from clusterrun.records.registry import Registry  # noqa: E402

CONFIG = """\
name: outputs
command: "python -c \\"open('result.txt', 'w').write('done')\\""
resources: {time: "00:05:00", nodes: 1, cpus_per_task: 1, mem: 200M, gpus: 0}
"""


def median_ms(action: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clusterrun-bench-outputs-"))
    files = {f"src/pkg{i // 100}/m{i % 100}.py": "x = 1\n" * 20 for i in range(args.files)}
    project = make_project(root / "project", {"outputs.yaml": CONFIG})
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    run([*GIT, "add", "-A"], project)
    run([*GIT, "commit", "-qm", "files"], project)
    run([*CLI, "submit", "configs/outputs.yaml", "--backend", "local", "--wait", "--force"], project)
    registry = Registry(project / "runs")
    (made,) = [r for r in registry.runs() if (r.path / "exit.json").is_file()]
    manifest = made.load_manifest()
    exit_path = made.path / "exit.json"
    record = json.loads(exit_path.read_text())
    if "outputs" not in record:
        sys.exit("the job recorded no `outputs` in exit.json")
    status = {"state": "completed"}
    recorded = median_ms(lambda: summaries.collect(made, manifest, status), args.repeat)
    without = {k: v for k, v in record.items() if k != "outputs"}
    exit_path.write_text(json.dumps(without))
    walked = median_ms(lambda: summaries.collect(made, manifest, status), args.repeat)
    walk = median_ms(
        lambda: workdir.run_outputs(made.path, made.path / "artifacts", made.path / workdir.NAME),
        args.repeat,
    )
    exit_path.write_text(json.dumps(record))
    print(f"a run's working copy of {args.files:,} files; medians of {args.repeat}")
    print(f"  summary, the job's record of its outputs read: {recorded:7.1f} ms")
    print(f"  summary, the working copy walked again:       {walked:7.1f} ms  ({walked / recorded:.1f}x)")
    print(f"  the walk alone (the job does it once, as it ends): {walk:7.1f} ms")
    print(f"  a first status after 1,000 such runs ended: {walked - recorded:.1f} s of CPU less")


if __name__ == "__main__":
    main()
