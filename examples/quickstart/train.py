"""A tiny, deterministic training script: linear regression by minibatch SGD, in pure Python.

It behaves like a real one for clusterrun's purposes: argparse flags, a seed, a loss per step on
stdout, metrics as JSON lines, a checkpoint artifact. Given the same flags it prints the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path


def make_data(n: int, rng: random.Random) -> list[tuple[list[float], float]]:
    true_w, true_b = [2.0, -3.0, 0.5], 1.0
    data = []
    for _ in range(n):
        x = [rng.uniform(-1, 1) for _ in true_w]
        y = sum(w * xi for w, xi in zip(true_w, x, strict=True)) + true_b + rng.gauss(0, 0.1)
        data.append((x, y))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--step-seconds", type=float, default=0.0, help="sleep per step (simulated work)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    data = make_data(1024, rng)
    w, b = [0.0, 0.0, 0.0], 0.0
    metrics_path = os.environ.get("CLUSTERRUN_METRICS_FILE", "metrics.jsonl")
    artifacts = Path(os.environ.get("CLUSTERRUN_ARTIFACTS_DIR", "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.time()
    loss = float("nan")
    with open(metrics_path, "a", encoding="utf-8") as metrics:
        for step in range(1, args.steps + 1):
            batch = rng.sample(data, args.batch_size)
            grad_w, grad_b, loss = [0.0, 0.0, 0.0], 0.0, 0.0
            for x, y in batch:
                err = sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b - y
                loss += err * err / len(batch)
                for i, xi in enumerate(x):
                    grad_w[i] += 2 * err * xi / len(batch)
                grad_b += 2 * err / len(batch)
            w = [wi - args.lr * g for wi, g in zip(w, grad_w, strict=True)]
            b -= args.lr * grad_b
            if args.step_seconds:
                time.sleep(args.step_seconds)
            print(f"step {step} loss={loss:.6f}", flush=True)
            metrics.write(
                json.dumps({"step": step, "loss": round(loss, 8), "time": round(time.time() - started, 3)})
                + "\n"
            )
            metrics.flush()
    (artifacts / "model.json").write_text(json.dumps({"w": w, "b": b}, indent=2) + "\n")
    print(f"done: final loss={loss:.6f} w={[round(v, 4) for v in w]} b={b:.4f}")


if __name__ == "__main__":
    main()
