"""What runs inside the job: execute the run's command.sh, logging to the run directory.

submitit pickles `run_job` by reference and calls it on the allocated node (or the local machine).
The user's stdout and stderr go to separate files in the run directory; `exit.json` records how the
command ended. A non-zero exit raises, so the scheduler marks the job FAILED.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import FrameType

from clusterrun.errors import ClusterrunError
from clusterrun.execution import envinfo
from clusterrun.execution.stdout_times import StdoutClock
from clusterrun.inputs import workdir
from clusterrun.records import store
from clusterrun.records.jsonio import append_jsonl, write_json_atomic
from clusterrun.records.models import Manifest
from clusterrun.records.registry import now_iso
from clusterrun.scheduler import job_variables

WORKDIR = workdir.NAME


class CommandFailed(RuntimeError):
    """The user's command exited non-zero."""


def _event(run_dir: Path, kind: str, **data: object) -> None:
    append_jsonl(run_dir / "events.jsonl", {"at": now_iso(), "event": kind, **data})


def _check_workdir(root: Path, job_id: str) -> dict[str, object]:
    """Tracked files the command rewrote in place changed the shared snapshot: record them here and
    mark the snapshot tainted, so that it is rebuilt before it is used again."""
    try:
        manifest = store.read_manifest(root)
    except ClusterrunError:  # missing, damaged or from a newer clusterrun: checked without it
        manifest = Manifest()
    found = workdir.check(root / WORKDIR, manifest.workdir_links)
    if not found.modified_in_place:
        return {}
    snapshot_path = manifest.snapshot.path
    if snapshot_path:
        workdir.mark_tainted(Path(snapshot_path), found.modified_in_place, f"run {root.name} (job {job_id})")
    _event(root, "snapshot_tainted", files=found.modified_in_place[:50], by="job")
    return {"modified_tracked_files": found.modified_in_place[:50]}


def run_job(run_dir: str, script: str = "command.sh") -> int:
    """Run `<run_dir>/<script>`; write stdout.log, stderr.log and exit.json; raise on failure."""
    root = Path(run_dir)
    job_id, _variables = job_variables(os.environ)
    host = socket.gethostname()
    started = time.time()
    _event(root, "job_started", host=host, job_id=job_id, pid=os.getpid())
    write_json_atomic(root / "job_env.json", envinfo.job_side())
    with open(root / "stdout.log", "ab") as out, open(root / "stderr.log", "ab") as err:
        process = subprocess.Popen(["bash", str(root / script)], stdout=out, stderr=err)
        clock = StdoutClock(root / "stdout.log", root / "stdout.times").start()  # metric timestamps

        def forward(signum: int, _frame: FrameType | None) -> None:
            if process.poll() is None:
                process.send_signal(signum)

        def warned(_signum: int, _frame: FrameType | None) -> None:
            # submitit asks SLURM for SIGUSR2 90 s before the time limit (--signal=USR2@90); SLURM sends
            # it to every process of the step, this one included. Here it is only recorded: it must not
            # end the job early (command.sh makes the command ignore it too, unless it handles it).
            _event(root, "time_limit_warning", signal="SIGUSR2")

        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGUSR2] = signal.signal(signal.SIGUSR2, warned)
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            clock.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    returncode = os.waitstatus_to_exitcode(status)
    process.returncode = returncode
    ended = time.time()
    record = {
        "returncode": returncode,
        "started": started,
        "ended": ended,
        "seconds": round(ended - started, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "host": host,
        "job_id": job_id,
    }
    record.update(_check_workdir(root, job_id))
    write_json_atomic(root / "exit.json", record)
    _event(root, "job_ended", **record)
    if returncode != 0:
        raise CommandFailed(f"the command exited with code {returncode}; see {root / 'stderr.log'}")
    return returncode
