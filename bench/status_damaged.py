"""Benchmark: `clusterrun status` on a 1,000-run registry where 10 records are damaged, against the same
registry undamaged.

Two registries are cloned from one finished run made by the real CLI (bench/synth.py); in one, 10
manifests are damaged in the ways records get damaged (invalid JSON, cut short, not an object, a wrong
type, a newer schema). Each `status --json` is timed as a median of --repeat tries after one warm-up
(which also builds the index). Every damaged run must still be listed (as `damaged`), with a warning.

Goal (issue 9): the damaged case stays within 1.2x of the clean one.
Run:  python bench/status_damaged.py [--runs 1000] [--damaged 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLI, REPO, repeat, run
from synth import clone, template_run

GOAL = 1.2
LIMIT = 100_000  # every run listed (and refreshed): the damaged ones among them
DAMAGE = [
    lambda text: "{ damaged",  # invalid JSON
    lambda text: text[: len(text) // 2],  # cut short (a write interrupted outside clusterrun)
    lambda text: "[]",  # not an object
    lambda text: json.dumps(json.loads(text) | {"state_history": "x"}),  # a wrong type
    lambda text: json.dumps(json.loads(text) | {"schema_version": 99}),  # a newer clusterrun's
]


def _status(root: Path) -> tuple[float, dict[str, object]]:
    env = dict(os.environ, CLUSTERRUN_RUNS_DIR=str(root), PYTHONPATH=str(REPO))
    timed = run([*CLI, "status", "--json", "--limit", str(LIMIT)], root.parent, env)
    return timed.seconds, json.loads(timed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--damaged", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-damaged-") as tmp_name:
        tmp = Path(tmp_name)
        template = template_run(tmp)
        clean, damaged = tmp / "clean" / "runs", tmp / "damaged" / "runs"
        clone(template, clean, args.runs)
        ids = clone(template, damaged, args.runs)
        step = max(1, len(ids) // args.damaged)
        broken = ids[::step][: args.damaged]
        for i, run_id in enumerate(broken):
            path = damaged / run_id / "manifest.json"
            path.write_text(DAMAGE[i % len(DAMAGE)](path.read_text()))
        _status(clean)  # warm-up: the index is built, summaries exist
        _, listed = _status(damaged)
        rows = {r["run_id"]: r["state"] for r in listed["runs"]}  # type: ignore[index, union-attr]
        assert len(rows) == args.runs, f"status listed {len(rows)} of {args.runs} runs"
        assert all(rows[r] == "damaged" for r in broken), "a damaged run is not listed as damaged"
        assert len(listed["warnings"]) >= len(broken), "a damaged record without a warning"  # type: ignore[arg-type]
        clean_s = repeat(lambda: _status(clean)[0], args.repeat)
        damaged_s = repeat(lambda: _status(damaged)[0], args.repeat)
    ratio = damaged_s / clean_s
    verdict = "ok" if ratio <= GOAL else "OVER GOAL"
    print(f"status, {args.runs} runs, clean:                {clean_s:.3f} s (median of {args.repeat})")
    label = f"{args.damaged} damaged records:"
    print(f"status, {args.runs} runs, {label}  {damaged_s:.3f} s (median of {args.repeat})")
    print(f"ratio damaged/clean: {ratio:.2f}x (goal <= {GOAL}x): {verdict}")
    if ratio > GOAL:
        sys.exit(1)


if __name__ == "__main__":
    main()
