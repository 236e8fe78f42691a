"""The smoke tests of a submission: one per distinct command shape, run locally in the member's own
working copy (or taken from the cache), timed for the estimate, and checked for tracked files rewritten
in place (the snapshot is rebuilt before any job is made from it)."""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clusterrun.analysis.estimate import Timing, fit_points, step_unit, two_runs
from clusterrun.analysis.metrics import (
    COUNTERS,
    log_tail,
    metrics_file_kind,
    printed_names,
    printed_pattern,
    timing_names,
    unread_metrics_file,
)
from clusterrun.config.models import ExperimentSpec, canonical_json
from clusterrun.diagnose.model import Diagnosis
from clusterrun.errors import ClusterrunError, Interrupted
from clusterrun.execution.ranks import smoke_script
from clusterrun.execution.smoke_record import SmokeCache, SmokeResult
from clusterrun.inputs import snapshot
from clusterrun.inputs import workdir as workdirs
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.records import config_copy
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.logtext import one_line
from clusterrun.records.registry import Registry, Run
from clusterrun.records.writer import command_script, write_script
from clusterrun.services import Notify, activity
from clusterrun.services.plan import SubmissionPlan

Outcome = tuple[str | None, str, dict[str, Any] | None]  # state, note, smoke record
Timed = tuple[Timing | None, str]  # the smoke test's timing, or why there is none ("" when not asked for)
TIMING_TAIL_LINES = 5  # of a failed timing run's stderr, in its warning


@dataclass
class SmokeTests:
    """What the smoke tests of one submission found."""

    outcomes: dict[str, Outcome]  # run id -> what its manifest records
    result: SmokeResult | None  # the failing test, else the first one (None: skipped)
    tested_in: Run | None  # the run whose directory holds that test's logs
    diagnosis: Diagnosis | None  # of the failing test
    timing: Timing | None
    no_timing: str  # why there is no timing ("" when there is one, or none was asked for)
    peak_rss_mb: float | None


def smoke_key(snapshot_id: str, spec: ExperimentSpec) -> str:
    return hashlib.sha256(f"{snapshot_id}:{spec.config_hash()}".encode()).hexdigest()[:24]


def shape_key(spec: ExperimentSpec, swept: list[str]) -> str:
    """Members that differ only in swept param/data/seed/resource values share one smoke test."""
    data = spec.resolved()
    data.pop("resources", None)
    for key in swept:
        head, _, rest = key.partition(".")
        if head in ("params", "data") and rest in data.get(head, {}):
            data[head][rest] = None
        elif head == "seed":
            data["seed"] = None
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def smoke_shapes(
    plan: SubmissionPlan,
    members: Sequence[tuple[Run, ExperimentSpec]],
    registry: Registry,
    notify: Notify,
    warnings: list[str],
) -> SmokeTests:
    """One smoke test per distinct command shape; every member records the result of its shape's test."""
    if plan.skip_smoke_reason is not None:
        warnings.append(f"smoke test skipped: {plan.skip_smoke_reason}")
        skipped: Outcome = (None, "", {"skipped": True, "reason": plan.skip_smoke_reason})
        return SmokeTests(
            {r.id: skipped for r, _ in members}, None, None, None, None, "smoke test skipped", None
        )
    shapes: dict[str, list[tuple[Run, ExperimentSpec]]] = {}
    for run, spec in members:
        shapes.setdefault(shape_key(spec, plan.sweep_axes), []).append((run, spec))
    if len(shapes) > 1:
        notify(f"smoke test: {len(shapes)} distinct command shapes in this sweep, one test each")
    outcomes: dict[str, Outcome] = {}
    first: tuple[SmokeResult, Run] | None = None
    failed: tuple[SmokeResult, Run, Diagnosis] | None = None
    timing: Timing | None = None
    no_timing = ""
    for group in shapes.values():
        lead, lead_spec = group[0]
        try:
            result, (shape_timing, why) = _smoke(lead, lead_spec, plan, registry, notify, warnings)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the test was stopped; say so, for good
            raise mark_interrupted([run for run, _spec in members], exc, lead) from exc
        timing, no_timing = timing or shape_timing, no_timing or why
        record = result.as_record() | {"skipped": False, "tested_in": lead.id}
        diagnosis = None if result.ok else _diagnosis(result, lead_spec, plan.git.root, lead.id)
        if diagnosis is not None:
            record["diagnosis"] = diagnosis.as_record()
        state = "smoke_passed" if result.ok else "smoke_failed"
        for run, _spec in group:
            outcomes[run.id] = (state, "", record)
        first = first or (result, lead)
        if diagnosis is not None:
            failed = (result, lead, diagnosis)
            break
    for run, _spec in members:  # shapes left untested after a failure
        outcomes.setdefault(run.id, ("not_submitted", "another shape's smoke test failed", None))
    assert first is not None
    chosen, tested_in = (failed[0], failed[1]) if failed else first
    peak = chosen.peak_rss_mb if chosen.ok else None
    no_timing = "" if timing else no_timing
    return SmokeTests(outcomes, chosen, tested_in, failed[2] if failed else None, timing, no_timing, peak)


INTERRUPTED = "interrupted"  # a terminal state of our own: stopped during the smoke test, never submitted


def mark_interrupted(runs: Sequence[Run], exc: KeyboardInterrupt, tested_in: Run) -> Interrupted:
    """Record that the submission was stopped during the smoke test (its process tree is stopped by
    then): every run of it ends `interrupted`. Returns the error to raise, saying so (exit 130); never
    raises itself (a record that cannot be written does not stop the others)."""
    how = str(exc) or "SIGINT during the smoke test"
    for run in runs:
        try:
            run.update(state=INTERRUPTED, note=f"{how} (smoke test in {tested_in.id})")
        except Exception:
            continue
    shown = ", ".join(r.id for r in runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    return Interrupted(
        f"interrupted by {how}: nothing was submitted; {shown} marked {INTERRUPTED}",
        hint="its processes were stopped; submit again when ready (see it with: clusterrun status)",
    )


def _smoke(
    run: Run,
    spec: ExperimentSpec,
    plan: SubmissionPlan,
    registry: Registry,
    notify: Notify,
    warnings: list[str],
) -> tuple[SmokeResult, Timed]:
    """The shape's smoke test (or its cached result) and its timing. A timing run that fails (exits
    non-zero, or is stopped) fails the test, with its own logs; one that times out is a warning."""
    cache = SmokeCache(registry.cache_dir / "smoke")
    key = smoke_key(plan.snapshot.id, spec)
    cached = cache.get(key) if plan.use_smoke_cache else None
    if cached is not None:
        notify(f"smoke test: passed before for this code and config (run {cached.cached_from}), skipped")
        run.event("smoke_cached", key=key, source=cached.cached_from)
        result = SmokeResult(**(cached.as_record() | {"cached": True}))
        return result, _timing(spec, result, warnings)
    how = "smoke.command" if spec.smoke.command else "smoke.params" if spec.smoke.params else "its command"
    label = f"smoke test: running it locally with {how} (timeout {spec.smoke.timeout} s) ..."
    if spec.smoke.probe:
        label = f"smoke test: running the command for up to {spec.smoke.timeout} s (smoke.probe) ..."
    result = _run_smoke_in(run, spec, plan, "smoke", spec.smoke.params, notify, label)
    if spec.smoke.probe and result.timed_out:  # still going at the timeout, nothing failed: a pass
        result = replace(result, ok=True)
    steps_param = spec.estimate.steps_param
    if result.ok and steps_param and (len(result.step_points) < 2 or counts_epochs(spec)):
        # the job's own step timing gave fewer than two points: measure a second, longer smoke run
        n1 = _smoke_steps(spec)
        if n1 is not None:
            n2 = max(n1 * 2, n1 + 1)  # an int stays an int: argparse's type=int refuses "4.0"
            unit = step_unit(steps_param)
            label = f"smoke test: a second run with {steps_param}={n2:g} to time one {unit}"
            params = {**spec.smoke.params, steps_param: n2}
            second = _run_smoke_in(run, spec, plan, "smoke-2", params, notify, label)
            whole = spec.params.get(steps_param)  # the run's own steps: a timing run never goes past them
            for tries in range(2, 2 + MORE_TIMING_RUNS):  # steps too fast to time: 10x more, twice at most
                if not _too_short(result, second, spec.smoke.timeout):
                    break
                more = n1 + (n2 - n1) * 10
                if isinstance(whole, int | float) and not isinstance(whole, bool) and more > whole:
                    if whole <= n2:  # the runs so far took as many steps as the run itself: short enough
                        break
                    more = whole
                n2 = more
                label = (
                    f"smoke test: a longer run, {steps_param}={n2:g} (the last was too short to time one "
                    f"{unit})"
                )
                params = {**spec.smoke.params, steps_param: n2}
                second = _run_smoke_in(run, spec, plan, f"smoke-{tries + 1}", params, notify, label)
            timing_run = {
                "param": steps_param,
                "steps": n2,
                "seconds": second.seconds,
                "ok": second.ok,
                "returncode": second.returncode,
                "timed_out": second.timed_out,
                "stderr_tail": "" if second.ok else second.stderr_tail(TIMING_TAIL_LINES),
                "stderr_path": second.stderr_path,
            }
            result = replace(result, timing_run=timing_run)  # cached: a cached test keeps its estimate
            if not second.ok and not second.timed_out:
                # the same command, longer, failed: the job would too (a timing run that merely ran out
                # of the smoke timeout says nothing of that, and is a warning). Its logs are the test's.
                result = replace(second, timing_run=timing_run)
    cache.put(key, result, run.id)  # (a failed test is not kept)
    return result, _timing(spec, result, warnings)


#: A timing run must take this much longer than the smoke test for its steps to be timed at all (the
#: start of a process varies by tens of milliseconds)...
MIN_TIMED_SECONDS = 0.05
#: ... and at least this share of the smoke test's own time: on a busy machine (a login node, two cores
#: running four test processes) a start-up varies by as much more as it takes longer, and a 5 ms step
#: was once timed at 60 ms from a timing run that merely started later.
MIN_TIMED_SHARE = 0.25
MORE_TIMING_RUNS = 2


def _too_short(first: SmokeResult, timing: SmokeResult, timeout: float) -> bool:
    """Whether a passed timing run added too little time to the smoke test's to time a step (less than
    the start-up's noise), and a ten times longer one fits in the smoke timeout (budgeted as if its steps
    took all that time)."""
    extra = timing.seconds - first.seconds
    noise = max(MIN_TIMED_SECONDS, MIN_TIMED_SHARE * first.seconds)
    return timing.ok and extra < noise and first.seconds + 10 * noise < timeout / 2


def counts_epochs(spec: ExperimentSpec) -> bool:
    """Whether the estimate scales with an epochs param (timed by the smoke test and a timing run only)."""
    return step_unit(spec.estimate.steps_param) == "epoch"


def _smoke_steps(spec: ExperimentSpec) -> int | float | None:
    """The steps_param's value in the smoke test, with its type (an int param must stay an int)."""
    name = spec.estimate.steps_param
    value = spec.smoke.params.get(name, spec.params.get(name)) if name else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _timing(spec: ExperimentSpec, result: SmokeResult, warnings: list[str]) -> Timed:
    """Time per step and start-up: from the job's own step metrics, else from the timing run (kept in
    the smoke record, so a cached test gives the same). A failed timing run is reported, not swallowed."""
    if not result.ok:
        return None, "the smoke test failed"
    # the job's step metrics count steps, not epochs: a time per step x the epochs would be far too low
    fitted = None if counts_epochs(spec) else fit_points([(p[0], p[1]) for p in result.step_points])
    if fitted is not None:
        return fitted, ""
    n1 = _smoke_steps(spec)
    run2 = result.timing_run
    if not spec.estimate.steps_param or n1 is None:
        return None, ""  # the estimate says why (no steps_param, or not a number)
    if run2 is None:
        return None, "fewer than two step points"
    if not run2.get("ok"):
        how = "timed out" if run2.get("timed_out") else f"exited with code {run2.get('returncode')}"
        source = f" (cached from run {result.cached_from})" if result.cached else ""
        lines = str(run2.get("stderr_tail") or "").splitlines()
        tail = "\n".join("  " + line for line in lines) or "  (empty)"
        warnings.append(
            f"the timing run ({run2.get('param')}={run2.get('steps')}){source} {how}, so there is no "
            f"wall-time estimate; {run2.get('stderr_path')} ends with:\n{tail}"
        )
        return None, "timing run failed"
    timing = two_runs(float(n1), result.seconds, float(run2["steps"]), float(run2["seconds"]))
    return timing, "" if timing is not None else "the timing run had as many steps as the smoke test"


def _run_smoke_in(
    run: Run,
    spec: ExperimentSpec,
    plan: SubmissionPlan,
    folder: str,
    params: dict[str, Any],
    notify: Notify,
    label: str,
) -> SmokeResult:
    workdir = run.path / folder
    workdir.mkdir()
    smoke_spec = spec.model_copy(update={"smoke": spec.smoke.model_copy(update={"params": params})})
    links = run.load_manifest().workdir_links
    text, _argv = command_script(smoke_spec, run, plan.snapshot, plan.git, workdir, smoke=True, links=links)
    write_script(workdir / "command.sh", text)
    if smoke_spec.config_file is not None:  # its own copy of the settings file, the smoke params in it
        copy = workdir / config_copy.name(smoke_spec)
        copy.parent.mkdir()
        write_text_atomic(copy, config_copy.render(smoke_spec, plan.snapshot.path, str(workdir), smoke=True))
    try:  # here, not in command.sh: no interpreter start-up in the smoke test's time
        workdirs.materialise(plan.snapshot.path, workdir / WORKDIR, links)
    except workdirs.WorkdirError as exc:
        raise ClusterrunError(str(exc), hint="submit again: the snapshot is rebuilt") from None
    run.event("smoke_started", timeout=spec.smoke.timeout, folder=folder)
    from clusterrun.execution.smoke import run_smoke  # here: it brings psutil, for a test that runs

    data_before = _stamps(links)
    with activity(notify, label, [workdir / "stdout.log", workdir / "stderr.log"]):
        result = run_smoke(
            smoke_script(workdir / "command.sh", spec.resources.model_dump()),  # ranks: a local world
            workdir,
            spec.smoke.timeout,
            workdir / spec.metrics.file,
            spec.estimate.step_metric,
        )
    run.event(
        "smoke_ended", ok=result.ok, seconds=result.seconds, returncode=result.returncode, folder=folder
    )
    created = _untaint(run, plan, workdir / WORKDIR, links)
    _wrote_into_data(plan, links, data_before)
    # the summary module (and the diagnosis rules under it) only once a smoke test ran: a submit whose
    # smoke test passed before for the same code and config does without them (~15 ms of its start-up)
    from clusterrun.records.summary import caught_error

    caught = caught_error(Path(result.stderr_path)) if result.ok else ""
    if caught and not any(caught in w for w in plan.warnings):  # once, not again for the timing run
        plan.warnings.append(
            f"the smoke test exited 0, but its stderr shows an error it caught: {caught}; every run "
            f"would end the same way (see {result.stderr_path})"
        )
    if result.leftover:
        plan.warnings.append(
            f"the smoke test's command left {len(result.leftover)} process(es) running when it exited "
            f"({'; '.join(one_line(c, 80) for c in result.leftover[:2])}): a job's end stops them, as "
            "clusterrun did here; stop what the script starts before it exits (terminate() and wait() it)"
        )
    _metrics_in_workdir(plan, spec.metrics.file, workdir)
    _metrics_table_written(plan, spec.metrics.file, workdir, created, list(spec.metrics.patterns))
    if not spec.metrics.patterns:
        _metrics_printed(plan, spec.metrics.file, workdir)
    return result


def _stamps(links: dict[str, str]) -> dict[str, tuple[int, int] | None]:
    """What changes when a file is written in a linked data: directory (or a linked file rewritten): its
    mtime and size, one stat per data: path."""
    out: dict[str, tuple[int, int] | None] = {}
    for name, target in links.items():
        try:
            info = os.stat(target)
            out[name] = (info.st_mtime_ns, info.st_size)
        except OSError:
            out[name] = None
    return out


def _wrote_into_data(plan: SubmissionPlan, links: dict[str, str], before: dict[str, Any]) -> None:
    """A smoke test that created, removed or rewrote something in a data: path: what every run shares
    (and the checkout holds) is where it writes, so runs overwrite each other's files there."""
    changed = [
        name for name, stamp in _stamps(links).items() if stamp is not None and stamp != before.get(name)
    ]
    if not changed:
        return
    shown = ", ".join(f"data.{name} ({links[name]})" for name in changed)
    message = (
        f"the smoke test wrote into {shown}: a data: path is linked into every run's working directory, so "
        "each run writes into the same one and overwrites the others' files; if the script writes its "
        "outputs there, leave it out of data: and give the script a relative path (each run's own)"
    )
    if message not in plan.warnings:
        plan.warnings.append(message)


def _metrics_printed(plan: SubmissionPlan, metrics_file: str, folder: Path) -> None:
    """A command that prints its metrics as JSON (or dict) lines on stdout and writes no metrics file:
    without metrics.patterns they would never be read. Said with overrides that read them."""
    for path in (folder / metrics_file, folder / WORKDIR / metrics_file):
        if path.is_file() and path.stat().st_size > 0:
            return
    names = printed_names(log_tail(folder / "stdout.log", 1024 * 1024))
    if not names:
        return
    timing = set(timing_names(names))  # (eval_runtime, samples_per_second: times, last)
    names.sort(key=lambda n: (n in COUNTERS, n in timing))  # the metrics first, then the counters (stable)
    shown = [shlex.quote(f"metrics.patterns.{n}={printed_pattern(n)}") for n in names[:2]]
    message = (
        f"the smoke test printed metrics on stdout ({', '.join(names[:6])}), which are not read without "
        f"metrics.patterns: add {' '.join(shown)} (one per metric), or write them as JSON lines to "
        "$CLUSTERRUN_METRICS_FILE"
    )
    plan.warnings.append(message)


def _metrics_in_workdir(plan: SubmissionPlan, metrics_file: str, folder: Path) -> None:
    """A command that writes its metrics file relative to its working directory (work/metrics.jsonl)
    instead of to $CLUSTERRUN_METRICS_FILE: its metrics would never be read. Said with the fix."""
    if (folder / metrics_file).exists() or not (folder / WORKDIR / metrics_file).is_file():
        return
    message = (
        f"the smoke test wrote {metrics_file} in its working directory ({WORKDIR}/{metrics_file}), but "
        f"metrics are read from the run directory: set metrics.file: {WORKDIR}/{metrics_file}, or write "
        "to $CLUSTERRUN_METRICS_FILE"
    )
    plan.warnings.append(message)


def _untaint(run: Run, plan: SubmissionPlan, work: Path, links: dict[str, str]) -> list[str]:
    """A smoke test that rewrote tracked files in place changed the shared snapshot through its hard
    links: say so, and rebuild the snapshot before any job is made from it. Returns the files the test
    created in its working directory (relative to it)."""
    found = workdirs.check(work, links)
    created = [path for path, _size in found.artifacts]
    changed = found.modified_in_place
    if not changed:
        return created
    shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
    workdirs.mark_tainted(plan.snapshot.path, changed, f"the smoke test of {run.id}")
    run.event("snapshot_tainted", files=changed[:50], by="smoke")
    snapshot.create(Path(plan.git.root), plan.git.commit, plan.git.patch, plan.snapshot.path.parent.parent)
    message = (
        f"the smoke test rewrote tracked file(s) in place: {shown}; the snapshot was rebuilt, but the job "
        "will do the same to its copy: write outputs to new files (e.g. under $CLUSTERRUN_ARTIFACTS_DIR)"
    )
    plan.warnings.append(message)
    return created


def _metrics_table_written(
    plan: SubmissionPlan, metrics_file: str, folder: Path, created: list[str], patterns: Sequence[str] = ()
) -> None:
    """A command that logs its metrics to a table of its own (Lightning's and Keras' CSVLogger, a
    csv.DictWriter: out/metrics.csv) and writes no metrics file: the table is read as the run's metrics
    once metrics.file names it (analysis/rowformat.py). Said with the setting, for the first such table."""
    written = folder / metrics_file
    if (written.is_file() and written.stat().st_size > 0) or written.is_dir():  # (a folder: event files)
        return
    # (one that holds only what the patterns read, printed too, is read so already)
    rel, names, header = unread_metrics_file(created, lambda rel: folder / WORKDIR / rel, patterns)
    if not rel:
        return
    timing = timing_names(header)
    also = f", and metrics.ignore: [{', '.join(timing)}] (times differ between identical runs)"
    kind = metrics_file_kind(rel, folder / WORKDIR / rel)
    message = (
        f"the smoke test wrote {kind}, {rel} ({', '.join(names[:4])}), which is not read "
        f"as the run's metrics: set metrics.file: {WORKDIR}/{rel} to read it (final and best "
        f"values, curves, compare){also if timing else ''}"
    )
    if message not in plan.warnings:  # once, not again for the timing run
        plan.warnings.append(message)


def _diagnosis(result: SmokeResult, spec: ExperimentSpec, root: str, run_id: str) -> Diagnosis:
    """A failed smoke test's diagnosis: the summary module (and its rules) is imported only then."""
    from clusterrun.records.summary import smoke_diagnosis

    return smoke_diagnosis(result, spec, root, run_id)
