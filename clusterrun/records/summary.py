"""summary.json: what a finished run produced, collected once when it ends."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterrun.analysis import history, metric_fold, rank_metrics
from clusterrun.analysis.efficiency import efficiency
from clusterrun.analysis.metrics import collect_last as collect_metrics
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.resources import time_limit_seconds
from clusterrun.errors import UsageError
from clusterrun.execution import ranks
from clusterrun.inputs import workdir
from clusterrun.records import attempts as requeues
from clusterrun.records import store
from clusterrun.records.jsonio import read_json_or_empty, write_text_atomic
from clusterrun.records.metric_history import history_fields
from clusterrun.records.models import (
    SCHEMA_VERSION,
    DiagnosisRecord,
    LogPaths,
    Manifest,
    RecordedMetrics,
    Summary,
    as_manifest,
    as_summary,
)
from clusterrun.records.paths import SNAPSHOT_STORE, inside_registry, readable
from clusterrun.records.registry import Run, now_iso
from clusterrun.scheduler import log_paths as backend_log_paths

if TYPE_CHECKING:  # a type only: the smoke test's module brings psutil, which a listing never needs
    from clusterrun.diagnose.rules import Diagnosis
    from clusterrun.execution.smoke_record import SmokeResult

SUCCESS = "completed"
LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 64 * 1024  # of each log, for the diagnosis and the traceback
CAUGHT_TAIL_BYTES = 16 * 1024  # of a successful run's stderr, for a traceback it ends with
TRACEBACK_FILE = "traceback.txt"


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a log (read from its end, never whole)."""
    return read_tail(path).rstrip().splitlines()[-lines:]


def output_files(
    run: Run, manifest: Manifest | Mapping[str, Any] | None = None
) -> tuple[list[tuple[str, int]], list[str]]:
    """What the run created, every file with its size (path relative to the run directory, sorted):
    files in artifacts/ and every file its working directory gained or rewrote (the snapshot's own files
    left out); and the tracked files it rewrote in place."""
    links = as_manifest(manifest).workdir_links if manifest is not None else {}
    return workdir.run_outputs(run.path, run.file("artifacts"), run.file(workdir.NAME), links)


def artifacts(
    run: Run, manifest: Manifest | Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The summary's record of what the run created (output_files), and the tracked files it rewrote."""
    items, modified = output_files(run, manifest)
    return workdir.artifacts_record(items, ""), modified


def _job_outputs(exit_record: dict[str, Any], manifest: Manifest) -> tuple[dict[str, Any], list[str]] | None:
    """The outputs the job recorded as it ended (workdir.recorded_outputs), when its exit record is the
    run's last attempt's: not one that was requeued, nor an earlier attempt's left by a later attempt
    killed before it could write its own (the manifest numbers every attempt as it starts)."""
    numbers = [a.attempt for a in manifest.attempts]
    if exit_record.get("requeued") or not numbers or exit_record.get("attempt") != max(numbers):
        return None
    return workdir.recorded_outputs(exit_record.get("outputs"))


def _exit_record(run: Run) -> dict[str, Any]:
    return read_json_or_empty(run.file("exit.json"))


#: Recorded scheduler folders already checked, by (folder, registry), while folders_checked is in effect.
_checked: contextvars.ContextVar[dict[tuple[str, str], Path] | None] = contextvars.ContextVar(
    "checked_folders", default=None
)


@contextlib.contextmanager
def folders_checked() -> Iterator[None]:
    """Inside the block, each recorded scheduler folder is checked once (a sweep's thousand members
    share one: its check followed every symlink of the path again for each). A refresh is one block."""
    token = _checked.set({})
    try:
        yield
    finally:
        _checked.reset(token)


def scheduler_folder(run: Run, manifest: Manifest | Mapping[str, Any]) -> Path:
    """The scheduler's folder: the run's own, or its sweep's (shared by a job array's members).
    OutsideRegistry when the record puts it outside the registry (records/paths.py)."""
    recorded = as_manifest(manifest).scheduler_folder
    if not recorded:
        return run.file("scheduler")
    checked = _checked.get()
    key = (recorded, os.fspath(run.path.parent))
    found = checked.get(key) if checked is not None else None
    if found is None:
        inside_registry(recorded, run.path.parent, f"run {run.id}: scheduler_folder")
        found = Path(recorded)
        if checked is not None:
            checked[key] = found
    return found


def scheduler_logs(folder: Path, job_id: str, backend: str | None = None) -> list[Path]:
    """The scheduler's own logs of one job (its backend knows their names; any backend's when None, or
    when this installation does not know it)."""
    if backend is not None:
        try:
            return backend_log_paths(folder, job_id, backend)
        except UsageError:
            pass
    return backend_log_paths(folder, job_id)


def read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last `max_bytes` of a log, from a line start; '' when it cannot be read, or is a symlink
    (never followed: a planted `stderr.log -> /etc/shadow` is not read into a summary or a page)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                handle.seek(size - max_bytes)
            data = handle.read()
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return text.split("\n", 1)[-1] if size > max_bytes else text


def caught_error(stderr: Path) -> str:
    """A run that exited 0 with a Python traceback at the end of its stderr (an error the script caught,
    logged and went on from: `except Exception: log.exception(...)`): its exception line and where it
    was raised, as 'FileNotFoundError: ... (train.py line 52, in evaluate)'; '' otherwise, and for the
    tracebacks Python prints at exit for errors in finalizers ('Exception ignored in ...')."""
    text = read_tail(stderr, CAUGHT_TAIL_BYTES)
    if "Traceback" not in text:
        return ""
    from clusterrun.diagnose.tracebacks import final_exception, find_traceback, user_frame

    _log, traceback = find_traceback({"stderr.log": text})
    if not traceback:
        return ""
    before = text[: text.rfind(traceback.splitlines()[0])].rstrip().splitlines()
    if before and before[-1].startswith("Exception ignored"):
        return ""
    exception, where = final_exception(traceback), user_frame(traceback)
    return f"{exception[:300]}{f' ({where})' if where else ''}" if exception else ""


def log_tails(run: Run, folder: Path, job_id: str, backend: str | None = None) -> dict[str, str]:
    """Tails of the logs a diagnosis reads, most relevant first: the command's stderr and stdout, then
    the scheduler's own logs of the job (where it writes memory and time-limit kills).
    """
    scheduler = [p for p in scheduler_logs(folder, job_id, backend) if readable(p, run.path.parent)]
    paths = {"stderr.log": run.file("stderr.log"), "stdout.log": run.file("stdout.log")}
    for path in [p for p in scheduler if p.suffix == ".err"] + [p for p in scheduler if p.suffix != ".err"]:
        paths[f"scheduler/{path.name}"] = path
    tails = {name: read_tail(path) for name, path in paths.items()}
    return {name: text for name, text in tails.items() if text.strip()}


def build(run: Run, manifest: Manifest | Mapping[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """collect() as JSON data, for callers that hold data."""
    return collect(run, manifest, status).to_data()


def collect(run: Run, manifest: Manifest | Mapping[str, Any], status: dict[str, Any]) -> Summary:
    """The summary of an ended run, from the run directory and the scheduler's last word. The folds of
    its metrics files are not kept in the process (metric_fold.unkept): once it has a summary, a run's
    metrics are not folded again."""
    with metric_fold.unkept():
        return _collect(run, manifest, status)


def _collect(run: Run, manifest: Manifest | Mapping[str, Any], status: dict[str, Any]) -> Summary:
    record = as_manifest(manifest, f"run {run.id}: manifest")
    config = record.config
    status = requeues.totals(record, status)  # a requeued job: its attempts' time and CPU added up
    exit_record = _exit_record(run)
    state = str(status.get("state", "unknown"))
    returncode = exit_record.get("returncode", status.get("exit_code"))
    duration = status.get("elapsed_seconds") or exit_record.get("seconds")
    job_id = record.job_id or ""
    resources = record.resources or config.resources
    # what the job found as it ended (one walk of its working copy, in the job), else walked here
    recorded = _job_outputs(exit_record, record)
    arts, modified = recorded if recorded is not None else artifacts(run, record)
    modified = modified or list(exit_record.get("modified_tracked_files") or [])
    if modified and record.snapshot.path and not exit_record.get("modified_tracked_files"):
        # (resolved only then: every component of the path looked at, for each of a thousand runs)
        snapshot = readable(Path(record.snapshot.path), run.path.parent / SNAPSHOT_STORE)
        if snapshot:
            workdir.mark_tainted(snapshot, modified, f"run {run.id}")  # only a snapshot of this registry
    folder = scheduler_folder(run, record)
    # the metrics file read once, a block at a time, for the last values and the history's best values
    config_data = config.to_data()
    fold = history.file_fold(run.path, history.Sources.from_config(config_data))
    metrics, non_finite = collect_metrics(run.path, config.metrics.file, config.metrics.patterns, fold)
    summary = Summary(
        schema_version=SCHEMA_VERSION,
        run_id=run.id,
        run_dir=str(run.path),
        state=state,
        success=state == SUCCESS,
        exit_code=returncode,
        signal=status.get("signal"),
        duration_seconds=duration,
        node=status.get("node") or exit_record.get("host", ""),
        job_id=record.job_id,
        max_rss_mb=status.get("max_rss_mb") or exit_record.get("peak_rss_mb"),
        metrics=metrics,
        artifacts=[item["path"] for item in arts["files"]],
        artifacts_info=arts,
        efficiency=efficiency(resources, status, exit_record, status.get(requeues.LONGEST)),
        logs=LogPaths(
            stdout=str(run.file("stdout.log")),
            stderr=str(run.file("stderr.log")),
            scheduler=[str(p) for p in scheduler_logs(folder, job_id, record.backend or None)],
        ),
        collected_at=now_iso(),
        # best values (with the mode) and where the curves are
        **history_fields(run, {"config": config_data, "sweep": record.sweep}, fold),
    )
    if modified:
        summary.modified_tracked_files = modified
    if non_finite:
        summary.metrics_non_finite = non_finite
    if state == SUCCESS:  # what an exit code of 0 can hide
        summary.caught_error = caught_error(run.file("stderr.log"))
        missing = [n for n in config.metrics.patterns if n not in metrics and n not in non_finite]
        if missing:
            summary.metrics_missing = missing
    leftover, commands = exit_record.get("leftover_count"), exit_record.get("leftover_processes")
    if isinstance(leftover, int) and not isinstance(leftover, bool) and leftover > 0:  # supervise.py
        summary.leftover_count = leftover
        summary.leftover_processes = [str(c) for c in commands][:5] if isinstance(commands, list) else []
    if config.metrics.ranks == "all":  # every rank's metrics too (analysis/rank_metrics.py)
        summary.apply("summary ranks", **rank_fields(run.path, config.metrics, summary.metrics))
    if state != SUCCESS:
        # the diagnosis, imported for a run that needs one: a listing of running runs never does
        from clusterrun.diagnose.rules import diagnose, progress_from
        from clusterrun.diagnose.tracebacks import find_traceback

        first = ranks.failure_logs(run.path, exit_record)  # a multi-process job: the rank that failed first
        summary.stderr_tail = _tail(next(iter(first.values()), run.file("stderr.log")))
        logs = {name: read_tail(path) for name, path in first.items()} | log_tails(
            run, folder, job_id, record.backend or None
        )
        logs = {name: text for name, text in logs.items() if text.strip()}
        _log, traceback = find_traceback(logs)
        if traceback:
            write_text_atomic(run.file(TRACEBACK_FILE), traceback)
            summary.logs.traceback = str(run.file(TRACEBACK_FILE))
        params = config.params
        found = diagnose(
            state,
            returncode if isinstance(returncode, int) else None,
            status.get("signal"),
            logs,
            resources,
            duration,
            summary.max_rss_mb,
            str(status.get("cancelled_by") or ""),
            progress_from(summary.metrics, params),
            params=params,
            node=summary.node,
            run_id=run.id,
            repo_root=os.path.join(record.git.root, config.cwd),  # where the command ran, in the checkout
            smoke_peak_mb=smoke_peak(record),
            copy_root=str(run.path / workdir.NAME / config.cwd),  # ... and in the run's copy
        )
        note = ranks.failure_note(exit_record)
        if note:
            found = replace(
                found,
                evidence=f"{note}: {found.evidence}",
                details=found.details
                | {
                    "failed_rank": exit_record.get("failed_rank"),
                    "failed_host": exit_record.get("failed_host"),
                },
            )
        summary.diagnosis = DiagnosisRecord.model_validate(found.as_record())
    return _with_attempts(summary, record, status)


def rank_fields(root: Path, metrics: RecordedMetrics, rank0: Mapping[str, Any]) -> dict[str, Any]:
    """metrics_by_rank and metrics_across_ranks of a multi-process job; {} when only rank 0 logged."""
    per_rank = rank_metrics.by_rank(root, metrics.file, metrics.patterns, rank0)
    if len(per_rank) < 2:
        return {}
    return {"metrics_by_rank": per_rank, "metrics_across_ranks": rank_metrics.across(per_rank)}


def _with_attempts(summary: Summary, manifest: Manifest, status: Mapping[str, Any]) -> Summary:
    """A job that ran more than once: its attempts; a run cut short: how far it got (diagnose/attempts.py)."""
    fields = requeues.summary_fields(manifest, status)
    if fields:
        summary.apply("summary attempts", **fields)
    if summary.diagnosis is not None and manifest.attempts:
        from clusterrun.diagnose.attempts import how_far
        from clusterrun.diagnose.rules import progress_from

        attempts = [a.to_data() for a in fields.get("attempts", manifest.attempts)]
        step_key = str((manifest.config.to_data().get("estimate") or {}).get("step_metric") or "step")
        extended = how_far(
            summary.diagnosis.to_data(),
            summary.state,
            attempts,
            requeues.policy_of(manifest).as_dict(),
            summary.metrics,
            progress_from(summary.metrics, manifest.config.params),
            step_key,
            time_seconds=_time_limit(manifest),
        )
        summary.diagnosis = DiagnosisRecord.model_validate(extended)
    return summary


def _time_limit(manifest: Manifest) -> int | None:
    """The run's time limit in seconds, when its record says one."""
    return time_limit_seconds(manifest.resources or manifest.config.resources)


def smoke_peak(manifest: Manifest) -> float | None:
    """The peak memory of the run's smoke test (the summed RSS of its process tree), when it ran."""
    smoke = manifest.smoke
    if smoke is None or not smoke.ok or "peak_rss_mb" not in smoke.model_fields_set:
        return None
    return float(smoke.peak_rss_mb)


def smoke_diagnosis(
    smoke: SmokeResult, spec: ExperimentSpec, repo_root: str = "", run_id: str = ""
) -> Diagnosis:
    """The same diagnosis for a failed smoke test (a timeout there is a time_limit on smoke.timeout);
    `repo_root`: the checkout, where a file the test missed may exist untracked; `run_id`: the run whose
    directory holds the test's logs (smoke/), which the diagnosis points to."""
    from clusterrun.diagnose.rules import diagnose

    folder = Path(smoke.stderr_path).parent.name or "smoke"  # smoke-N/: a timing run that failed
    logs = {
        f"{folder}/stderr.log": read_tail(Path(smoke.stderr_path)),
        f"{folder}/stdout.log": read_tail(Path(smoke.stdout_path)),
    }
    return diagnose(
        "timeout" if smoke.timed_out else "failed",
        smoke.returncode,
        None,
        {name: text for name, text in logs.items() if text.strip()},
        spec.resources.model_dump(mode="json"),
        smoke.seconds,
        smoke.peak_rss_mb,
        params=spec.params,
        smoke={"timeout": spec.smoke.timeout, "params": dict(spec.smoke.params), "stopped": smoke.stopped},
        repo_root=os.path.join(repo_root, spec.cwd) if repo_root else "",  # where the command ran
        run_id=run_id,
        copy_root=str(Path(smoke.stderr_path).parent / workdir.NAME / spec.cwd),
    )


def write(run: Run, summary: Summary | Mapping[str, Any]) -> None:
    store.write_summary(run.path, as_summary(summary, f"run {run.id}: summary"))


def load(run: Run) -> Summary | None:
    """The run's summary.json; None until it ended (or when damaged: it is collected again). A summary
    written by a newer clusterrun is an error (RecordTooNew), never misread or overwritten."""
    return store.read_summary(run.path)


def read(run: Run) -> dict[str, Any] | None:
    """load() as JSON data, for callers that hold data."""
    found = load(run)
    return found.to_data() if found is not None else None


def read_nested(run: Run) -> str | None:
    """read() as `prettyjson.nested` encodes it, for a listing's JSON (store.read_summary_nested)."""
    return store.read_summary_nested(run.path)
