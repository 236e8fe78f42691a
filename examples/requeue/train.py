"""A long job that survives time limits and preemption: it checkpoints on SIGUSR2 and resumes.

SIGUSR2 comes `requeue.signal_grace` seconds before the time limit (SIGTERM when the job is preempted
or requeued by hand). The script saves its state to $CLUSTERRUN_CHECKPOINT_DIR and exits non-zero (not
done); the job is requeued, and the next attempt (CLUSTERRUN_RESUME=1) starts from the checkpoint. The
result is the same as one long run's.
"""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--step-seconds", type=float, default=1.0)
args = parser.parse_args()
ckpt = Path(os.environ.get("CLUSTERRUN_CHECKPOINT_DIR", ".")) / "state.json"
stop = []
for sig in (signal.SIGUSR2, signal.SIGTERM):  # the time limit is near; a preemption, a requeue
    signal.signal(sig, lambda *_: stop.append(1))
resume = os.environ.get("CLUSTERRUN_RESUME") == "1" and ckpt.exists()
state = json.loads(ckpt.read_text()) if resume else {"step": 0, "w": 0.0}
with open(os.environ.get("CLUSTERRUN_METRICS_FILE", "metrics.jsonl"), "a") as metrics:
    while state["step"] < args.steps:
        if stop:  # save, then exit non-zero: not done, run me again
            ckpt.with_suffix(".tmp").write_text(json.dumps(state))
            os.replace(ckpt.with_suffix(".tmp"), ckpt)
            sys.exit(75)
        state["w"] += 0.05 * (3.0 - state["w"])  # one training step
        state["step"] += 1
        print(json.dumps({"step": state["step"], "loss": (3.0 - state["w"]) ** 2}), file=metrics, flush=True)
        time.sleep(args.step_seconds)
print(f"done: step={state['step']} w={state['w']!r} attempt={os.environ.get('CLUSTERRUN_ATTEMPT')}")
