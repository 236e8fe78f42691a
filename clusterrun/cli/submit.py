"""clusterrun submit CONFIG [KEY=VALUE ...]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from clusterrun.cli.common import info, registry, warn
from clusterrun.cli.output import emit_json, manifest_block, results_block, sweep_block, sweep_table
from clusterrun.errors import ClusterrunError, ExitStatus
from clusterrun.records.registry import Registry, now_iso
from clusterrun.records.summary import smoke_diagnosis
from clusterrun.services import submit as service
from clusterrun.services.status import sweep_view, wait


def submit(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Argument(
            help="Experiment config (YAML), e.g. configs/examples/quickstart.yaml.", show_default=False
        ),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Overrides as KEY=VALUE, e.g. params.lr=0.01 resources.mem=8G seed=1. "
            "A new param needs a leading '+'.",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="auto (SLURM when sbatch is found, else local), slurm or local.")
    ] = "auto",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Smoke-test and print the manifest and the script; submit nothing."),
    ] = False,
    allow_dirty: Annotated[
        bool,
        typer.Option(
            "--allow-dirty",
            help="Accept uncommitted changes: they are saved as git.patch and applied to the snapshot.",
        ),
    ] = False,
    skip_smoke: Annotated[
        str | None,
        typer.Option("--skip-smoke", metavar="REASON", help="Skip the smoke test; the reason is recorded."),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            metavar="KEY=V1,V2",
            help="A grid axis, e.g. --sweep params.lr=0.1,0.01 "
            "(repeat for more axes); the sweep is ONE job array.",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="A profile in configs/clusters/NAME.yaml.", show_default=False),
    ] = None,
    array_parallelism: Annotated[
        int | None,
        typer.Option(
            "--array-parallelism",
            min=1,
            metavar="N",
            help="Run at most N members of a sweep at once (the array's %N; default: sweep.parallelism).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also submit members identical to a run that already finished.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Submit expensive runs without asking (needed without a terminal)."),
    ] = False,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to end and print its results.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the manifest (and results) as JSON.")] = False,
) -> None:
    """Smoke-test an experiment locally, record everything about it, and submit it."""
    request = service.SubmitRequest(
        config=config,
        overrides=list(overrides or []),
        backend=backend,
        dry_run=dry_run,
        allow_dirty=allow_dirty,
        skip_smoke_reason=skip_smoke,
        sweep_axes=list(sweep or []),
        cluster=cluster,
        force=force,
        array_parallelism=array_parallelism,
        argv=["clusterrun", *sys.argv[1:]],
    )
    reg = registry(ctx)
    prepared = service.prepare(request, reg, notify=info)
    finish(reg, prepared, dry_run=dry_run, wait_=wait_, json_=json_, yes=yes)


def finish(
    reg: Registry,
    prepared: service.Prepared,
    *,
    dry_run: bool,
    wait_: bool,
    json_: bool,
    yes: bool,
    then_more: bool = False,
) -> None:
    """Shared by submit and reproduce: report the smoke test, print the manifest, submit, maybe wait.

    `then_more`: the caller prints the final output (e.g. reproduce --wait), so print no record here."""
    for message in prepared.warnings:
        warn(message)
    if prepared.smoke_failed:
        smoke = prepared.smoke
        assert smoke is not None
        reason = "timed out" if smoke.timed_out else f"exited with code {smoke.returncode}"
        info(f"smoke test FAILED ({reason}); nothing was submitted. Last lines of its stderr:")
        info("\n".join("  " + line for line in smoke.stderr_tail().splitlines()) or "  (empty)")
        tested = next((m for m in prepared.members if m.run == prepared.smoke_run), prepared.members[0])
        diagnosis = smoke_diagnosis(smoke, tested.plan.spec, prepared.plan.git.root)
        info(f"diagnosis: {diagnosis.line()}")
        info(f"full logs: {smoke.stderr_path}")
        if json_:
            emit_json(prepared.manifest | {"diagnosis": diagnosis.as_record()})
        raise typer.Exit(int(ExitStatus.FAILURE))
    for key, value in prepared.estimate.suggestions.items():
        info(f"suggestion: {key}={value}")
    if dry_run:
        service.mark_dry_run(prepared)
        if json_:
            emit_json(_record(prepared) | {"script": prepared.script})
        else:
            typer.echo(_block(prepared))
            typer.echo(f"--- {prepared.run.file('sbatch.sh')} ---")
            typer.echo(prepared.script.rstrip())
            info("dry run: nothing submitted")
        return
    if not json_:
        typer.echo(_block(prepared))
    confirmation = confirm(prepared, yes)
    if not confirmation["approved"]:
        service.refuse(prepared, confirmation)
        raise ClusterrunError(
            f"not submitted: {confirmation['decision']}",
            hint="pass --yes to submit without asking",
            exit_status=ExitStatus.USAGE,
        )
    manifests = service.launch(prepared, confirmation)
    ids = [m["run_id"] for m in manifests]
    if prepared.sweep_run is not None:
        record = prepared.sweep_record()
        arrays = ", ".join(f"{a['job_id']} ({a['size']})" for a in record["arrays"])
        info(
            f"submitted sweep {record['sweep_id']}: {len(ids)} member(s) in {record['submissions']} "
            f"submission(s): {arrays}"
        )
    else:
        info(f"submitted {ids[0]} as {manifests[0]['backend']} job {manifests[0]['job_id']}")
    target = prepared.sweep_run.id if prepared.sweep_run is not None else ids[0]
    if then_more:
        return
    if not wait_:
        if json_:
            emit_json(_record(prepared))
        else:
            info(f"follow it with: clusterrun status {target}")
        return
    report = wait(reg, ids)
    for message in report.warnings:
        warn(message)
    if prepared.sweep_run is not None:
        if json_:
            emit_json(_record(prepared) | {"members": [r.as_record() for r in report.runs]})
        else:
            typer.echo(sweep_table(sweep_view(reg, prepared.sweep_run.id, report)))
        if any(not (r.summary or {}).get("success") for r in report.runs):
            raise typer.Exit(int(ExitStatus.FAILURE))
        return
    result = report.runs[0]
    if json_:
        emit_json(prepared.run.manifest() | {"summary": result.summary})
    elif result.summary:
        typer.echo(results_block(result.summary, str(prepared.run.path)))
    if result.summary and not result.summary.get("success"):
        raise typer.Exit(int(ExitStatus.FAILURE))


def _block(prepared: service.Prepared) -> str:
    if prepared.sweep_run is not None:
        return sweep_block(prepared.sweep_record(), prepared.run.manifest())
    return manifest_block(prepared.run.manifest())


def _record(prepared: service.Prepared) -> dict[str, Any]:
    if prepared.sweep_run is not None:
        return prepared.sweep_record()
    return prepared.run.manifest()


def confirm(prepared: service.Prepared, yes: bool) -> dict[str, Any]:
    """The cost gate: ask before expensive submissions; without a terminal, refuse unless --yes."""
    decision = prepared.gate
    record: dict[str, Any] = {
        "required": decision.needs_confirmation,
        "reasons": decision.reasons,
        "at": now_iso(),
    }
    if not decision.needs_confirmation:
        return record | {"approved": True, "decision": "below the thresholds"}
    info("this submission is expensive: " + "; ".join(decision.reasons))
    if yes:
        return record | {"approved": True, "decision": "confirmed with --yes"}
    if not sys.stdin.isatty():
        return record | {
            "approved": False,
            "decision": "refused: confirmation needed and there is no terminal",
        }
    approved = typer.confirm("Submit anyway?", default=False, err=True)
    return record | {
        "approved": approved,
        "decision": "confirmed at the prompt" if approved else "declined at the prompt",
    }
