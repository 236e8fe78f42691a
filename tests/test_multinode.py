"""Multi-node, multi-process jobs on a real 2-node SLURM cluster (two slurmd on this machine).

A job of 2 nodes x 2 tasks runs the command once per rank through srun, with PyTorch's distributed
environment; logs are per rank, metrics rank 0's, and the exit record says which rank failed first. The
smoke test runs the same launch locally (2 processes); `reproduce` rebuilds the whole job. The torch tests
join a real torch.distributed process group over gloo (CPU) and all-reduce the ranks, with
`launcher: srun` and `launcher: torchrun` (configs/examples/torchrun.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.clusters import IsolatedCluster, isolated_cluster
from tests.helpers import REPO, cli, make_project, no_traceback, require_torch

PROBE = """\
import json, os, sys
keys = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE"]
seen = {k: os.environ.get(k) for k in keys}
seen["node"] = os.environ.get("SLURMD_NODENAME", "local")
seen["pid"] = os.getpid()
print(json.dumps(seen), flush=True)
print(f"rank {seen['RANK']} says hello on stderr", file=sys.stderr)
with open(os.path.join(os.environ["CLUSTERRUN_RUN_DIR"], "launches.jsonl"), "a") as out:
    out.write(json.dumps(seen) + "\\n")
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as out:
    out.write(json.dumps({"step": 1, "rank": int(seen["RANK"])}) + "\\n")
if seen["RANK"] == os.environ.get("FAIL_RANK"):
    sys.exit(7)
"""

PROBE_CONFIG = {
    "name": "ranks",
    "command": "python probe.py",
    "smoke": {"timeout": 60},
    "resources": {"nodes": 2, "tasks_per_node": 2, "time": "00:03:00", "mem": "200M"},
}


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[IsolatedCluster]:
    with isolated_cluster("multinode", nodes=2, cpus=2, mem_mb=4000) as cluster:
        yield cluster


@pytest.fixture
def ranks_project(tmp_path: Path) -> Path:
    config = yaml.safe_dump(PROBE_CONFIG, sort_keys=False)
    return make_project(tmp_path / "proj", {"probe.py": PROBE, "configs/ranks.yaml": config})


def _launches(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "launches.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda seen: int(seen["RANK"]))


def _submit(project: Path, cluster: IsolatedCluster, *args: str) -> tuple[Path, dict[str, object]]:
    result = cli(
        ["submit", "configs/ranks.yaml", "--backend", "slurm", "--wait", "--json", *args],
        project,
        env=cluster.env,
        timeout=400,
    )
    no_traceback(result)
    assert result.stdout, result.stderr
    data = json.loads(result.stdout)
    return Path(data["run_dir"]), data


@pytest.mark.isolated
def test_two_nodes_two_tasks_one_launch_per_rank_with_the_torch_environment(
    two_nodes: IsolatedCluster, ranks_project: Path
) -> None:
    run_dir, data = _submit(ranks_project, two_nodes)
    assert data["summary"]["state"] == "completed", data["summary"]

    # one launch per rank: 4 processes, ranks 0-3, two on each node, no duplicate
    seen = _launches(run_dir)
    assert [int(s["RANK"]) for s in seen] == [0, 1, 2, 3]
    assert len({s["pid"] for s in seen}) == 4
    nodes = [s["node"] for s in seen]
    assert nodes[0] == nodes[1] != nodes[2] == nodes[3]
    assert sorted(set(nodes)) == sorted(two_nodes.nodes)
    for rank, s in enumerate(seen):
        assert s["WORLD_SIZE"] == "4" and s["LOCAL_WORLD_SIZE"] == "2"
        assert s["LOCAL_RANK"] == str(rank % 2) and s["NODE_RANK"] == str(rank // 2)
    # every rank meets rank 0 at the same address and port; the address is the first node's (its
    # NodeAddr: the node names of two slurmd on one machine do not resolve)
    assert len({(s["MASTER_ADDR"], s["MASTER_PORT"]) for s in seen}) == 1
    assert seen[0]["MASTER_ADDR"] == "127.0.0.1"

    # logs per rank; rank 0's are stdout.log / stderr.log (and stdout.rank0.log names them too)
    assert json.loads((run_dir / "stdout.log").read_text())["RANK"] == "0"
    assert (run_dir / "stdout.rank0.log").resolve() == (run_dir / "stdout.log").resolve()
    for rank in (1, 2, 3):
        assert json.loads((run_dir / f"stdout.rank{rank}.log").read_text())["RANK"] == str(rank)
        assert f"rank {rank} says hello" in (run_dir / f"stderr.rank{rank}.log").read_text()
    assert "rank 1" not in (run_dir / "stderr.log").read_text()

    # metrics are rank 0's; the others logged beside them
    assert data["summary"]["metrics"]["rank"] == 0
    assert json.loads((run_dir / "metrics.rank3.jsonl").read_text())["rank"] == 3
    exit_record = json.loads((run_dir / "exit.json").read_text())
    assert exit_record["returncode"] == 0 and exit_record["failed_rank"] is None
    assert [r["rank"] for r in exit_record["ranks"]] == [0, 1, 2, 3]

    # the sbatch script asks for 2 tasks per node; srun ends them all if one fails
    sbatch = (run_dir / "sbatch.sh").read_text()
    assert "#SBATCH --nodes=2" in sbatch and "#SBATCH --ntasks-per-node=2" in sbatch
    assert "--kill-on-bad-exit=1" in sbatch

    # the smoke test ran the same launch locally: two processes, as two "nodes", the same variables
    smoke = run_dir / "smoke"
    local = sorted(_launches(smoke), key=lambda s: int(s["RANK"]))
    assert [(s["RANK"], s["NODE_RANK"], s["WORLD_SIZE"]) for s in local] == [("0", "0", "2"), ("1", "1", "2")]
    assert local[0]["MASTER_ADDR"] == "127.0.0.1" and local[0]["MASTER_PORT"] == local[1]["MASTER_PORT"]

    # reproduce rebuilds the whole multi-node job from the record
    again = cli(
        ["reproduce", data["run_id"], "--backend", "slurm", "--wait", "--json"],
        ranks_project,
        env=two_nodes.env,
        timeout=400,
    )
    no_traceback(again)
    verdict = json.loads(again.stdout)
    assert verdict["verdict"] == "REPRODUCED", verdict
    copy = ranks_project / "runs" / verdict["run_b"]
    assert [int(s["RANK"]) for s in _launches(copy)] == [0, 1, 2, 3]
    assert "#SBATCH --ntasks-per-node=2" in (copy / "sbatch.sh").read_text()


@pytest.mark.isolated
def test_the_exit_record_and_the_diagnosis_name_the_rank_that_failed_first(
    two_nodes: IsolatedCluster, ranks_project: Path
) -> None:
    run_dir, data = _submit(ranks_project, two_nodes, "++env.FAIL_RANK=3", "--skip-smoke", "fails on purpose")
    summary = data["summary"]
    assert summary["state"] == "failed" and summary["exit_code"] == 7
    exit_record = json.loads((run_dir / "exit.json").read_text())
    assert exit_record["failed_rank"] == 3 and exit_record["returncode"] == 7
    assert exit_record["failed_host"]
    diagnosis = summary["diagnosis"]
    assert diagnosis["evidence"].startswith("rank 3 of 4 failed first (exit code 7"), diagnosis
    assert "stderr.rank3.log" in diagnosis["evidence"]
    assert diagnosis["details"]["failed_rank"] == 3
    assert summary["stderr_tail"] == ["rank 3 says hello on stderr"]


@pytest.mark.isolated
@pytest.mark.torch
@pytest.mark.parametrize("launcher", ["torchrun", "srun"])
def test_a_torch_distributed_process_group_spans_both_nodes(
    two_nodes: IsolatedCluster, tmp_path: Path, launcher: str
) -> None:
    """configs/examples/torchrun.yaml as shipped (torchrun), and the same script started by srun."""
    require_torch()
    files = {
        "examples/distributed/train.py": (REPO / "examples" / "distributed" / "train.py").read_text(),
        "configs/torchrun.yaml": (REPO / "configs" / "examples" / "torchrun.yaml").read_text(),
    }
    project = make_project(tmp_path / "proj", files)
    srun = ["resources.launcher=srun", "command=python examples/distributed/train.py --steps {steps}"]
    args = ["submit", "configs/torchrun.yaml", "--backend", "slurm", "--wait", "--json", "--yes"]
    result = cli(args + (srun if launcher == "srun" else []), project, env=two_nodes.env, timeout=600)
    no_traceback(result)
    assert result.returncode == 0, result.stderr + _failed_story(project)
    data = json.loads(result.stdout)
    summary = data["summary"]
    assert summary["state"] == "completed", summary
    # 4 processes on 2 nodes joined one gloo process group and all-reduced their ranks
    assert summary["metrics"]["world_size"] == 4
    assert summary["metrics"]["rank_sum"] == 0 + 1 + 2 + 3
    run_dir = Path(data["run_dir"])
    logs = ["stdout.node1.log"] if launcher == "torchrun" else ["stdout.rank1.log", "stdout.rank3.log"]
    assert all((run_dir / name).is_file() for name in logs)
    # the smoke test ran the same launch here with the smallest world: 2 processes
    smoke = [json.loads(line) for line in (run_dir / "smoke" / "metrics.jsonl").read_text().splitlines()]
    assert smoke[-1]["world_size"] == 2 and smoke[-1]["rank_sum"] == 1


def _failed_story(project: Path) -> str:
    """What a failed multi-node job left (a CI failure is read from this: its directory is gone by
    then): the diagnosis and the ends of its logs, every node's and rank's."""
    lines = []
    for run in sorted((project / "runs").glob("*_*")):
        if (run / "summary.json").is_file():
            lines.append(
                f"{run.name} diagnosis: {json.loads((run / 'summary.json').read_text()).get('diagnosis')}"
            )
        for log in sorted(
            [*run.glob("std*.log"), *run.glob("scheduler/*.err"), *run.glob("scheduler/*.out")]
        ):
            lines.append(
                f"--- {log.relative_to(run)} ---\n"
                + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            )
    return "\n" + "\n".join(lines)


def test_the_local_backend_runs_the_ranks_of_one_node(ranks_project: Path) -> None:
    """Without SLURM: submitit's LocalExecutor starts tasks_per_node tasks; each is a rank on this machine."""
    args = [
        "submit",
        "configs/ranks.yaml",
        "resources.nodes=1",
        "resources.time=00:05:00",
        "--backend",
        "local",
    ]
    result = cli([*args, "--wait", "--json"], ranks_project, timeout=300)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    run_dir = Path(data["run_dir"])
    seen = _launches(run_dir)
    assert [(s["RANK"], s["LOCAL_RANK"], s["WORLD_SIZE"]) for s in seen] == [("0", "0", "2"), ("1", "1", "2")]
    assert {s["MASTER_ADDR"] for s in seen} == {"127.0.0.1"} and len({s["MASTER_PORT"] for s in seen}) == 1
    assert data["summary"]["state"] == "completed" and data["summary"]["metrics"]["rank"] == 0
    assert (run_dir / "stdout.rank1.log").is_file()
