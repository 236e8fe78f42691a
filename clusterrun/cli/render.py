"""The one render layer: a service's typed result shown in the format the user chose, and the exit status
it implies. Commands parse their arguments, call one service, and hand its result to `present`.

    text  the blocks and tables of output.py and tables.py (warnings and progress go to stderr)
    json  the result's as_record(), the same data a notebook gets from clusterrun.api
    ids   run ids, one a line, for piping (e.g. into clusterrun status or cancel)
    csv   one row per run, with a column per metric (status)

Each command offers the formats that make sense for it (its --format choices); --json is --format json.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from clusterrun.cli.common import info, warn_all

# the formats live in formats.py (light: a command's definition and --help import it alone)
from clusterrun.cli.formats import FORMAT_HELP as FORMAT_HELP
from clusterrun.cli.formats import DataFormat as DataFormat
from clusterrun.cli.formats import Format as Format
from clusterrun.cli.formats import RunsFormat as RunsFormat
from clusterrun.cli.formats import chosen as chosen
from clusterrun.cli.formats import format_help as format_help
from clusterrun.cli.formats import format_option as format_option
from clusterrun.cli.output import (
    emit_json,
    emit_json_pieces,
    manifest_block,
    notes_lines,
    results_block,
    sweep_block,
)
from clusterrun.cli.tables import (
    columns_table,
    comparison_text,
    disk_table,
    doctor_table,
    doctor_verdict,
    status_table,
    sweep_table,
    verdicts_line,
    verdicts_table,
    waiting_lines,
)
from clusterrun.errors import ClusterrunError, ExitStatus
from clusterrun.records.models import Manifest, as_summary

if TYPE_CHECKING:  # the results are told apart by their class's name: `status` imports no doctor, no git
    from clusterrun.services.compare import CompareReport
    from clusterrun.services.disk import DiskReport
    from clusterrun.services.doctor import DoctorReport
    from clusterrun.services.listing import StatusView
    from clusterrun.services.prepare import Prepared
    from clusterrun.services.reproduce import ReproduceResult
    from clusterrun.services.status import RunDetails
    from clusterrun.services.submit import SubmitResult

Renderer = Callable[[Any, "Format"], ExitStatus]
_RENDERERS: dict[str, Renderer] = {}


def present(result: object, fmt: Format) -> None:
    """Render the result; a result that is a failure (a run failed, runs diverged) exits 1."""
    status = render(result, fmt)
    if status != ExitStatus.OK:
        raise typer.Exit(int(status))


def emit_ids(ids: list[str]) -> None:
    if ids:
        typer.echo("\n".join(ids))


def emit_csv(rows: list[dict[str, Any]], first: tuple[str, ...] = ()) -> None:
    """Rows as CSV with a header: `first`, the other columns in order of first appearance, `metrics.*`
    last and sorted; empty where a row has no value."""
    keys = list(dict.fromkeys([*first, *(key for row in rows for key in row)]))
    columns = [k for k in keys if not k.startswith("metrics.")] + sorted(
        k for k in keys if k.startswith("metrics.")
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    typer.echo(out.getvalue(), nl=False)


def renders(result_class: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of a service's result class (by name: its module is imported by the
    command that makes it, not by every command that renders something)."""

    def register(function: Renderer) -> Renderer:
        _RENDERERS[result_class] = function
        return function

    return register


def render(result: object, fmt: Format) -> ExitStatus:
    """The renderer of the result's class (or of the nearest base class that has one)."""
    for cls in type(result).__mro__:
        found = _RENDERERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if found is not None:
            return found(result, fmt)
    raise TypeError(f"no renderer for {type(result).__name__}")


# ------------------------------------------------------------------------------------------- status


CSV_COLUMNS = ("run_id", "name", "state", "elapsed_seconds", "job_id", "node", "backend")


def _status_rows(view: StatusView) -> list[dict[str, Any]]:
    """One CSV row per run, what the table shows unabridged (a sweep's members best first, with `best`
    and their swept values); metrics as `metrics.<name>`, as `clusterrun export` names them; tags when
    any run has one. With --columns: the run id and those columns."""
    if view.columns:
        return [{"run_id": i} | {k: _csv_cell(view.cell(i, k)) for k in view.columns} for i in view.run_ids]
    sweep = view.sweep is not None
    rows = view.sweep.rows if view.sweep is not None else [r.as_record() for r in view.report.runs]
    tagged = view.tagged  # once: asked per row, it walked every row again (10,000 runs: 4.2 s -> 0.7 s)
    return [
        {key: row[key] for key in CSV_COLUMNS}
        | ({"best": row["best"], **row["values"]} if sweep else {})
        | ({"tags": ",".join(view.tags(row["run_id"]))} if tagged else {})
        | {f"metrics.{name}": value for name, value in row["metrics"].items()}
        for row in rows
    ]


def _csv_cell(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, list) else value


@renders("clusterrun.services.listing.StatusView")
def _status(view: StatusView, fmt: Format) -> ExitStatus:
    warn_all(view.warnings)
    if fmt == "json":
        emit_json_pieces(view.json_text())
    elif fmt == "ids":
        emit_ids(view.run_ids)
    elif fmt == "csv":
        emit_csv(_status_rows(view), ("run_id", *view.columns) if view.columns else CSV_COLUMNS)
    elif view.columns and view.report.runs:
        typer.echo(columns_table(view.run_ids, view.columns, view.cell))
    elif view.sweep is not None:
        typer.echo(sweep_table(view.sweep))
    elif not view.report.runs and view.no_registry is not None:  # run outside the project, most likely
        typer.echo(
            f"no runs: there is no run registry at {view.no_registry} (runs/ at the top of the git "
            "repository you are in, else ./runs); cd into your project, or pass --runs-dir PATH "
            "(or set CLUSTERRUN_RUNS_DIR)"
        )
    elif not view.report.runs and view.filters:
        typer.echo(
            f"no run matches {' and '.join(view.filters)}; "
            "'clusterrun status' lists the newest runs unfiltered"
        )
    elif not view.report.runs:
        typer.echo(
            "no runs yet; start one with: clusterrun submit configs/NAME.yaml (or 'clusterrun init' to write "
            "a starter config from your scripts; 'clusterrun submit -- python train.py' without one)"
        )
    else:
        runs = view.report.runs
        typer.echo(status_table([r.as_record() for r in runs], {r.run_id: view.tags(r.run_id) for r in runs}))
        if view.single and runs[0].summary:
            typer.echo()
            summary = as_summary(runs[0].summary)
            typer.echo(results_block(summary, summary.run_dir))
    return ExitStatus.OK


def watching(fmt: Format) -> Callable[[StatusView], None]:
    """`status --watch`: every refresh rendered as it comes (in text, after a progress line)."""

    def refreshed(view: StatusView) -> None:
        if fmt == "text" and view.report.runs:
            typer.echo(f"\n--- {len(view.report.runs)} run(s), {view.done} ended ---")
        render(view, fmt)

    return refreshed


@renders("clusterrun.services.disk.DiskReport")
def _disk(report: DiskReport, fmt: Format) -> ExitStatus:
    if fmt == "json":
        emit_json(report.as_record())
    elif fmt == "ids":
        emit_ids(report.run_ids)
    elif not report.runs:
        typer.echo("no runs match")
    else:
        typer.echo(disk_table(report))
    return ExitStatus.OK


@renders("clusterrun.services.status.RunDetails")
def _details(details: RunDetails, fmt: Format) -> ExitStatus:
    warn_all(details.warnings)
    if fmt == "json":
        emit_json(details.as_record())
        return ExitStatus.OK
    manifest, status = details.manifest, details.status
    typer.echo(manifest_block(manifest))
    if details.notes is not None:
        for line in notes_lines(details.notes):
            typer.echo(line)
    if manifest.reproduces:
        typer.echo(
            f"Reproduces: {manifest.reproduces}   "
            f"Compare: clusterrun compare {manifest.reproduces} {details.run_id}"
        )
    if status.summary:
        typer.echo(results_block(status.summary, details.run_dir, manifest.reproduces or ""))
    elif status.done:  # ended without a job: a failed or interrupted smoke test, a dry run...
        for line in _ended_without_job(manifest):
            typer.echo(line)
    else:
        typer.echo(f"State: {status.state.upper()}   (follow it: clusterrun status {details.run_id} --watch)")
        for line in waiting_lines([status.as_record()]):  # a pending run: why it waits, what to do
            typer.echo(line)
    return ExitStatus.OK


def _ended_without_job(manifest: Manifest) -> list[str]:
    """The state, why (the last state change's note), and a failed smoke test's diagnosis with the log it
    was read from (in the run that ran the test: a sweep runs one per command shape)."""
    from clusterrun.records.resubmit import again_command  # a failed smoke test's only

    history = manifest.state_history
    note = history[-1].note if history and history[-1].state == manifest.state else ""
    lines = [f"State: {manifest.state.upper()}" + (f"   ({note})" if note else "")]
    smoke = manifest.smoke
    if smoke is not None and not smoke.ok and not smoke.skipped and smoke.diagnosis is not None:
        diagnosis = smoke.diagnosis
        lines.append(f"Smoke Test Diagnosis: {diagnosis.category}: {diagnosis.evidence} -> {diagnosis.fix}")
        lines.append(
            f"Smoke Test Logs: {smoke.stderr_path}   (clusterrun logs {manifest.run_id} --smoke --stderr)"
        )
        lines.append(f"Next: {again_command(manifest, diagnosis.fix) or diagnosis.fix}")
    return lines


@renders("clusterrun.services.compare.CompareReport")
def _comparison(report: CompareReport, fmt: Format) -> ExitStatus:
    warn_all(report.warnings)
    if fmt == "json":
        emit_json(report.as_record())
    else:
        typer.echo(comparison_text(report.as_record()))
    return ExitStatus.OK if report.reproduced else ExitStatus.FAILURE


@renders("clusterrun.services.doctor.DoctorReport")
def _doctor(report: DoctorReport, fmt: Format) -> ExitStatus:
    if fmt == "json":
        emit_json(report.as_record())
    else:
        typer.echo(doctor_table(report))
        typer.echo()
        typer.echo(doctor_verdict(report))
    return ExitStatus.FAILURE if report.blocking else ExitStatus.OK


# ------------------------------------------------------------------------------- submit, reproduce


def block(prepared: Prepared) -> str:
    """The manifest block of a prepared submission (a sweep's: what its members share, and their values)."""
    if prepared.sweep_run is not None:
        return sweep_block(prepared.sweep_record(), prepared.run.load_manifest())
    return manifest_block(prepared.run.load_manifest())


def reviewing(fmt: Format) -> Callable[[Prepared], None]:
    """What the user sees once the submission is prepared: warnings, suggestions, then (in text, before
    the cost gate asks anything) the manifest block."""

    def review(prepared: Prepared) -> None:
        warn_all(prepared.warnings)
        if prepared.smoke_failed:
            return
        for key, value in prepared.estimate.suggestions.items():
            info(f"suggestion: {key}={value}")
        if fmt == "text":
            typer.echo(block(prepared))

    return review


def _smoke_failure(result: SubmitResult) -> None:
    prepared = result.prepared
    smoke, diagnosis = prepared.smoke, prepared.smoke_diagnosis
    assert smoke is not None and diagnosis is not None
    reason = "timed out" if smoke.timed_out else f"exited with code {smoke.returncode}"
    if smoke.stopped:
        reason = f"stopped after {smoke.seconds:.0f} s: {smoke.stopped}"
    timing = smoke.timing_run or {}
    timing_failed = bool(timing) and smoke.stderr_path == timing.get("stderr_path")
    if timing_failed:  # the test passed, its longer run failed
        reason = (
            f"its timing run, with {timing.get('param')}={timing.get('steps')}, {reason}; the test itself, "
            "shorter, had passed: the job would end the same way"
        )
    tested = [m for m in prepared.members if prepared.smoke_run and m.run.id == prepared.smoke_run.id]
    sweep = prepared.sweep_run is not None or len(prepared.members) > 1  # (duplicates skipped: maybe 1 left)
    if sweep and tested and tested[0].plan.values:  # which member's values failed
        values = " ".join(f"{k}={v}" for k, v in tested[0].plan.values.items())
        reason += (
            f", with {values}: a sweep's smoke test runs each command shape once, with its first member's "
            f"values; leave those out of the sweep if they are the cause"
        )
    info(f"smoke test FAILED ({reason}); nothing was submitted. Last lines of its stderr:")
    info("\n".join("  " + line for line in smoke.stderr_tail().splitlines()) or "  (empty)")
    info(f"diagnosis: {diagnosis.line()}")
    info(f"full logs: {smoke.stderr_path}")
    if timing_failed:
        info("if it fails only on this machine (its memory, its GPUs): --skip-smoke REASON submits anyway")


@renders("clusterrun.services.submit.SubmitResult")
def _submission(result: SubmitResult, fmt: Format) -> ExitStatus:
    if result.outcome == "declined":
        assert result.confirmation is not None
        fixes = result.prepared.gate.fixes
        hint = "pass --yes to submit without asking"
        if fixes:  # the likely failure has a fix: say it first
            asked = " ".join(f"{key}={value}" for key, value in fixes.items())
            hint = f"ask for enough ({asked}), or pass --yes to submit as it is"
        raise ClusterrunError(
            f"not submitted: {result.confirmation.decision}", hint=hint, exit_status=ExitStatus.USAGE
        )
    if result.outcome == "smoke_failed":
        _smoke_failure(result)
    warn_all(result.report.warnings if result.report else [])
    if fmt == "json":
        emit_json(result.as_record())
    elif fmt == "ids":
        emit_ids(result.run_ids if result.outcome != "smoke_failed" else [])
    elif result.outcome == "dry_run":
        typer.echo(f"--- {result.prepared.run.file('sbatch.sh')} ---")
        typer.echo(result.prepared.script.rstrip())
        info("dry run: nothing submitted")
    elif result.outcome == "submitted" and result.report is None:
        info(f"follow it with: clusterrun status {result.target}")
    elif result.sweep_view is not None:
        typer.echo(sweep_table(result.sweep_view))
    elif result.report is not None and result.report.runs[0].summary:
        typer.echo(results_block(result.report.runs[0].summary, str(result.prepared.run.path)))
    return ExitStatus.FAILURE if result.failed else ExitStatus.OK


@renders("clusterrun.services.reproduce.ReproduceResult")
def _reproduction(result: ReproduceResult, fmt: Format) -> ExitStatus:
    if not result.waited:
        status = render(result.submission, fmt)
        if result.submission.outcome == "submitted" and len(result.pairs) == 1:
            original, new = result.pairs[0]
            info(f"compare when both have ended: clusterrun compare {original} {new}")
        return status
    warn_all(result.warnings)
    if fmt == "ids":
        emit_ids(result.run_ids)
    elif len(result.pairs) == 1:
        comparison = result.verdicts[0].as_record()
        if fmt == "json":
            emit_json(comparison)
        else:
            typer.echo(comparison_text(comparison))
    else:
        if fmt == "json":
            emit_json(result.as_record())
            info(verdicts_line(result.verdicts))  # stdout stays one JSON document
        else:
            typer.echo(verdicts_table(result.verdicts))
            typer.echo(verdicts_line(result.verdicts))
    return ExitStatus.OK if result.reproduced else ExitStatus.FAILURE
