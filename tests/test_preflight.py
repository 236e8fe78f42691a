"""Preflight: a request the cluster can never run is refused before the smoke test, with what the
cluster has (scheduler/preflight.py, from one sinfo query), instead of reaching sbatch or the cost gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrun.scheduler.base import JobSpec
from clusterrun.scheduler.preflight import fixes, parse_gpus, parse_sinfo, problems
from tests.helpers import cli, no_traceback

# `sinfo -h -N -o '%N|%T|%c|%m|%G|%P|%f|%l|%a|%s'` of a cluster with a CPU and a GPU partition
SINFO = """\
cpu01|idle|32|128000|(null)|cpu*|intel,avx512|2-00:00:00|up|1-16
cpu02|mixed|32|128000|(null)|cpu*|intel,avx512|2-00:00:00|up|1-16
gpu01|idle|64|512000|gpu:a100:4(S:0-1)|gpu|amd|1-00:00:00|up|1-2
gpu02|drained|64|512000|gpu:v100:8|gpu|amd|1-00:00:00|up|1-2
gpu01|idle|64|512000|gpu:a100:4(S:0-1)|long|amd|7-00:00:00|up|1-infinite
"""


def job(**fields: object) -> JobSpec:
    base: dict[str, object] = {"run_dir": "", "folder": "", "job_name": "", "chdir": "", "time_seconds": 3600}
    return JobSpec(**{**base, "mem_mb": 1024, **fields})  # type: ignore[arg-type]


def test_sinfo_is_read_into_partitions_with_their_nodes() -> None:
    parts = {p.name: p for p in parse_sinfo(SINFO)}
    assert sorted(parts) == ["cpu", "gpu", "long"]
    assert parts["cpu"].default and not parts["gpu"].default
    assert parts["gpu"].max_nodes == 2 and parts["cpu"].max_nodes == 16 and parts["long"].max_nodes is None
    assert parts["gpu"].max_time_seconds == 86400
    assert parts["gpu"].nodes[0].gpus == {"a100": 4} and parts["cpu"].nodes[0].features == {"intel", "avx512"}
    assert parts["cpu"].describe() == "cpu* (2 nodes, 32 CPUs, 125G, no GPUs, time limit 2-00:00:00)"
    assert "gpu:a100:4" in parts["gpu"].describe() and "gpu:v100:8" in parts["gpu"].describe()
    assert parse_gpus("gpu:2,shard:8") == {"": 2}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ""),
        ({"gpus": 1}, "1 GPU per node, but partition cpu has no GPUs (no gres)"),
        ({"partition": "gpu", "gpus": 4, "gpu_type": "a100"}, ""),
        ({"partition": "gpu", "gpus": 8, "gpu_type": "a100"}, "8 GPUs of type a100 per node, but the nodes"),
        ({"partition": "gpu", "gpus": 8}, ""),  # the v100 node has 8 (drained now, but it exists)
        ({"partition": "gpu", "gpus": 8, "nodes": 2}, "8 GPUs per node, but the nodes of partition gpu have"),
        ({"cpus_per_task": 64}, "64 CPUs per node, but the largest node of partition cpu has 32"),
        ({"cpus_per_task": 16, "tasks_per_node": 4}, "(cpus_per_task=16 x tasks_per_node=4)"),
        ({"partition": "nope"}, "there is no partition 'nope'"),
        ({"partition": "nope,gpu"}, ""),  # one of the listed partitions is enough
        ({"mem_mb": 200_000}, "mem=200000M per node, but the largest node of partition cpu has 125G"),
        ({"nodes": 3}, "nodes=3, but partition cpu allows 2 nodes"),
        ({"time_seconds": 3 * 86400}, "time=3-00:00:00 is above partition cpu's time limit 2-00:00:00"),
        ({"partition": "long", "time_seconds": 3 * 86400}, ""),
        ({"constraint": "avx512"}, ""),
        ({"constraint": "arm"}, "constraint=arm, but no node of partition cpu has that feature"),
        ({"constraint": "intel&avx512"}, ""),  # an expression is left to SLURM
    ],
)
def test_what_no_node_can_hold_is_named(fields: dict[str, object], expected: str) -> None:
    found = "; ".join(problems(job(**fields), parse_sinfo(SINFO)))
    if expected:
        assert expected in found
    else:
        assert found == ""


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, []),
        ({"cpus_per_task": 64}, ["resources.cpus_per_task=32"]),
        ({"cpus_per_task": 16, "tasks_per_node": 4}, ["resources.cpus_per_task=8"]),
        ({"mem_mb": 200_000, "nodes": 3}, ["resources.mem=125G", "resources.nodes=2"]),
        ({"time_seconds": 3 * 86400}, ["resources.time=2-00:00:00"]),
        ({"partition": "long", "time_seconds": 30 * 86400}, ["resources.time=7-00:00:00"]),
        ({"partition": "gpu", "cpus_per_task": 128}, ["resources.cpus_per_task=64"]),
        ({"gpus": 1}, []),  # no count of the same kind fits: a partition is the fix
    ],
)
def test_an_impossible_request_gets_the_overrides_that_would_fit(
    fields: dict[str, object], expected: list[str]
) -> None:
    assert fixes(job(**fields), parse_sinfo(SINFO)) == expected


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("resources.gpus=1", "1 GPU per node, but partition debug has no GPUs"),
        ("resources.cpus_per_task=64", "64 CPUs per node, but the largest node of partition debug has"),
        ("resources.partition=nope", "there is no partition 'nope'"),
        ("resources.mem=10T", "mem=10T per node, but the largest node of partition debug has"),
        ("resources.nodes=9", "nodes=9, but partition debug allows"),
    ],
)
def test_an_impossible_request_is_refused_before_the_smoke_test(
    project: Path, override: str, words: str
) -> None:
    # long and wide enough to need confirmation: it is refused as impossible, not called "expensive"
    args = ["submit", "configs/quickstart.yaml", override, "resources.time=2-00:00:00", "--backend", "slurm"]
    result = cli(args, project)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert words in error and "partitions: debug* (1 node, " in error and "no GPUs" in error
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    if "cpus_per_task" in override or "mem" in override:  # the largest node's numbers, ready to type
        assert f"to fit, add {override.split('=')[0]}=" in hint, hint
    assert "expensive" not in result.stderr and "smoke test" not in result.stderr
    assert not [p for p in (project / "runs").iterdir() if not p.name.startswith(".")]  # nothing created


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_request_the_cluster_can_hold_passes(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "--backend", "slurm", "--dry-run"], project)
    no_traceback(result)
    assert result.returncode == 0, result.stderr


def test_the_local_backend_is_one_node(project: Path) -> None:
    result = cli(["submit", "configs/quickstart.yaml", "resources.nodes=2", "--backend", "local"], project)
    no_traceback(result)
    assert result.returncode == 2
    assert "error: resources.nodes=2, but the local backend runs on this machine: one node" in result.stderr
