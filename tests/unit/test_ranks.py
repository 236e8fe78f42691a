"""The ranks of a multi-process job (execution/ranks.py, scheduler/slurm_tasks.py), without a cluster:
the layout SLURM's variables give, the environment and logs of each rank, the combined exit record,
and the local launch the smoke test runs (real processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clusterrun.execution import ranks
from clusterrun.scheduler.base import TaskLayout
from clusterrun.scheduler.slurm_tasks import expand_nodelist, task_layout

SLURM_RANK3 = {
    "SLURM_JOB_ID": "4242",
    "SLURM_PROCID": "3",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1",
    "SLURM_NTASKS": "4",
    "SLURM_JOB_NUM_NODES": "2",
    "SLURM_JOB_NODELIST": "localhost,n2",
}


def test_nodelists_expand_as_slurm_writes_them() -> None:
    assert expand_nodelist("n[1-2],gpu[08-10,12],login") == [
        "n1",
        "n2",
        "gpu08",
        "gpu09",
        "gpu10",
        "gpu12",
        "login",
    ]
    assert expand_nodelist("a[1-2]b[1-2]") == ["a1b1", "a1b2", "a2b1", "a2b2"]
    assert expand_nodelist("") == []


def test_the_slurm_layout_of_rank_3_of_2_nodes_x_2_tasks() -> None:
    layout = task_layout(SLURM_RANK3)
    assert layout == TaskLayout("4242", 3, 1, 1, 4, 2, 2, "localhost")  # the first node, which resolves
    assert task_layout({"SLURM_JOB_ID": "1"}) is None  # the batch script, not a task of srun


def test_every_rank_gets_the_same_rendezvous_and_its_own_rank() -> None:
    layouts = [TaskLayout("77", r, r % 2, r // 2, 4, 2, 2, "n1") for r in range(4)]
    envs = [ranks.torch_env(layout, ranks.master_port("77")) for layout in layouts]
    assert {(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs} == {("n1", str(ranks.master_port("77")))}
    assert [e["RANK"] for e in envs] == ["0", "1", "2", "3"]
    assert [(e["LOCAL_RANK"], e["NODE_RANK"]) for e in envs] == [
        ("0", "0"),
        ("1", "0"),
        ("0", "1"),
        ("1", "1"),
    ]
    assert {e["WORLD_SIZE"] for e in envs} == {"4"} and {e["LOCAL_WORLD_SIZE"] for e in envs} == {"2"}
    low, high = ranks.PORT_RANGE
    ports = {ranks.master_port(str(job)) for job in range(1000, 1100)}
    assert all(low <= p < high for p in ports) and len(ports) > 90  # stable per job, spread across jobs
    run = ranks.torchrun_env(layouts[2], 2, 29500)
    assert (run["PET_NNODES"], run["PET_NPROC_PER_NODE"], run["PET_NODE_RANK"]) == ("2", "2", "1")


def test_a_rank_writes_its_own_logs_and_a_single_process_job_is_unchanged(tmp_path: Path) -> None:
    launch = ranks.task_launch(tmp_path, SLURM_RANK3)
    assert launch.multi and launch.tag == "rank3" and launch.env is not None
    assert launch.env["RANK"] == "3" and launch.env["SLURM_PROCID"] == "3"  # the job's own env kept
    assert (launch.stdout.name, launch.stderr.name, launch.job_env.name) == (
        "stdout.rank3.log",
        "stderr.rank3.log",
        "job_env.rank3.json",
    )
    zero = ranks.task_launch(tmp_path, {**SLURM_RANK3, "SLURM_PROCID": "0", "SLURM_LOCALID": "0"})
    assert zero.stdout.name == "stdout.log"
    zero.link_rank0_logs()
    assert os.readlink(tmp_path / "stdout.rank0.log") == "stdout.log"
    single = ranks.task_launch(tmp_path, {**SLURM_RANK3, "SLURM_PROCID": "0", "SLURM_NTASKS": "1"})
    assert not single.multi and single.env is None and single.stdout.name == "stdout.log"


def _record(rank: int, code: int, ended: float) -> dict[str, object]:
    return {
        "rank": rank,
        "returncode": code,
        "started": 10.0,
        "ended": ended,
        "host": f"h{rank}",
        "seconds": 1,
    }


def test_the_exit_record_waits_for_every_rank_or_names_the_first_that_failed() -> None:
    assert ranks.combine([_record(0, 0, 12), _record(1, 0, 13)], tasks=3) is None  # one still runs
    done = ranks.combine([_record(0, 0, 12), _record(1, 0, 13)], tasks=2)
    assert done is not None and done["returncode"] == 0 and done["failed_rank"] is None
    assert done["seconds"] == 3.0 and done["host"] == "h0"
    # rank 2 failed first; rank 0 was killed after it (by srun --kill-on-bad-exit)
    failed = ranks.combine([_record(0, -15, 20), _record(2, 5, 15)], tasks=4)
    assert failed is not None and failed["failed_rank"] == 2 and failed["returncode"] == 5
    assert failed["tasks_ended"] == 2 and failed["failed_host"] == "h2"
    assert (
        ranks.failure_note(failed)
        == "rank 2 of 4 failed first (exit code 5, on h2; its log: stderr.rank2.log)"
    )


def test_record_exit_writes_exit_json_once_every_rank_has_ended(tmp_path: Path) -> None:
    layouts = [TaskLayout("9", r, r, 0, 2, 2, 1, "n1") for r in range(2)]
    launches = [ranks.TaskLaunch(tmp_path, f"rank{r}", r, 2, {}, layouts[r]) for r in range(2)]
    ranks.record_exit(launches[1], {"returncode": 0, "started": 1.0, "ended": 2.0, "host": "n1"})
    assert not (tmp_path / "exit.json").exists()
    ranks.record_exit(launches[0], {"returncode": 0, "started": 1.0, "ended": 3.0, "host": "n1"})
    combined = json.loads((tmp_path / "exit.json").read_text())
    assert combined["returncode"] == 0 and [r["rank"] for r in combined["ranks"]] == [0, 1]


@pytest.mark.parametrize(
    ("resources", "world"),
    [
        ({"nodes": 1, "tasks_per_node": 1}, (1, 1)),
        ({"nodes": 1, "tasks_per_node": 8}, (1, 2)),
        ({"nodes": 4, "tasks_per_node": 8}, (2, 1)),
        ({"nodes": 2, "tasks_per_node": 4, "launcher": "torchrun"}, (1, 2)),
    ],
)
def test_the_smoke_test_runs_the_smallest_world_that_exercises_the_job(
    resources: dict[str, object], world: tuple[int, int]
) -> None:
    assert ranks.smoke_world(resources) == world


def test_the_local_launch_starts_each_rank_once_and_stops_the_others_when_one_fails(tmp_path: Path) -> None:
    script = tmp_path / "command.sh"
    script.write_text(
        'echo "$RANK $WORLD_SIZE $NODE_RANK $MASTER_ADDR $MASTER_PORT" >> "$(dirname "$0")/seen.txt"\n'
        'if [ "$RANK" = 1 ]; then exit 3; fi\n'
        "sleep 30\n"
    )
    launch = ranks.smoke_script(script, {"nodes": 2, "tasks_per_node": 2})
    assert launch.name == "launch.sh" and "clusterrun.execution.ranks srun 2 1" in launch.read_text()
    code = ranks.run_local("srun", 2, 1, script)
    assert code == 3  # rank 1's code; rank 0 was stopped instead of sleeping 30 s
    seen = sorted(line.split() for line in (tmp_path / "seen.txt").read_text().splitlines())
    assert [s[:3] for s in seen] == [["0", "2", "0"], ["1", "2", "1"]]
    assert seen[0][3:] == seen[1][3:] and seen[0][3] == "127.0.0.1"
    assert ranks.smoke_script(script, {"nodes": 1, "tasks_per_node": 1}) == script
