"""The ranks of a multi-process job: one launch of the command per task, each with PyTorch's
distributed environment and its own logs, and one exit record that says which rank failed first.

On SLURM, srun starts `nodes x tasks_per_node` tasks and each runs clusterrun's job wrapper (jobrun.py)
once: this module tells the wrapper which rank it is (from the scheduler layer's TaskLayout), the
environment to give the command, and where its logs go:

- `launcher: srun` (the default): every rank runs the command with MASTER_ADDR (the first node),
  MASTER_PORT (derived from the job id: the same for every rank, different for each job), WORLD_SIZE,
  RANK, LOCAL_RANK, NODE_RANK, LOCAL_WORLD_SIZE, as `torch.distributed.init_process_group("env://")`
  reads them. Logs: `stdout.rank<R>.log` / `stderr.rank<R>.log`; rank 0 writes `stdout.log` and
  `stderr.log` (its `.rank0.log` names are links to them).
- `launcher: torchrun`: one task per node runs the command, which starts with torchrun; its rendezvous
  is filled in through torchrun's PET_* variables (PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK,
  PET_MASTER_ADDR, PET_MASTER_PORT). Logs are per node: `stdout.node<N>.log`, node 0's as `stdout.log`.

Ranks other than 0 write metrics to `metrics.rank<R>.jsonl` (see command.sh), so the run's metrics are
rank 0's. The smoke test runs the same launch locally with the smallest world that exercises it
(`python -m clusterrun.execution.ranks`, two processes on this machine, the same variables).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun import portable
from clusterrun.records import jobview
from clusterrun.records.jsonio import write_json_atomic, write_text_atomic
from clusterrun.scheduler import TaskLayout, task_layout

PORT_RANGE = (20000, 60000)
SMOKE_WORLD = 2
LAUNCHER_MODULE = "clusterrun.execution.ranks"


def master_port(job_id: str) -> int:
    """The same port for every rank of a job (derived from its id), a different one for the next job."""
    low, high = PORT_RANGE
    return low + zlib.crc32(job_id.encode()) % (high - low)


def free_port() -> int:
    """A port nothing listens on now (for a launch on this machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def torch_env(layout: TaskLayout, port: int) -> dict[str, str]:
    """What torch.distributed's env:// rendezvous reads, for one rank (launcher: srun)."""
    return {
        "MASTER_ADDR": layout.master_addr,
        "MASTER_PORT": str(port),
        "WORLD_SIZE": str(layout.world_size),
        "RANK": str(layout.rank),
        "LOCAL_RANK": str(layout.local_rank),
        "NODE_RANK": str(layout.node_rank),
        "GROUP_RANK": str(layout.node_rank),
        "LOCAL_WORLD_SIZE": str(layout.local_world_size),
        "CLUSTERRUN_RANK": str(layout.rank),
        "CLUSTERRUN_WORLD_SIZE": str(layout.world_size),
    }


def torchrun_env(layout: TaskLayout, nproc_per_node: int, port: int) -> dict[str, str]:
    """torchrun's options for one node's task, as its PET_* variables (launcher: torchrun)."""
    return {
        "PET_NNODES": str(layout.nodes),
        "PET_NPROC_PER_NODE": str(nproc_per_node),
        "PET_NODE_RANK": str(layout.node_rank),
        "PET_MASTER_ADDR": layout.master_addr,
        "PET_MASTER_PORT": str(port),
        "CLUSTERRUN_NODE_RANK": str(layout.node_rank),
        "CLUSTERRUN_WORLD_SIZE": str(layout.nodes * nproc_per_node),
    }


@dataclass(frozen=True)
class TaskLaunch:
    """How one task of the job runs the command: its logs, its environment, its exit record."""

    root: Path
    tag: str = ""  # "" for a single-process job; rank<R> (srun) or node<N> (torchrun)
    rank: int = 0
    tasks: int = 1  # tasks of the job (ranks; nodes with torchrun)
    env: dict[str, str] | None = None  # None: the job's own environment, unchanged
    layout: TaskLayout | None = None

    @property
    def multi(self) -> bool:
        return self.tasks > 1

    def _name(self, stem: str, suffix: str) -> Path:
        if self.multi and self.rank != 0:
            return self.root / f"{stem}.{self.tag}{suffix}"
        return self.root / f"{stem}{suffix}"

    @property
    def stdout(self) -> Path:
        return self._name("stdout", ".log")

    @property
    def stderr(self) -> Path:
        return self._name("stderr", ".log")

    @property
    def job_env(self) -> Path:
        return self._name("job_env", ".json")

    def event_fields(self) -> dict[str, Any]:
        if self.layout is None or not self.multi:
            return {}
        return {"rank": self.rank, "node_rank": self.layout.node_rank, "tasks": self.tasks}

    def link_rank0_logs(self) -> None:
        """Rank 0 writes stdout.log and stderr.log; stdout.rank0.log names them too."""
        if not (self.multi and self.rank == 0):
            return
        for stem in ("stdout", "stderr"):
            link = self.root / f"{stem}.{self.tag}.log"
            with contextlib.suppress(FileExistsError):
                link.symlink_to(f"{stem}.log")


def _resources(root: Path) -> dict[str, Any]:
    manifest = jobview.read(root)  # None: missing or damaged: launched as a single process
    return manifest.config_resources if manifest is not None else {}


def task_launch(root: Path, environ: Mapping[str, str]) -> TaskLaunch:
    """This task's launch: a single process (the default), one rank, or one node's torchrun."""
    layout = task_layout(environ)
    resources = _resources(root)
    torchrun = resources.get("launcher") == "torchrun"
    if layout is None or (layout.world_size <= 1 and not torchrun):
        return TaskLaunch(root)
    port = master_port(layout.job_id)
    if torchrun:
        nproc = int(resources.get("tasks_per_node") or 1)
        env = {**environ, **torchrun_env(layout, nproc, port)}
        return TaskLaunch(root, f"node{layout.node_rank}", layout.node_rank, layout.nodes, env, layout)
    env = {**environ, **torch_env(layout, port)}
    return TaskLaunch(root, f"rank{layout.rank}", layout.rank, layout.world_size, env, layout)


# --- the exit record --------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with portable.locked(root / ".exit.lock"):  # flock (msvcrt on Windows): clusterrun/portable.py
        yield


def combine(records: list[dict[str, Any]], tasks: int, unit: str = "rank") -> dict[str, Any] | None:
    """The job's exit record from its tasks' records: None while none failed and some still run; else
    the first failure decides the return code (failed_rank says which), or 0 when all succeeded."""
    failed = sorted((r for r in records if r.get("returncode") != 0), key=lambda r: r.get("ended", 0))
    if not failed and len(records) < tasks:
        return None
    by_rank = sorted(records, key=lambda r: int(r.get("rank", 0)))
    first = failed[0] if failed else None
    lead = first or by_rank[0]
    started = min(float(r.get("started", 0)) for r in records)
    ended = max(float(r.get("ended", 0)) for r in records)
    modified = sorted({f for r in records for f in r.get("modified_tracked_files") or []})
    out: dict[str, Any] = {
        "returncode": lead.get("returncode", 0),
        "started": started,
        "ended": ended,
        "seconds": round(ended - started, 3),
        "peak_rss_mb": max(float(r.get("peak_rss_mb") or 0) for r in records),
        "cpu_seconds": round(sum(float(r.get("cpu_seconds") or 0) for r in records), 3),
        "host": by_rank[0].get("host", "") if by_rank[0].get("rank") == 0 else lead.get("host", ""),
        "job_id": lead.get("job_id", ""),
        "tasks": tasks,
        "tasks_ended": len(records),
        "task_unit": unit,
        "failed_rank": first.get("rank") if first else None,
        "failed_host": first.get("host", "") if first else "",
        "ranks": [
            {k: r.get(k) for k in ("rank", "node_rank", "host", "returncode", "seconds", "peak_rss_mb")}
            for r in by_rank
        ],
    }
    if modified:
        out["modified_tracked_files"] = modified[:50]
    leftover = sum(int(r.get("leftover_count") or 0) for r in records)
    if leftover:
        out["leftover_count"] = leftover
        out["leftover_processes"] = [c for r in records for c in r.get("leftover_processes") or []][:5]
    return out


def record_exit(launch: TaskLaunch, record: dict[str, Any]) -> None:
    """exit.json: as it is for one process; for several, this task's exit.<tag>.json, then (under a
    lock) exit.json from every task's, once one failed or all ended."""
    root = launch.root
    if not launch.multi:
        write_json_atomic(root / "exit.json", record)
        return
    layout = launch.layout
    own = {**record, "rank": launch.rank, "node_rank": layout.node_rank if layout else 0}
    write_json_atomic(root / f"exit.{launch.tag}.json", own)
    unit = "node" if launch.tag.startswith("node") else "rank"
    with _locked(root):
        records = []
        for path in root.glob(f"exit.{unit}*.json"):
            with contextlib.suppress(OSError, ValueError):
                records.append(json.loads(path.read_text()))
        combined = combine(records, launch.tasks, unit)
        if combined is not None:
            write_json_atomic(root / "exit.json", combined)


# --- the same launch on this machine (the smoke test) -----------------------------------------------


def smoke_world(resources: Mapping[str, Any]) -> tuple[int, int]:
    """(nodes, tasks per node) of the smallest local launch that exercises a multi-process job: two
    processes, as two nodes when the job spans several; (1, 1) for a single process."""
    nodes = int(resources.get("nodes") or 1)
    per_node = int(resources.get("tasks_per_node") or 1)
    if resources.get("launcher") == "torchrun":
        return (1, SMOKE_WORLD) if nodes * per_node > 1 else (1, 1)
    if nodes * per_node <= 1:
        return 1, 1
    return (SMOKE_WORLD, 1) if nodes > 1 else (1, SMOKE_WORLD)


def launcher_argv(script: Path, resources: Mapping[str, Any]) -> list[str] | None:
    """The local launch of `script` for the smoke test; None when the job is a single process."""
    nodes, per_node = smoke_world(resources)
    torchrun = resources.get("launcher") == "torchrun"
    if nodes * per_node <= 1 and not torchrun:
        return None
    mode = "torchrun" if torchrun else "srun"
    return [sys.executable, "-m", LAUNCHER_MODULE, mode, str(nodes), str(per_node), str(script)]


def smoke_script(script: Path, resources: Mapping[str, Any]) -> Path:
    """What the smoke test runs: `script` itself, or for a multi-process job a launch.sh beside it that
    starts the smallest world that exercises it (see smoke_world) with the job's variables."""
    argv = launcher_argv(script, resources)
    if argv is None:
        return script
    launch = script.with_name("launch.sh")
    nodes, per_node = smoke_world(resources)
    text = (
        "#!/usr/bin/env bash\n"
        f"# the smoke test of a multi-process job: {nodes} node(s) x {per_node} process(es) here,\n"
        "# with the variables the job's ranks get (rank 0's output here, the others' in *.rank<R>.log)\n"
        f"exec {shlex.join(argv)}\n"
    )
    write_text_atomic(launch, text, mode=0o755)
    return launch


def local_layouts(nodes: int, per_node: int) -> list[TaskLayout]:
    world = nodes * per_node
    return [
        TaskLayout("local", r, r % per_node, r // per_node, world, per_node, nodes, "127.0.0.1")
        for r in range(world)
    ]


def run_local(mode: str, nodes: int, per_node: int, script: Path) -> int:
    """Run `bash script` as the job's ranks on this machine; rank 0's output is ours, the others' go to
    stdout.rank<R>.log beside it. The first rank to fail stops the others; its code is returned."""
    port = free_port()
    here = script.parent
    env = {k: v for k, v in os.environ.items()}
    if mode == "torchrun":
        (layout,) = local_layouts(1, 1)
        launches = [({**env, **torchrun_env(layout, per_node, port)}, 0, "")]
    else:
        launches = [
            ({**env, **torch_env(layout, port)}, layout.rank, f"rank{layout.rank}")
            for layout in local_layouts(nodes, per_node)
        ]
    processes: list[subprocess.Popen[bytes]] = []
    first_failure = 0
    with contextlib.ExitStack() as files:
        for task_env, rank, tag in launches:
            out, err = sys.stdout.buffer, sys.stderr.buffer
            if rank != 0:
                out = files.enter_context(open(here / f"stdout.{tag}.log", "ab"))
                err = files.enter_context(open(here / f"stderr.{tag}.log", "ab"))
            processes.append(subprocess.Popen(["bash", str(script)], stdout=out, stderr=err, env=task_env))
        try:
            while None in [p.poll() for p in processes]:  # every one polled: returncodes are current
                bad = [p.returncode for p in processes if p.returncode not in (None, 0)]
                if bad and not first_failure:
                    first_failure = bad[0] or 1
                    for p in processes:
                        if p.poll() is None:
                            p.send_signal(signal.SIGTERM)
                time.sleep(0.05)
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    codes = [p.returncode for p in processes]
    return first_failure or next((c for c in codes if c != 0), 0)


def main(argv: list[str]) -> int:
    mode, nodes, per_node, script = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    code = run_local(mode, nodes, per_node, script)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# --- reading it back (summary and diagnosis) --------------------------------------------------------


def failed_tag(exit_record: Mapping[str, Any]) -> str:
    """'rank3' (or 'node1') when a task other than 0 of a multi-process job failed first; else ''."""
    failed = exit_record.get("failed_rank")
    if not isinstance(failed, int) or int(exit_record.get("tasks") or 1) <= 1 or failed == 0:
        return ""
    return f"{exit_record.get('task_unit') or 'rank'}{failed}"


def failure_note(exit_record: Mapping[str, Any]) -> str:
    """'rank 3 of 4 failed first (exit code 1, on n2; its log: stderr.rank3.log)', or ''."""
    failed = exit_record.get("failed_rank")
    tasks = int(exit_record.get("tasks") or 1)
    if not isinstance(failed, int) or tasks <= 1:
        return ""
    unit = exit_record.get("task_unit") or "rank"
    tag = failed_tag(exit_record)
    log = f"stderr.{tag}.log" if tag else "stderr.log"
    host = exit_record.get("failed_host") or "?"
    code = exit_record.get("returncode")
    return f"{unit} {failed} of {tasks} failed first (exit code {code}, on {host}; its log: {log})"


def failure_logs(root: Path, exit_record: Mapping[str, Any]) -> dict[str, Path]:
    """The logs of the task that failed first (log name -> path), to read before rank 0's; {} if rank 0."""
    tag = failed_tag(exit_record)
    if not tag:
        return {}
    return {f"stderr.{tag}.log": root / f"stderr.{tag}.log", f"stdout.{tag}.log": root / f"stdout.{tag}.log"}
