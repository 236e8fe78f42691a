"""clusterrun submit CONFIG [KEY=VALUE ...]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clusterrun import submit as service
from clusterrun.cli.common import info, registry, warn
from clusterrun.cli.output import emit_json, manifest_block, results_block
from clusterrun.errors import ExitStatus
from clusterrun.runs import Registry
from clusterrun.status import wait


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
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
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
        argv=["clusterrun", *sys.argv[1:]],
    )
    reg = registry(ctx)
    prepared = service.prepare(request, reg, notify=info)
    finish(reg, prepared, dry_run=dry_run, wait_=wait_, json_=json_, yes=yes)


def finish(
    reg: Registry, prepared: service.Prepared, *, dry_run: bool, wait_: bool, json_: bool, yes: bool
) -> None:
    """Shared by submit and reproduce: report the smoke test, print the manifest, submit, maybe wait."""
    for message in prepared.warnings:
        warn(message)
    if prepared.smoke_failed:
        smoke = prepared.smoke
        assert smoke is not None
        reason = "timed out" if smoke.timed_out else f"exited with code {smoke.returncode}"
        info(f"smoke test FAILED ({reason}); nothing was submitted. Last lines of its stderr:")
        info("\n".join("  " + line for line in smoke.stderr_tail().splitlines()) or "  (empty)")
        from clusterrun.summary import smoke_diagnosis

        diagnosis = smoke_diagnosis(smoke, prepared.spec)
        info(f"diagnosis: {diagnosis.line()}")
        info(f"full logs: {smoke.stderr_path}")
        if json_:
            emit_json(prepared.manifest | {"diagnosis": diagnosis.as_record()})
        raise typer.Exit(int(ExitStatus.FAILURE))
    if dry_run:
        manifest = service.mark_dry_run(prepared)
        if json_:
            emit_json(manifest | {"script": prepared.script})
        else:
            typer.echo(manifest_block(manifest))
            typer.echo(f"--- {prepared.run.file('sbatch.sh')} ---")
            typer.echo(prepared.script.rstrip())
            info("dry run: nothing submitted")
        return
    if not json_:
        typer.echo(manifest_block(prepared.manifest))
    manifest = service.launch(prepared)
    info(f"submitted {manifest['run_id']} as {manifest['backend']} job {manifest['job_id']}")
    if not wait_:
        if json_:
            emit_json(manifest)
        else:
            info(f"follow it with: clusterrun status {manifest['run_id']}")
        return
    report = wait(reg, [prepared.run.id])
    for message in report.warnings:
        warn(message)
    result = report.runs[0]
    if json_:
        emit_json(prepared.run.manifest() | {"summary": result.summary})
    elif result.summary:
        typer.echo(results_block(result.summary, str(prepared.run.path)))
    if result.summary and not result.summary.get("success"):
        raise typer.Exit(int(ExitStatus.FAILURE))
