"""Text blocks shown to the user: the manifest and results blocks of DESIGN.md, and their parts.

tables.py holds the tables; render.py chooses between text, JSON, ids and CSV."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import typer

from clusterrun.analysis.estimate import describe as describe_estimate
from clusterrun.analysis.estimate import mem_with_margin, time_with_margin
from clusterrun.analysis.metrics import format_metrics, metrics_file_kind, unread_metrics_file
from clusterrun.config.placeholders import unused_params, used_placeholders
from clusterrun.config.requeue import signal_lead
from clusterrun.config.resources import format_mem_mb, format_seconds, time_limit_seconds
from clusterrun.errors import ClusterrunError
from clusterrun.inputs.workdir import by_importance
from clusterrun.records import jsonio, prettyjson
from clusterrun.records.logtext import one_line
from clusterrun.records.models import (
    AttemptRecord,
    EfficiencyRecord,
    Manifest,
    RecordedConfig,
    SmokeRecord,
    Summary,
    SweepRecord,
    as_summary,
)
from clusterrun.records.paths import readable_run_file
from clusterrun.records.registry import Run
from clusterrun.services.notes import RunNotes


def emit_json(data: Any) -> None:
    """`json.dumps(data, sort_keys=True, indent=2, default=str)`, encoded by json's C encoder (prettyjson):
    with indent, json encodes in pure Python (`status --json` of 10,000 runs: 6 s of 8)."""
    typer.echo(prettyjson.dumps(data))


def emit_json_pieces(pieces: Iterable[str]) -> None:
    """JSON text given in pieces (StatusView.json_text), written as it comes, about WRITE_AT characters
    at a time, and a newline after it, as emit_json writes it whole."""
    for batch in jsonio.batched(pieces, WRITE_AT):
        typer.echo(batch, nl=False)
    typer.echo()


#: emit_json_pieces writes this much text at a time
WRITE_AT = 1 << 16


def _resources(res: dict[str, Any]) -> str:
    """The requested resources in one line; what is left at its default (1 task, no GPU...) is left out."""
    order = ["partition", "time", "nodes", "tasks_per_node", "cpus_per_task", "mem", "gpus", "gpus_per_task"]
    order += ["account", "qos", "constraint", "exclusive", "reservation", "mail_type", "mail_user"]
    order += ["after", "afterok", "launcher"]
    quiet = {"tasks_per_node": 1, "gpus_per_task": 0, "exclusive": False, "launcher": "srun"}
    shown = []
    for key in order:
        value = res.get(key)
        if value in (None, "", [], {}) or (key in quiet and value == quiet[key]):
            continue
        if key in ("gpus", "gpus_per_task") and res.get("gpu_type") and value:
            value = f"{res['gpu_type']}:{value}"
        shown.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    shown += [f"extra.{k}={v}" for k, v in (res.get("extra") or {}).items()]
    return " ".join(shown)


def _data(manifest: Manifest) -> str:
    return " ".join(f"{k}={v}" for k, v in manifest.config.data.items())


def sweep_block(record: SweepRecord, first_manifest: Manifest) -> str:
    """The manifest block of a sweep: what all members share, then each member's swept values."""
    git = record.git
    members = record.members
    skipped = record.skipped
    estimate = record.estimate
    lines = [
        "=== SWEEP MANIFEST ===",
        f"Sweep ID: {record.sweep_id}   Members: {len(members)}"
        + (f" ({len(skipped)} duplicate(s) skipped)" if skipped else "")
        + f"   Axes: {', '.join(record.axes) or '-'}",
        f"Git Commit: {git.commit}   Branch: {git.branch}   "
        f"Uncommitted Changes: {'yes (patch saved)' if git.dirty else 'no'}",
        f"Command (first member): {first_manifest.command_line}",
        f"Seed: {'per member (an axis)' if 'seed' in record.axes else first_manifest.seed}"
        f"{'' if seed_in_command(first_manifest) else SEED_ONLY_IN_ENV}   "
        f"Resources{' (first member)' if any(a.startswith('resources.') for a in record.axes) else ''}: "
        f"{_resources(first_manifest.resources)}   "
        f"Backend: {record.backend}   Cluster: {record.cluster}",
        f"Smoke Test: {smoke_line(first_manifest.smoke)} (once per command shape)",
        f"Estimate: {describe_estimate(estimate.to_data()) if estimate else '-'}",
        f"Output Directory: {first_manifest.run_dir.rsplit('/', 1)[0]}/{record.sweep_id}/",
    ]
    rows = [[m.run_id, " ".join(f"{k}={format_value(v)}" for k, v in m.values.items())] for m in members[:20]]
    from tabulate import tabulate  # a sweep's block only: not every submit's import

    lines.append(tabulate(rows, headers=["MEMBER", "VALUES"], tablefmt="simple"))
    if len(members) > 20:
        lines.append(f"... and {len(members) - 20} more")
    lines.append("======================")
    return "\n".join(lines)


def format_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def smoke_line(smoke: SmokeRecord | None) -> str:
    if smoke is None:
        return "not run"
    if smoke.skipped:
        return f"skipped ({smoke.reason})"
    verdict = "passed" if smoke.ok else "FAILED"
    # a command that ended before its memory was first sampled (`true`, `echo`): no peak to give
    peak = f"peak {smoke.peak_rss_mb:.0f} MB" if smoke.peak_rss_mb >= 1 else "too short to sample its memory"
    line = f"{verdict} in {smoke.seconds:.2f} s, {peak}"
    if smoke.ok and smoke.timed_out:  # smoke.probe: still running at the timeout, nothing had failed
        ran = f"probe: ran {smoke.seconds:.0f} s without failing, then stopped"
        line = f"passed ({ran}), {peak}"
    return line + (" (cached)" if smoke.cached else "")


def _key_params(config: RecordedConfig) -> dict[str, Any]:
    """The params the job sees (in its command or exported through env); the others change nothing."""
    params = config.params
    try:
        unused = set(unused_params(params, config.command, config.passed_texts()))
    except (ValueError, TypeError, AttributeError):  # a record damaged or from another version: show all
        return params
    return {k: v for k, v in params.items() if k not in unused}


def _workdir(manifest: Manifest) -> str:
    where = manifest.workdir
    if where and where != manifest.snapshot.path:  # runs before 2026-12 ran in the snapshot
        imported = _imported_from_copy(manifest.run_dir)
        also = (
            f"; {', '.join(imported)} imported from it, not from the checkout an editable install or "
            "PYTHONPATH points to"
            if imported
            else ""
        )
        cwd = manifest.config.cwd
        if cwd != ".":  # the folder of the copy the command runs in
            return f"{where}/{cwd} (in its own copy of the snapshot, at the repository's {cwd}/{also})"
        return f"{where} (its own copy of the snapshot{also})"
    return where


def _imported_from_copy(run_dir: str) -> list[str]:
    """The names the job (or, before it ran, its smoke test) imports from the run's copy instead of the
    checkout: the links execution/codepath.py made in .imports/ ([] when there are none)."""
    for folder in (os.path.join(run_dir, ".imports"), os.path.join(run_dir, "smoke", ".imports")):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        # modules and packages: a directory without __init__.py (configs/, tests/) is linked as the
        # namespace package it is on the path, but is not what a reader takes for the code imported
        shown = [
            name.removesuffix(".py")
            for name in names
            if not name.startswith(".")
            and (name.endswith(".py") or os.path.isfile(os.path.join(folder, name, "__init__.py")))
        ]
        if shown:
            return shown if len(shown) <= 5 else [*shown[:5], f"and {len(shown) - 5} more"]
    return []


#: After "Seed: N" when the command line never receives it (the run is seeded only if the program reads it).
SEED_ONLY_IN_ENV = " (only as $CLUSTERRUN_SEED: the command has no {seed})"
LEFTOVER_SHOWN = 80  # characters of each process the command left running, in the results


def seed_in_command(manifest: Manifest) -> bool:
    """Whether the config hands the seed to the command: a {seed} placeholder in its command or env
    (setup lines are run as written; `{{seed}}` is a literal brace). A record whose braces do not parse
    is not judged (True: no note)."""
    config = manifest.config
    try:
        return "seed" in used_placeholders(config.command, config.passed_texts())
    except ValueError:
        return True


def manifest_block(manifest: Manifest) -> str:
    git = manifest.git
    dirty = "yes (patch saved: git.patch)" if git.dirty else "no"
    params = _key_params(manifest.config)
    snapshot = manifest.snapshot
    estimate = manifest.estimate
    lines = [
        "=== EXPERIMENT MANIFEST ===",
        f"Run ID: {manifest.run_id}",
        f"Git Commit: {git.commit}   Branch: {git.branch}   Uncommitted Changes: {dirty}",
        f"Command: {manifest.command_line}",
        f"Seed: {manifest.seed}" + ("" if seed_in_command(manifest) else SEED_ONLY_IN_ENV),
        f"Key Hyperparameters: {' '.join(f'{k}={v}' for k, v in params.items()) or '(none)'}"
        + (f"   Dataset/Split: {_data(manifest)}" if manifest.config.data else ""),
        f"Resources: {_resources(manifest.resources)}   Backend: {manifest.backend}",
        f"Smoke Test: {smoke_line(manifest.smoke)}",
        f"Estimate: {describe_estimate(estimate.to_data()) if estimate else '-'}",
        *(
            [f"Requeue: {requeue_line(manifest.config.requeue, time_limit_seconds(manifest.resources))}"]
            if manifest.config.requeue
            else []
        ),
        f"Snapshot: {snapshot.path}" + (f" (digest {snapshot.digest[:12]})" if snapshot.digest else ""),
        f"Output Directory: {manifest.run_dir}   Working Directory: {_workdir(manifest)}",
        "===========================",
    ]
    return "\n".join(lines)


def state_label(state: str, attempt: Any = 0, max_attempts: Any = 0) -> str:
    """The state as shown, with the attempt of a job that runs again: 'REQUEUED (2/3)', 'RUNNING (2/3)'."""
    text = state.upper()
    again = isinstance(attempt, int) and (attempt > 1 or state == "requeued")
    if again and isinstance(max_attempts, int) and max_attempts > 1:
        text += f" ({max(int(attempt), 1)}/{max_attempts})"
    return text


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else format_seconds(float(seconds))


def _share(used: Any, requested: Any, ratio: Any, fmt: Any) -> str:
    if used is None or requested is None:
        return ""
    return f"{fmt(used)} of {fmt(requested)}" + (f" ({ratio:.0%})" if isinstance(ratio, int | float) else "")


def efficiency_line(eff: EfficiencyRecord | None) -> str:
    """Requested against used, so the next submission can be right-sized."""
    if eff is None:
        return ""
    time = _share(eff.elapsed_seconds, eff.requested_seconds, eff.time_efficiency, duration)
    longest = eff.longest_attempt_seconds
    if longest is not None and eff.requested_seconds is not None:  # the limit holds for each attempt
        share = _share(longest, eff.requested_seconds, eff.time_efficiency, duration)
        time = f"{duration(eff.elapsed_seconds)} in all attempts, the longest {share}"
    parts = [
        ("time", time),
        (
            "memory",
            _share(eff.max_rss_mb, eff.requested_mem_mb, eff.mem_efficiency, lambda mb: f"{mb:.0f}M"),
        ),
    ]
    text = ", ".join(f"{name} {value}" for name, value in parts if value)
    if eff.cpu_efficiency is not None:
        text += f", CPU {eff.cpu_efficiency:.0%} of {eff.cpus} core(s)"
    return text


def _misplaced_metrics(summary: Summary) -> str:
    """A metrics file the command wrote in its working directory (work/metrics.jsonl: a relative path,
    its working directory's), when no metrics were read: where the user meant them to come from."""
    if summary.metrics or summary.metrics_non_finite:
        return ""
    wrote = [a for a in summary.artifacts if a.startswith("work/") and a.endswith("metrics.jsonl")]
    return min(wrote, key=len, default="")


def _unread_table(summary: Summary, run_dir: str) -> tuple[str, list[str]]:
    """A table of metrics the command wrote in its working directory (Lightning's CSVLogger's
    lightning_logs/version_0/metrics.csv, a csv.DictWriter's out/metrics.csv: analysis/rowformat.py)
    while its metrics file was never written: its path and metric names; ('', []) when none."""
    files = summary.metrics_history.get("files") or []
    configured = str(files[0]) if files and files[0] != "stdout_metrics.jsonl" else "metrics.jsonl"
    if os.path.exists(os.path.join(run_dir, configured)):
        return "", []

    def locate(artifact: str) -> Path | None:  # the command's own files, never out of the registry
        return readable_run_file(Path(run_dir), artifact) if artifact.startswith("work/") else None

    artifact, names, _header = unread_metrics_file(summary.artifacts, locate, summary.metrics)
    return artifact, names


def artifacts_line(summary: Summary, shown: int = 6) -> str:
    """'3 files, 1.2 MB: work/out/ckpt.pt (1.0 MB), ...' (workdir.by_importance: largest first; of files
    alike in size, the last in number first), or the plain list of old records."""
    info = summary.artifacts_info
    if info is None:  # records before 2026-12
        arts = summary.artifacts
        return ", ".join(arts[:8]) + (" ..." if len(arts) > 8 else "") if arts else "(none)"
    if not info.count:
        return "(none)"
    files = by_importance(info.files, lambda f: f.path, lambda f: f.size)
    listed = ", ".join(f"{f.path} ({size(f.size)})" for f in files[:shown])
    more = " ..." if info.count > shown else ""
    return f"{info.count} file(s), {size(info.total_bytes)}: {listed}{more}"


def requeue_line(requeue: Mapping[str, Any], time_seconds: int | None = None) -> str:
    """'on preemption, timeout; up to 3 attempts; SIGUSR2 120 s before the time limit' (or 'never');
    with the time limit, the lead the job is really given (config/requeue.py's signal_lead)."""
    on, most = list(requeue.get("on") or []), requeue.get("max_attempts", 1)
    if not on or not isinstance(most, int) or most <= 1:
        return "never (the job runs once)"
    grace = requeue.get("signal_grace")
    lead = f"{grace} s"
    if isinstance(grace, int) and time_seconds and signal_lead(grace, time_seconds) != grace:
        lead = (
            f"{signal_lead(grace, time_seconds)} s (half the limit: signal_grace {grace} s is not below it)"
        )
    sent = requeue.get("signal") if requeue.get("signal") in ("USR1", "USR2") else "USR2"
    told = "" if sent == "USR2" else " (the command gets SIGUSR1 for it)"
    return f"on {', '.join(on)}; up to {most} attempts; SIGUSR2 {lead} before the time limit{told}"


def attempts_line(attempts: list[AttemptRecord]) -> str:
    """'2: #1 vm 50.2s time_limit (requeued by clusterrun), #2 vm 31.0s completed'."""
    parts = []
    for a in attempts:
        again = f" (requeued by {a.requeued_by})" if a.requeued_by else ""
        if a.reason == "requeued" and a.requeued_by == "scheduler":  # SLURM's REQUEUED: scontrol requeue
            again = " (scontrol requeue: by the command, as Lightning does, or by hand)"
        parts.append(f"#{a.attempt} {a.node or '?'} {duration(a.seconds)} {a.reason or '?'}{again}")
    return f"{len(attempts)}: " + ", ".join(parts)


def right_size_overrides(
    efficiency: EfficiencyRecord | None, smoke_peak_mb: float | None = None
) -> list[str]:
    """Overrides for the next run of a config whose run completed using under half of a large request
    (a limit of 10 minutes or more, 1G or more): its longest attempt x 1.5, its peak memory x 1.3
    (never below the smoke test's: a short job's memory is sampled, and sampling can miss the
    workers it started), rounded up as estimates are. [] when the request was about right, or small."""
    if efficiency is None:
        return []
    out = []
    longest = efficiency.longest_attempt_seconds or efficiency.elapsed_seconds
    requested = efficiency.requested_seconds
    if longest and requested and requested >= 600:
        time = time_with_margin(longest)
        if time <= requested / 2:
            out.append(f"resources.time={format_seconds(time)}")
    peak, asked = efficiency.max_rss_mb, efficiency.requested_mem_mb
    if peak and smoke_peak_mb:
        peak = max(peak, smoke_peak_mb)
    if peak and asked and asked >= 1024:
        mem = mem_with_margin(peak)
        if mem <= asked / 2:
            out.append(f"resources.mem={format_mem_mb(mem)}")
    return out


def _smoke_peak(run_dir: str) -> float | None:
    """The peak memory of the run's smoke test (records/summary.smoke_peak), from its manifest."""
    from clusterrun.records.summary import smoke_peak  # here: commands that show no results skip it

    try:
        return smoke_peak(Run(Path(run_dir)).load_manifest())
    except (ClusterrunError, OSError):
        return None


def _diverged_fix(non_finite: Mapping[str, str], run_dir: str) -> str:
    """The fix for a run whose metrics ended as nan or inf: with the run's learning rate, read from its
    manifest, when it has one."""
    try:
        params: Mapping[str, Any] = Run(Path(run_dir)).load_manifest().config.params
    except (ClusterrunError, OSError):
        params = {}
    from clusterrun.diagnose.fixes.program import divergence_fix  # for a diverged run only: see tables

    return divergence_fix(params)


def _again(run_dir: str, fix: str, category: str = "") -> str:
    """The submit command that applies a fix naming a config change, or the same submission again for a
    run with nothing to fix (records/resubmit.py), else ""."""
    from clusterrun.records.resubmit import next_command  # a failed run's only

    try:
        command, why = next_command(Run(Path(run_dir)).load_manifest(), category, fix)
    except (ClusterrunError, OSError):
        return ""
    return f"{command}   ({why})" if command and why else command


def results_block(summary: Summary | Mapping[str, Any], run_dir: str, reproduces: str = "") -> str:
    """The results block of an ended run (the summary as a model, or as JSON data); `reproduces`: the run
    this one reproduces (its comparison is the next step)."""
    summary = as_summary(summary, "summary")
    status = "SUCCESS" if summary.success else f"FAILURE ({summary.state})"
    logs = summary.logs
    log_line = f"Log File: {logs.stdout}   Errors: {logs.stderr}"
    if _never_started(summary):  # cancelled while it waited in the queue: no log to point at
        status = f"FAILURE ({summary.state} before it started)"
        log_line = "Log File: (none: the job never started)"
    lines = [
        "=== EXPERIMENT RESULTS ===",
        f"Status: {status}   Duration: {duration(summary.duration_seconds)}   Output Location: {run_dir}",
        f"Key Metrics: {format_metrics(summary.metrics | summary.metrics_non_finite, limit=8) or '(none)'}",
        f"Artifacts: {artifacts_line(summary)}",
        log_line,
    ]
    modified = summary.modified_tracked_files
    if modified:
        lines.append(
            f"Warning: the run rewrote tracked file(s) in place: {', '.join(modified[:5])}"
            + (" ..." if len(modified) > 5 else "")
            + " (the shared snapshot is rebuilt before its next use; write outputs to new files instead)"
        )
    if summary.metrics_missing:
        lines.append(
            f"Missing Metrics: {', '.join(summary.metrics_missing)} (their metrics.patterns matched nothing "
            "the run printed on stdout or stderr)"
        )
    table, names = _unread_table(summary, run_dir)
    if table:
        lines.append(
            f"Note: the command wrote {metrics_file_kind(table, Path(run_dir) / table)}, {table} "
            f"({', '.join(names[:4])}), not read as the "
            f"run's: set metrics.file: {table} to read it (values, curves, compare)"
        )
    misplaced = _misplaced_metrics(summary)
    if misplaced:
        lines.append(
            f"Warning: no metrics read, but the command wrote {misplaced}: metrics are read from the run "
            f"directory; set metrics.file: {misplaced}, or write to $CLUSTERRUN_METRICS_FILE"
        )
    if summary.caught_error:
        lines.append(
            f"Warning: the command exited 0, but its stderr shows an error it caught: "
            f"{summary.caught_error} -> its results may be incomplete; see {logs.stderr}"
        )
    if summary.leftover_count:
        count = summary.leftover_count
        shown = "; ".join(one_line(c, LEFTOVER_SHOWN) for c in summary.leftover_processes[:2])
        lines.append(
            f"Warning: the command left {count} process{'es' if count > 1 else ''} running when it exited "
            f"({shown}{' ...' if count > 2 else ''}); clusterrun stopped {'them' if count > 1 else 'it'}, "
            "as a scheduler stops a job's processes at its end -> stop what the script starts before it "
            "exits (terminate() and wait() it, e.g. in a finally:)"
        )
    diverged = _diverged_fix(summary.metrics_non_finite, run_dir) if summary.metrics_non_finite else ""
    if diverged:  # the program ended well, its numbers did not
        ended = ", ".join(f"{name}={word}" for name, word in summary.metrics_non_finite.items())
        lines.append(f"Warning: the training diverged ({ended} at the end) -> {diverged}")
    used = efficiency_line(summary.efficiency)
    if used:
        lines.append(f"Resources Used: {used}")
    smaller = (
        right_size_overrides(summary.efficiency, _smoke_peak(run_dir))
        if summary.success and not diverged
        else []
    )
    if smaller:
        lines.append(
            f"Right-size the next run of this config: {' '.join(smaller)} (what it used, with a margin)"
        )
    if summary.attempts:
        lines.append(f"Attempts: {attempts_line(summary.attempts)}")
    diagnosis = summary.diagnosis
    if diagnosis:
        lines.append(f"Diagnosis: {diagnosis.category}: {diagnosis.evidence} -> {diagnosis.fix}")
        lines.append(f"Next: {_again(run_dir, diagnosis.fix, diagnosis.category) or diagnosis.fix}")
    elif diverged:
        lines.append(f"Next: {_again(run_dir, diverged) or diverged}")
    elif summary.caught_error:
        lines.append(f"Next: fix the error in {logs.stderr} and run it again")
    elif reproduces:  # a reproduction: its next step is the comparison, not another reproduction
        lines.append(f"Next: see every difference: clusterrun compare {reproduces} {summary.run_id}")
    else:
        lines.append(f"Next: compare with a baseline, or reproduce it: clusterrun reproduce {summary.run_id}")
    lines.append("==========================")
    return "\n".join(lines)


def _never_started(summary: Summary) -> bool:
    """A run cancelled before its job started: no duration, no node, no attempt, no log written."""
    return (
        summary.state == "cancelled"
        and summary.duration_seconds is None
        and not summary.node
        and not summary.attempts
        and not any(p and Path(p).exists() for p in (summary.logs.stdout, summary.logs.stderr))
    )


def notes_lines(noted: RunNotes) -> list[str]:
    """`Tags: a, b` and one `Note (when, who): text` line per note, for `show`."""
    lines = [f"Tags: {', '.join(noted.tags)}"] if noted.tags else []
    for note in noted.notes:
        if note.text:
            text = note.text.replace("\n", "\n    ")
            lines.append(f"Note ({note.at.replace('T', ' ')[:16]}, {note.by}): {text}")
    return lines


def size(n: float) -> str:
    """Bytes for people: 512 B, 1.5 KB, 3.2 GB."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
