"""clusterrun from Python (a notebook, a script, a test): the CLI's commands as functions returning the
same typed results the CLI renders; nothing is printed, nothing prompts, nothing exits.

    from clusterrun import api
    result = api.submit("configs/examples/quickstart.yaml", "params.lr=0.05", backend="local", wait=True)
    result.outcome, result.run_ids, result.report.runs[0].metrics
    view = api.status(result.run_ids[0])                   # StatusView: .report.runs, .sweep, .as_record()
    verdict = api.reproduce(result.run_ids[0], backend="local", wait=True)
    verdict.reproduced, verdict.verdicts[0].as_record()

Each function takes `runs_dir` (default: as the CLI, runs/ at the top of the git repository holding
`cwd`) and returns the record `--json` prints as `.as_record()`. Bad input raises
clusterrun.errors.ClusterrunError (its `.message` and `.hint`); a failed smoke test, a dry run and a
submission declined at the cost gate are outcomes of the result. Expensive submissions (above the
profile's confirm_above) are refused unless `yes=True` or a `confirm` callback approves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clusterrun import envknobs
from clusterrun.errors import UsageError
from clusterrun.records.registry import Registry
from clusterrun.services import Notify, listing, quiet
from clusterrun.services import compare as comparing
from clusterrun.services import reproduce as reproducing
from clusterrun.services import submit as submitting
from clusterrun.services.adhoc import AdhocRequest, make
from clusterrun.services.cancel import CancelOutcome
from clusterrun.services.cancel import cancel as cancel_runs
from clusterrun.services.compare import CompareReport
from clusterrun.services.doctor import DoctorReport, run_checks
from clusterrun.services.listing import StatusQuery, StatusView
from clusterrun.services.reproduce import ReproduceRequest, ReproduceResult
from clusterrun.services.status import RunDetails, describe
from clusterrun.services.submit import Confirm, SubmitRequest, SubmitResult

__all__ = [
    "CancelOutcome",
    "CompareReport",
    "DoctorReport",
    "ReproduceResult",
    "RunDetails",
    "StatusView",
    "SubmitResult",
    "cancel",
    "compare",
    "doctor",
    "reproduce",
    "show",
    "status",
    "submit",
]


def _registry(runs_dir: str | Path | None, cwd: str | Path | None = None) -> Registry:
    envknobs.check_all()  # every call starts here: a bad tuning variable is refused before it does anything
    return Registry.default(
        Path(runs_dir) if runs_dir is not None else None, Path(cwd) if cwd is not None else None
    )


def _confirm(yes: bool, confirm: Confirm | None) -> Confirm:
    if confirm is not None:
        return confirm
    return submitting.approve("confirmed with yes=True") if yes else submitting.refuse_expensive


def submit(
    config: str | Path | Sequence[str],
    *overrides: str,
    sweep: list[str] | None = None,
    backend: str = "auto",
    cluster: str | None = None,
    dry_run: bool = False,
    allow_dirty: bool = False,
    skip_smoke: str | None = None,
    force: bool = False,
    array_parallelism: int | None = None,
    wait: bool = False,
    yes: bool = False,
    confirm: Confirm | None = None,
    notify: Notify = quiet,
    runs_dir: str | Path | None = None,
    cwd: str | Path | None = None,
    name: str | None = None,
    smoke: Sequence[str] = (),
    smoke_args: str | None = None,
    save: str | Path | None = None,
) -> SubmitResult:
    """`clusterrun submit CONFIG OVERRIDES...`: smoke-test, record and submit (with `wait`, until the runs
    end). `config` is relative to `cwd` (default: the current directory), as on the command line.

    `config` may instead be a command, a list of argv strings: `submit(["python", "train.py", "--lr",
    "0.1"])` is `clusterrun submit -- python train.py --lr 0.1` (services/adhoc.py: `--key value` become
    params, the config is written under the registry's .adhoc/, or to `save`); `overrides` then apply to
    the config made from it, and `name`, `smoke` (smoke params, e.g. ['epochs=1']) and `smoke_args` are
    submit's --name, --smoke and --smoke-args. Without `smoke` or `smoke_args` the smoke test is a probe."""
    where = Path(cwd) if cwd is not None else Path.cwd()
    registry = _registry(runs_dir, where)
    if isinstance(config, str | Path):
        adhoc_only = {"name": name, "smoke": list(smoke) or None, "smoke_args": smoke_args, "save": save}
        given = [key for key, value in adhoc_only.items() if value is not None]
        if given:
            raise UsageError(
                f"{', '.join(given)}: for a command, not a config file ({config})",
                hint="give them as overrides of the config instead, e.g. name=NAME or smoke.params.steps=5",
            )
        path, extra, argv = where / config, list(overrides), [str(config), *overrides]
    else:
        command = _argv(config)
        made = make(
            AdhocRequest(
                argv=command,
                name=name,
                smoke=list(smoke),
                smoke_args=smoke_args,
                cluster=cluster,
                overrides=list(overrides),
                save=where / save if save is not None else None,
                cwd=where,
            ),
            registry,
        )
        for note in made.notes:
            notify(f"note: {note}")
        path, extra, argv, cluster = made.path, [], [*overrides, "--", *command], None
    request = SubmitRequest(
        config=path,
        overrides=extra,
        sweep_axes=list(sweep or []),
        cluster=cluster,
        backend=backend,
        dry_run=dry_run,
        allow_dirty=allow_dirty,
        skip_smoke_reason=skip_smoke,
        force=force,
        array_parallelism=array_parallelism,
        argv=["clusterrun.api.submit", *argv],
        cwd=where,
    )
    return submitting.submit(request, registry, confirm=_confirm(yes, confirm), notify=notify, wait=wait)


def _argv(command: Sequence[str]) -> list[str]:
    """A command as argv strings (never a string split on spaces: a list is what the caller meant)."""
    if not all(isinstance(token, str) for token in command):
        raise UsageError(
            "a command is a list of strings",
            hint='e.g. api.submit(["python", "train.py", "--lr", "0.1"]); or a config file path',
        )
    return list(command)


def status(
    *run_ids: str,
    name: str | None = None,
    state: str | None = None,
    since: str | None = None,
    limit: int | None = 20,
    sort: str | None = None,
    maximize: bool = False,
    where: list[str] | None = None,
    tags: list[str] | None = None,
    runs_dir: str | Path | None = None,
) -> StatusView:
    """`clusterrun status [RUN_ID | SWEEP_ID ...]`: the runs brought up to date (one scheduler query);
    `where` holds `status --where` conditions (e.g. ['params.lr<0.05', 'val_loss<1.2']), `sort` any key
    (`-key`: descending)."""
    query = StatusQuery(
        list(run_ids),
        name,
        state,
        since,
        limit,
        sort,
        "max" if maximize else None,
        where=list(where or []),
        tags=list(tags or []),
    )
    return listing.status(_registry(runs_dir), query).with_summaries()  # each run's summary in it, read now


def show(run_id: str, runs_dir: str | Path | None = None) -> RunDetails:
    """`clusterrun show RUN_ID`: the manifest and, once the run has ended, its summary."""
    return describe(_registry(runs_dir), run_id)


def compare(
    run_a: str, run_b: str, rtol: float = 0.0, atol: float = 0.0, runs_dir: str | Path | None = None
) -> CompareReport:
    """`clusterrun compare RUN_A RUN_B`: metric, config, code, data and environment differences."""
    return comparing.compare(_registry(runs_dir), run_a, run_b, rtol, atol)


def reproduce(
    run_id: str,
    *,
    backend: str = "auto",
    wait: bool = False,
    rtol: float = 0.0,
    atol: float = 0.0,
    skip_smoke: str | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    notify: Notify = quiet,
    runs_dir: str | Path | None = None,
) -> ReproduceResult:
    """`clusterrun reproduce RUN_ID`: the run (or sweep) again from its records; with `wait`, verdicts."""
    request = ReproduceRequest(
        run_id, backend, ["clusterrun.api.reproduce", run_id], skip_smoke, rtol=rtol, atol=atol
    )
    registry = _registry(runs_dir)
    return reproducing.reproduce(registry, request, confirm=_confirm(yes, confirm), notify=notify, wait=wait)


def cancel(*run_ids: str, runs_dir: str | Path | None = None) -> list[CancelOutcome]:
    """`clusterrun cancel RUN_ID ...`: one scheduler call per backend; who asked is recorded."""
    return cancel_runs(_registry(runs_dir), list(run_ids))


def doctor(backend: str = "auto", runs_dir: str | Path | None = None) -> DoctorReport:
    """`clusterrun doctor`: whether this machine can run experiments, each check with a fix."""
    registry = _registry(runs_dir)
    return run_checks(Path.cwd(), registry.root, backend)
