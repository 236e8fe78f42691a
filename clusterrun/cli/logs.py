"""clusterrun logs RUN_ID [--stderr|--smoke|--scheduler] [--rank R] [--attempt N] [--tail N] [--follow]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.cli.common import info, registry
from clusterrun.cli.complete import complete_runs
from clusterrun.cli.follow import Followed, follow_run, run_logs
from clusterrun.cli.output import results_block, size
from clusterrun.cli.waitlimit import checked, timeout_option
from clusterrun.errors import ExitStatus, UsageError
from clusterrun.records import log_parts
from clusterrun.records.models import as_summary
from clusterrun.records.paths import inside_registry
from clusterrun.records.registry import Registry, Run
from clusterrun.records.summary import scheduler_folder, scheduler_logs
from clusterrun.services.status import waiting_at_most


def _copy(path: Path, offset: int, end: int | None = None) -> int:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read() if end is None else handle.read(max(0, end - offset))
    except FileNotFoundError:
        return offset
    if chunk:
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    return offset + len(chunk)


def tail_offset(path: Path, lines: int, start: int = 0, end: int | None = None) -> int:
    """The offset in `path` (within [start, end)) where its last `lines` lines begin: read backwards in
    blocks, never the whole file; a last line without its newline counts as a line."""
    try:
        with open(path, "rb") as handle:
            stop = handle.seek(0, 2) if end is None else end
            position, found, block = stop, 0, 1 << 16
            if position > start:  # a file that ends with a newline: that one closes the last line
                handle.seek(position - 1)
                if handle.read(1) == b"\n":
                    position -= 1
            while position > start:
                size = min(block, position - start)
                handle.seek(position - size)
                chunk = handle.read(size)
                at = len(chunk)
                while True:
                    at = chunk.rfind(b"\n", 0, at)
                    if at < 0:
                        break
                    found += 1
                    if found == lines:
                        return position - size + at + 1
                position -= size
    except FileNotFoundError:
        return start
    return start


def logs(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(help="The run whose log to print.", show_default=False, autocompletion=complete_runs),
    ],
    stderr: Annotated[bool, typer.Option("--stderr", help="The job's stderr instead of its stdout.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="The smoke test's log instead of the job's.")
    ] = False,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler",
            help="The scheduler's own log (submitit, slurmstepd "
            "messages such as memory or time-limit kills).",
        ),
    ] = False,
    rank: Annotated[
        int | None,
        typer.Option(
            "--rank",
            min=0,
            metavar="R",
            help="Rank R's log of a multi-process job (stdout.rank<R>.log; 0 is stdout.log).",
            show_default=False,
        ),
    ] = None,
    attempt: Annotated[
        int | None,
        typer.Option(
            "--attempt",
            min=1,
            metavar="N",
            help="Only attempt N's part of the log, of a job that ran more than once (requeued).",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing as the job writes, until the run ends: its stdout, and its stderr on stderr "
            "with each line marked as stderr (with --stderr or --scheduler: that log only); then its "
            "results on stderr, exit 1 if it failed.",
        ),
    ] = False,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail",
            "-n",
            min=1,
            metavar="N",
            help="Only the last N lines (with --follow: from the last N lines on).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[float | None, timeout_option()] = None,
) -> None:
    """Print a run's stdout (or stderr, or the smoke test's, or the scheduler's log)."""
    limit = checked(timeout, follow, "--follow")
    _check_parts(rank, attempt, scheduler=scheduler, smoke=smoke, follow=follow)
    reg = registry(ctx)
    run = reg.get(run_id)
    suffix = "err" if stderr else "out"
    if scheduler:
        manifest = run.load_manifest()
        job_id = manifest.job_id or ""
        found = [
            p for p in scheduler_logs(scheduler_folder(run, manifest), job_id) if p.suffix == f".{suffix}"
        ]
        if not found:
            raise UsageError(
                f"run {run.id} has no scheduler log yet", hint="was it submitted? see clusterrun show"
            )
        path = found[0]
    else:
        base = _smoke_dir(reg, run) if smoke else run.path
        path = _log_path(base, "stderr" if stderr else "stdout", rank, run.id)
    for shown in {path, run.path / "stdout.log", run.path / "stderr.log"}:  # never a file outside it
        inside_registry(shown, reg.root, f"run {run.id}")
    if not path.exists() and not follow:
        raise UsageError(
            f"{path} does not exist yet", hint=f"the run has not started; try: clusterrun logs {run.id} -f"
        )
    if attempt is not None:  # its part: from its offset to the next attempt's (records/log_parts.py)
        start, end = log_parts.attempt_span(run.load_manifest(), path.name, attempt, run.id)
        _copy(path, tail_offset(path, tail, start, end) if tail else start, end)
        return
    if not follow or smoke:  # the smoke test has ended: nothing to follow
        _copy(path, tail_offset(path, tail) if tail else 0)
        if stderr or scheduler or not _say_stderr_instead(path, base, run.id, smoke=smoke, rank=rank):
            _say_empty(path)
        return
    # the job's stdout to stdout and its stderr to stderr ([stderr] before each line), until it ends
    files = [Followed(path, sys.stdout)] if stderr or scheduler or rank else run_logs(run.path)
    if tail:
        for followed in files:
            followed.offset = tail_offset(followed.path, tail)
    with waiting_at_most(limit):
        last = follow_run(reg, run.id, files)
    if last.summary:
        info("\n" + results_block(last.summary, str(run.path)))
        if not as_summary(last.summary).success:
            raise typer.Exit(int(ExitStatus.FAILURE))


def _log_path(base: Path, stream: str, rank: int | None, run_id: str) -> Path:
    """The log of `stream` (stdout or stderr) in `base` (the run's directory or its smoke test's): rank
    `rank`'s (stdout.rank<R>.log: records/log_parts.py), else the job's."""
    return log_parts.rank_log(base, stream, rank, run_id) if rank is not None else base / f"{stream}.log"


def _say_stderr_instead(stdout: Path, base: Path, run_id: str, *, smoke: bool, rank: int | None) -> bool:
    """An empty stdout printed as nothing at all: when its stderr holds something (a script that logs
    with Python's logging, tqdm's bars), say so on stderr, with the command that shows it. Whether it
    said so."""
    try:
        if stdout.stat().st_size > 0:
            return False
        written = _log_path(base, "stderr", rank, run_id).stat().st_size
    except (OSError, UsageError):
        return False
    if written > 0:
        flags = " --smoke" if smoke else f" --rank {rank}" if rank is not None else ""
        info(
            f"({stdout.name} is empty; the run wrote {size(written)} to stderr, where Python's logging "
            f"writes: clusterrun logs {run_id}{flags} --stderr)"
        )
    return written > 0


def _say_empty(path: Path) -> None:
    """A log printed as nothing at all says so, on stderr (a pipe sees nothing either way)."""
    try:
        if path.stat().st_size == 0:
            info(f"({path.name} is empty)")
    except OSError:
        return


def _check_parts(
    rank: int | None, attempt: int | None, *, scheduler: bool, smoke: bool, follow: bool
) -> None:
    """--rank and --attempt pick a part of the job's own logs: refuse what they cannot be combined with."""
    if rank is not None and scheduler:
        raise UsageError("--rank is for the job's own logs, not the scheduler's", hint="drop --scheduler")
    if attempt is None:
        return
    for given, flag in ((scheduler, "--scheduler"), (smoke, "--smoke"), (follow, "--follow")):
        if given:
            raise UsageError(
                f"--attempt cannot be combined with {flag}",
                hint="--attempt N prints attempt N's part of the job's stdout (or --stderr); "
                "to follow the current attempt: clusterrun logs RUN -f",
            )
    if rank:
        raise UsageError(
            "--attempt is recorded for rank 0's logs only",
            hint="drop --rank (each attempt's part of stdout.rank<R>.log starts at its "
            "'=== clusterrun: attempt N' line)",
        )


def _smoke_dir(reg: Registry, run: Run) -> Path:
    """The smoke test's folder: the run's own, or that of the sweep member that ran its shape's test."""
    smoke = run.load_manifest().smoke
    tested_in = smoke.tested_in if smoke is not None else ""
    # the folder of the test's logs: smoke/, or smoke-N/ when its timing run (a longer one) failed
    folder = Path(smoke.stderr_path).parent.name if smoke is not None and smoke.stderr_path else "smoke"
    folder = folder if folder.startswith("smoke") else "smoke"
    if tested_in and tested_in != run.id and not run.file(folder).is_dir():
        return reg.get(tested_in).file(folder)
    return run.file(folder)
