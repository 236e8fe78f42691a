"""clusterrun submit CONFIG [KEY=VALUE ...], or clusterrun submit [OPTIONS] -- COMMAND ARGS..."""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path
from typing import Annotated

import typer

from clusterrun.analysis.estimate import GateDecision
from clusterrun.cli.adhoc import Flags, what_to_submit
from clusterrun.cli.choices import BackendName
from clusterrun.cli.common import BACKEND_HELP, info, registry
from clusterrun.cli.complete import complete_clusters, complete_configs
from clusterrun.cli.render import RunsFormat, chosen, format_option
from clusterrun.cli.startwatch import DEFAULT_SECONDS, watch_seconds
from clusterrun.cli.submitflow import submit_and_show
from clusterrun.cli.waitlimit import checked, timeout_option
from clusterrun.services import submit as service
from clusterrun.services.submit import Answer, Confirm


def submit(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Argument(
            help="Experiment config (YAML), e.g. configs/examples/quickstart.yaml; or none, and the command "
            "to run after -- (an ad-hoc run: clusterrun submit -- python train.py --lr 0.1).",
            show_default=False,
            autocompletion=complete_configs,
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Overrides as KEY=VALUE, e.g. params.lr=0.01 resources.mem=8G seed=1. "
            "A new param needs a leading '+'.",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[BackendName, typer.Option(help=BACKEND_HELP)] = "auto",
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
        typer.Option(
            "--cluster",
            help="A profile in configs/clusters/NAME.yaml.",
            show_default=False,
            autocompletion=complete_clusters,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="The run's name (default: the config's, or the script's).", show_default=False
        ),
    ] = None,
    time_: Annotated[
        str | None,
        typer.Option(
            "--time", metavar="HH:MM:SS", help="resources.time, e.g. 02:00:00 or 2h.", show_default=False
        ),
    ] = None,
    mem: Annotated[
        str | None, typer.Option("--mem", metavar="SIZE", help="resources.mem, e.g. 8G.", show_default=False)
    ] = None,
    gpus: Annotated[
        str | None, typer.Option("--gpus", metavar="N", help="resources.gpus, e.g. 1.", show_default=False)
    ] = None,
    cpus: Annotated[
        int | None,
        typer.Option("--cpus", min=1, metavar="N", help="resources.cpus_per_task.", show_default=False),
    ] = None,
    partition: Annotated[
        str | None,
        typer.Option("--partition", metavar="NAME", help="resources.partition.", show_default=False),
    ] = None,
    smoke: Annotated[
        list[str] | None,
        typer.Option(
            "--smoke",
            metavar="KEY=VALUE",
            help="What makes the smoke test short: a param and its value, e.g. --smoke epochs=1 "
            "(smoke.params).",
            show_default=False,
        ),
    ] = None,
    smoke_args: Annotated[
        str | None,
        typer.Option(
            "--smoke-args",
            metavar="ARGS",
            help="With a command after --: the smoke test's own arguments for the script, e.g. "
            "--smoke-args '--epochs 1 --limit 10'. Without --smoke or --smoke-args, an ad-hoc run's smoke "
            "test runs the command for 30 s and passes if it has not failed by then.",
            show_default=False,
        ),
    ] = None,
    smoke_timeout: Annotated[
        int | None,
        typer.Option(
            "--smoke-timeout",
            min=1,
            metavar="SECONDS",
            help="smoke.timeout: how long the smoke test may take.",
            show_default=False,
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            metavar="PATH",
            help="With a command after --: also write its config there (e.g. configs/train.yaml), to "
            "submit it again with clusterrun submit PATH.",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Tag the run(s) (repeatable); see status --tag.", show_default=False
        ),
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
    after: Annotated[
        list[str] | None,
        typer.Option(
            "--after",
            metavar="RUN_ID",
            help="Start once this run has ended, whatever its state (repeatable; resources.after).",
        ),
    ] = None,
    afterok: Annotated[
        list[str] | None,
        typer.Option(
            "--afterok",
            metavar="RUN_ID",
            help="Start only once this run has completed successfully (repeatable; resources.afterok).",
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Submit expensive runs without asking (needed without a terminal)."),
    ] = False,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to end and print its results.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Wait, streaming the job's stdout and stderr as they are written (implies --wait).",
        ),
    ] = False,
    timeout: Annotated[float | None, timeout_option()] = None,
    watch_seconds_: Annotated[
        float | None,
        typer.Option(
            "--watch-seconds",
            metavar="SECONDS",
            min=0,
            help="Without --wait: watch the job's first SECONDS and report at once if it fails on start "
            f"(default: {DEFAULT_SECONDS:g} on a terminal, none without one).",
            show_default=False,
        ),
    ] = None,
    no_watch: Annotated[
        bool, typer.Option("--no-watch", help="Skip the early-failure watch after submitting.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress, manifest or tables: warnings, errors and the run ids only."
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the manifest (and results) as JSON.")] = False,
    format_: Annotated[RunsFormat | None, format_option("text", "json", "ids")] = None,
) -> None:
    """Smoke-test an experiment locally, record everything about it, and submit it."""
    fmt = chosen(format_, json_)
    flags = Flags(name, time_, mem, gpus, cpus, partition, list(smoke or []), smoke_args, smoke_timeout, save)
    reg = registry(ctx)
    config, extra, cluster = what_to_submit(ctx, config, list(overrides or []), flags, cluster, reg)
    request = service.SubmitRequest(
        config=config,
        overrides=extra,
        tags=list(tag or []),
        backend=backend,
        dry_run=dry_run,
        allow_dirty=allow_dirty,
        skip_smoke_reason=skip_smoke,
        sweep_axes=list(sweep or []),
        cluster=cluster,
        force=force,
        array_parallelism=array_parallelism,
        after=list(after or []),
        afterok=list(afterok or []),
        argv=["clusterrun", *sys.argv[1:]],
    )
    watch = watch_seconds(watch_seconds_, no_watch)
    limit = checked(timeout, wait_ or follow, "--wait or --follow")
    with _at_most(limit):
        submit_and_show(reg, request, fmt, ask(yes), wait=wait_, follow=follow, quiet=quiet, watch=watch)
    # the process ends now: its last garbage collection need not walk every object the imports made (the
    # config models, the scheduler, Jinja2...), about 0.07 s of a 0.6 s submit (issue 13). Nothing is
    # left unwritten: every record was written and closed above; atexit handlers still run.
    gc.freeze()


def ask(yes: bool) -> Confirm:
    """The cost gate at the terminal: say why the submission is expensive, then --yes approves; without a
    terminal it is refused; else the user is asked. Shared by submit and reproduce."""

    def answer(decision: GateDecision) -> Answer:
        if decision.reasons:
            info("this submission is expensive: " + "; ".join(decision.reasons))
        for risk in decision.risks:
            info(f"this submission's job would likely fail: {risk}")
        if yes:
            return Answer(True, "confirmed with --yes")
        if not sys.stdin.isatty():
            return Answer(False, "refused: confirmation needed and there is no terminal")
        approved = typer.confirm("Submit anyway?", default=False, err=True)
        return Answer(approved, "confirmed at the prompt" if approved else "declined at the prompt")

    return answer


def _at_most(limit: float | None) -> contextlib.AbstractContextManager[None]:
    """The overall limit of the wait (--timeout); without one, nothing to set: the status service (its
    summaries, diagnoses) is imported when a wait needs it, after the job was submitted."""
    if limit is None:
        return contextlib.nullcontext()
    from clusterrun.services.status import waiting_at_most

    return waiting_at_most(limit)
