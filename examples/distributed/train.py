"""Data-parallel training with torch.distributed, launched by clusterrun on one or many nodes.

clusterrun sets the rendezvous (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK...; with
`launcher: torchrun`, torchrun sets them from the PET_* variables clusterrun fills in), so
`init_process_group` needs no arguments. Each rank fits y = 3x + 1 on its own shard of synthetic data;
DistributedDataParallel averages the gradients. Rank 0 logs the metrics (clusterrun reads rank 0's).
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()

    gpu = torch.cuda.is_available()
    dist.init_process_group("nccl" if gpu else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if gpu else "cpu")

    total = torch.tensor([float(rank)], device=device)
    dist.all_reduce(total)  # every rank's number, summed: 0 + 1 + ... + (world - 1)

    torch.manual_seed(int(os.environ.get("CLUSTERRUN_SEED", "0")) + rank)  # each rank its own shard
    model = DistributedDataParallel(torch.nn.Linear(1, 1).to(device))
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
    metrics = os.environ.get("CLUSTERRUN_METRICS_FILE", "metrics.jsonl")
    for step in range(1, args.steps + 1):
        x = torch.rand(64, 1, device=device)
        loss = torch.nn.functional.mse_loss(model(x), 3 * x + 1)
        optimiser.zero_grad()
        loss.backward()  # gradients averaged over every rank
        optimiser.step()
        if rank == 0:
            record = {"step": step, "loss": loss.item(), "rank_sum": total.item(), "world_size": world}
            with open(metrics, "a") as out:
                out.write(json.dumps(record) + "\n")
    if rank == 0:
        print(f"world {world}: rank sum {total.item():g}, final loss={loss.item():.6f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
