"""What runs inside the job: execute the run's command.sh, logging to the run directory.

submitit pickles `run_job` by reference and calls it on the allocated node (or the local machine).
The user's stdout and stderr go to separate files in the run directory; `exit.json` records how the
command ended. A non-zero exit raises, so the scheduler marks the job FAILED.

Each call is one attempt of the job (a requeued job runs again: attempts.py numbers and records it).
The command runs as a child in its own process group (supervise.py), which gets the scheduler's SIGUSR2
and SIGTERM; when the time limit stops an attempt and attempts remain, the job is requeued and the
wrapper exits without a verdict (SystemExit with the scheduler's requeue status).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import time
from pathlib import Path

from clusterrun import portable
from clusterrun.errors import ClusterrunError
from clusterrun.execution import attempts, envinfo, envprobe, ranks
from clusterrun.execution.stdout_times import StdoutClock
from clusterrun.execution.supervise import supervise
from clusterrun.inputs import workdir
from clusterrun.records import jobview, memberfiles
from clusterrun.records.jsonio import append_jsonl, read_json, write_json_atomic
from clusterrun.records.names import now_iso
from clusterrun.records.paths import SNAPSHOT_STORE, readable
from clusterrun.scheduler import job_variables
from clusterrun.scheduler.jobside import job_side

WORKDIR = workdir.NAME


class CommandFailed(RuntimeError):
    """The user's command exited non-zero."""


def _event(run_dir: Path, kind: str, **data: object) -> None:
    append_jsonl(run_dir / "events.jsonl", {"at": now_iso(), "event": kind, **data})


def _stdout_history(root: Path) -> None:
    """stdout_metrics.jsonl (the metrics patterns' matches over the logs), written by the job as it ends,
    before exit.json: the first `status` that records the end of a thousand runs made a thousand files
    more, one at a time, where each job makes its own on its node. A log larger than JOB_SCAN_LIMIT,
    anything that goes wrong: left to that status, as before."""
    try:
        config = read_json(root / "manifest.json").get("config") or {}
        if not (config.get("metrics") or {}).get("patterns"):
            return  # nothing to write (history.write_stdout_history would say so): not even imported
        from clusterrun.analysis import history  # here: a job without patterns starts sooner without it

        if (root / "stdout.log").stat().st_size > history.JOB_SCAN_LIMIT:
            return
        history.write_stdout_history(root, config)
    except (OSError, ValueError, AttributeError, ClusterrunError):
        return


def _check_workdir(root: Path, job_id: str, outputs: bool = True) -> dict[str, object]:
    """Tracked files the command rewrote in place changed the shared snapshot: record them here and
    mark the snapshot tainted, so that it is rebuilt before it is used again. With `outputs` (a job of
    one process: nothing else writes into the run once it ended), what the run created as well, found
    by the same walk of its working copy (exit.json's `outputs`): its summary need not walk it again."""
    manifest = jobview.read(root)  # None: missing, damaged or from a newer clusterrun: checked without it
    links = manifest.workdir_links if manifest is not None else {}
    record: dict[str, object] = {}
    try:
        items, modified = workdir.run_outputs(root, root / "artifacts", root / WORKDIR, links)
    except OSError:  # an unreadable artifacts directory: the summary walks it and says what it can
        items, modified = None, workdir.check(root / WORKDIR, links).modified_in_place
    made = workdir.outputs_record(items, modified) if outputs and items is not None else None
    if made is not None:
        record["outputs"] = made
    if not modified:
        return record
    # only a snapshot of this registry's store, whatever the manifest says (records/paths.py)
    recorded = manifest.snapshot_path if manifest is not None else ""
    snapshot_path = readable(Path(recorded), root.parent / SNAPSHOT_STORE) if recorded else None
    if snapshot_path:
        workdir.mark_tainted(snapshot_path, modified, f"run {root.name} (job {job_id})")
    _event(root, "snapshot_tainted", files=modified[:50], by="job")
    return record | {"modified_tracked_files": modified[:50]}


def _member_files(root: Path) -> str:
    """A submitted sweep's member gets its config.yaml and command.sh from its sweep when its job starts
    (records/memberfiles.py): from then on its directory is whole. Returns a line for stderr.log when
    command.sh is still missing (its sweep keeps no copy: a damaged or half-copied registry), else ""."""
    if all(os.path.lexists(root / name) for name in memberfiles.FILES):  # every run but such a member
        return ""
    manifest = jobview.read(root)
    sweep = manifest.data.get("sweep") if manifest is not None else None
    with contextlib.suppress(OSError):
        memberfiles.materialise(root, sweep if isinstance(sweep, str) else None)
    if os.path.lexists(root / "command.sh"):
        return ""
    where = f"its sweep {sweep}" if isinstance(sweep, str) and sweep else "no sweep"
    return (
        f"clusterrun: {root / 'command.sh'} is missing and {where} keeps no copy of it "
        f"({memberfiles.INDEX}): the run directory is incomplete; submit the run again "
        f"('clusterrun reproduce {root.name}')\n"
    )


def _make_workdir(root: Path) -> None:
    """The run's working directory, made here in the wrapper's own process before command.sh runs:
    command.sh makes it only when it is missing (`python -m clusterrun.inputs.workdir`), which costs a
    second Python's start-up. Anything amiss (no manifest, a snapshot outside the registry's store, a
    tainted snapshot) is left to command.sh, which makes it the same way or says why it cannot."""
    if (root / WORKDIR).is_dir():  # a requeued attempt keeps its working directory
        return
    manifest = jobview.read(root)
    if manifest is None:
        return
    recorded = manifest.snapshot_path
    snapshot = readable(Path(recorded), root.parent / SNAPSHOT_STORE) if recorded else None
    if snapshot is None:
        return
    with contextlib.suppress(Exception):  # whatever failed, command.sh tries again and says why in stderr.log
        workdir.materialise(snapshot, root / WORKDIR, manifest.workdir_links)


def run_job(run_dir: str, script: str = "command.sh") -> int:
    """Run `<run_dir>/<script>` as one attempt of the run's job; write stdout.log, stderr.log, exit.json
    and the attempt's record; requeue the job when its time runs out and attempts remain (attempts.py);
    raise on failure."""
    try:
        return _attempt(Path(run_dir), script)
    finally:
        # the job's process ends after this (submitit records the result and exits): its last garbage
        # collection need not walk every object of the imports, ~0.05 s sooner for whoever waits on the
        # job's end (a local --wait). Everything of the attempt is written and closed by now.
        gc.freeze()


def _attempt(root: Path, script: str) -> int:
    early = attempts.EarlyWarning.install()  # SIGUSR2 is the wrapper's from here on, not submitit's
    # what the command leaves when it ends becomes the wrapper's to reap (supervise.stop_leftovers): an
    # init that reaps orphans late made a short job's end wait out the whole LEFTOVER_GRACE
    portable.adopt_orphans()
    job_id, _variables = job_variables(os.environ)
    side = job_side(os.environ)
    host = socket.gethostname()
    task = ranks.task_launch(root, os.environ)  # one rank of several: its logs and distributed env
    attempt = attempts.Attempt.begin(root, side, host, lead=task.rank == 0)  # numbered, recorded
    started = attempt.started
    _event(
        root,
        "job_started",
        host=host,
        job_id=job_id,
        pid=os.getpid(),
        attempt=attempt.number,
        **task.event_fields(),
    )
    write_json_atomic(task.job_env, envinfo.job_side())
    task.link_rank0_logs()
    missing = _member_files(root) if script == "command.sh" else ""
    _make_workdir(root)
    with open(task.stdout, "ab") as out, open(task.stderr, "ab") as err:
        attempt.mark_logs(out, err)  # === clusterrun: attempt N ... === from the second attempt on
        if missing:  # said before bash's own 'No such file or directory'
            err.write(missing.encode())
            err.flush()
        clock = StdoutClock(task.stdout, task.stdout.with_suffix(".times")).start()  # metric timestamps
        try:
            outcome = supervise(
                ["bash", str(root / script)],
                out,
                err,
                attempt.environ(dict(task.env if task.env is not None else os.environ)),
                forward=not side.signals_every_process,  # SLURM signals the command's processes itself
                on_warning=attempt.on_warning,
                on_signal=attempt.on_signal,
                warned_at=early.at,
                awaited=str(root / envprobe.RECORD),  # command.sh's environment probe, not a leftover
                warn_with=getattr(signal, f"SIG{attempt.policy.signal}"),  # requeue.signal
            )
        finally:
            clock.stop()
    returncode, usage = outcome.returncode, outcome.usage
    ended = time.time()
    record = {
        "returncode": returncode,
        "started": started,
        "ended": ended,
        "seconds": round(ended - started, 3),
        # the largest process's peak (rusage), or the whole tree's summed, workers included, when larger:
        # what the cluster counts against resources.mem, and what the smoke test measures
        "peak_rss_mb": round(max(portable.maxrss_mb(usage.ru_maxrss), outcome.peak_tree_kb / 1024), 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),  # the command's, children included
        "host": host,
        "job_id": job_id,
    }
    record.update(_check_workdir(root, job_id, outputs=not task.multi))
    if outcome.leftover_count:  # stopped once the command exited (supervise.py): said in the results
        record["leftover_processes"] = outcome.leftover
        record["leftover_count"] = outcome.leftover_count
        _event(root, "leftover_stopped", count=outcome.leftover_count, commands=outcome.leftover)
    reason = attempt.finish(outcome, record)  # the attempt's end in the manifest; record gets its reason
    if task.rank == 0 and not record["requeued"]:  # the run's last attempt: its stdout is whole
        _stdout_history(root)
    ranks.record_exit(task, record)  # exit.json (with several ranks: once one failed or all ended)
    ended_event = {k: v for k, v in record.items() if k != "outputs"}  # (the files: in exit.json)
    _event(root, "job_ended", **ended_event, **task.event_fields())
    if record["requeued"]:
        code = attempt.requeue()  # the same job runs again: this attempt ends here, not as a failure
        if code is not None:
            raise SystemExit(code)
    if reason == "completed":
        return returncode
    if reason != "failed":
        attempt.linger()  # stopped by the scheduler: its verdict (TIMEOUT, PREEMPTED...) is the job's
    raise CommandFailed(_failure(reason, returncode, attempt, task.stderr))


def _failure(reason: str, returncode: int, attempt: attempts.Attempt, stderr: Path) -> str:
    if reason == "failed":
        return f"the command exited with code {returncode}; see {stderr}"
    why = {"time_limit": "at its time limit", "preempted": "by a preemption", "terminated": "by SIGTERM"}
    return f"attempt {attempt.number} was stopped {why.get(reason, reason)} (exit code {returncode})"
