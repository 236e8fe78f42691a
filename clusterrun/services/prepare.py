"""From a SubmissionPlan to a submission ready to launch: run directories with their records, the jobs
rendered, the smoke tests run, the estimate and the cost gate's verdict. Nothing reaches the scheduler."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clusterrun.analysis.estimate import Estimate, GateDecision, combine, estimate, gate
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.render import render_command
from clusterrun.config.requeue import signal_lead
from clusterrun.diagnose.model import Diagnosis
from clusterrun.errors import ClusterrunError, DiskFull
from clusterrun.execution import envinfo
from clusterrun.execution.smoke_record import SmokeResult
from clusterrun.inputs import datafp, snapshot, unseeded
from clusterrun.records import memberfiles, store
from clusterrun.records.jsonio import no_space
from clusterrun.records.models import SCHEMA_VERSION, Confirmation, Manifest, SweepRecord, require_fields
from clusterrun.records.registry import Registry, Run, base_id, now_iso, suffixed
from clusterrun.records.writer import (
    SharedFiles,
    SubmissionManifests,
    run_texts,
    write_initial,
    write_script,
)
from clusterrun.scheduler import JobSpec, Scheduler, get_scheduler
from clusterrun.scheduler.naming import job_comment
from clusterrun.services import Notify, Step, counting, nogc, quiet
from clusterrun.services.fanout import fanout_map
from clusterrun.services.job_request import check_request, job_resources
from clusterrun.services.past_runs import last_completed
from clusterrun.services.plan import MemberPlan, SubmissionPlan, SubmitRequest, plan
from clusterrun.services.smoke_tests import SmokeTests, shape_key, smoke_shapes


@dataclass
class MemberRun:
    run: Run
    plan: MemberPlan
    job: JobSpec
    manifest: Manifest


@dataclass
class Prepared:
    """Runs on disk, smoke-tested (or not), estimated, ready to submit."""

    plan: SubmissionPlan
    members: list[MemberRun]
    scheduler: Scheduler
    script: str
    smoke: SmokeResult | None  # the failing smoke test, else the first one
    smoke_run: Run | None  # the run whose directory holds that smoke test's logs
    estimate: Estimate
    gate: GateDecision
    sweep_run: Run | None
    warnings: list[str]
    smoke_diagnosis: Diagnosis | None = None  # of the failing smoke test
    manifests: SubmissionManifests = field(default_factory=SubmissionManifests)  # as written, for updates
    #: launch set it just before the scheduler was first asked: from then on a job may exist for the runs
    scheduler_asked: bool = False

    @property
    def run(self) -> Run:
        return self.members[0].run

    @property
    def manifest(self) -> Manifest:
        return self.members[0].manifest

    @property
    def smoke_failed(self) -> bool:
        return self.smoke is not None and not self.smoke.ok

    def sweep_record(self) -> SweepRecord:
        assert self.sweep_run is not None
        return store.read_sweep(self.sweep_run.path)


def _job_spec(
    run: Run, spec: ExperimentSpec, workdir: str, folder: Path, owner: str, dependency: str | None = None
) -> JobSpec:
    """The job of one run; `owner` (the run's id, or its sweep's: one array) names it in the scheduler."""
    res = spec.resources
    return JobSpec(
        run_dir=str(run.path),
        folder=str(folder),
        job_name=owner,
        comment=job_comment(owner),
        chdir=workdir,
        setup=tuple(spec.setup),
        dependency=dependency,
        requeue=spec.requeue.enabled,
        signal_grace=signal_lead(spec.requeue.signal_grace, res.time_seconds),
        **job_resources(res),
    )


def prepare(request: SubmitRequest, registry: Registry, notify: Notify = quiet) -> Prepared:
    """Everything before submission. Raises ClusterrunError for bad input; records a smoke failure."""
    with nogc.paused():  # a sweep's members' specs, then their records (nogc.py)
        return prepare_plan(plan(request, registry), registry, notify, submitting=not request.dry_run)


def prepare_plan(
    plan: SubmissionPlan, registry: Registry, notify: Notify = quiet, submitting: bool = False
) -> Prepared:
    """Create the run directories, write their records, render the jobs, smoke-test each shape once.
    No room left to write (DiskFull, exit 3): the directories made so far are removed, nothing stays
    half-made (nothing has reached the scheduler yet).

    `submitting`: the submission goes on to the scheduler unless the cost gate stops it (no dry run).
    When the smoke tests passed and the gate needs nobody's confirmation, the members made after the
    tests are written once, already `submitting` (with the gate's approval), as launch would make them:
    launch then leaves them as they are."""
    first = len(registry.created)
    try:
        with nogc.paused():  # thousands of records' objects: no collections walking them meanwhile
            return _prepare_plan(plan, registry, notify, submitting)
    except OSError as exc:
        if not no_space(exc):
            raise
        registry.discard(registry.created[first:])
        if isinstance(exc, DiskFull):
            raise
        raise DiskFull(exc.filename or registry.root) from None


def _prepare_plan(plan: SubmissionPlan, registry: Registry, notify: Notify, submitting: bool) -> Prepared:
    # the request against the cluster, and the runs it waits for: before anything is created or run
    dependencies = check_request(plan, get_scheduler(plan.backend), registry)
    env = envinfo.capture(tuple(sorted({k for m in plan.members for k in m.spec.env})))

    def preparing(path: Path, sweep_id: str) -> None:  # a submit killed at any moment leaves a marked sweep
        store.write_sweep(
            path,
            SweepRecord(
                sweep_id=sweep_id,
                name=plan.name,
                created=now_iso(),
                argv=plan.argv,
                config_file=plan.config_file,
                overrides=plan.overrides,
                backend=plan.backend,
                state="preparing",
            ),
        )

    # one time in every id of the submission: the sweep's, and its members' (made before and after the
    # smoke test), so that `ls runs/` shows them together
    when = datetime.now()
    sweep_run = registry.create_sweep(plan.name, when, record=preparing) if plan.is_sweep else None
    scheduler = get_scheduler(plan.backend)
    tokens = list(
        dict.fromkeys(
            t for m in plan.members for t in render_command(m.spec, str(registry.root), smoke=False)
        )
    )
    records = _Records(plan, registry, sweep_run, env, _snapshot_notes(plan, tokens), when)
    records.lean = submitting and sweep_run is not None
    # The first member of each command shape is made first: its smoke test runs in its directory. The
    # others are made once the tests have ended, each with one write of its records (created, then the
    # state its shape's test gave it, with the smoke record and estimate) instead of two.
    leads = _shape_leads(plan)
    made: dict[int, MemberRun] = {}
    for position in dict.fromkeys(leads):
        made[position] = records.make(position, dependencies[position])
    script = scheduler.render(made[0].job)
    write_script(made[0].run.file("sbatch.sh"), script)  # the others get theirs when submitted
    warnings = list(plan.warnings) + records.notes
    # said before anything runs: it will not reproduce (read where the command runs: its cwd)
    found = unseeded.find(plan.snapshot.path / plan.members[0].spec.cwd, tokens)
    if found:
        warnings.append(unseeded.summary_line(found))
    tests = smoke_shapes(plan, [(m.run, m.plan.spec) for m in made.values()], registry, notify, warnings)
    # what the smoke tests found, each once (every shape's test may find the same)
    warnings += [w for w in dict.fromkeys(plan.warnings) if w not in warnings]
    whole = _whole_run(plan, tests.result)
    own_estimates = [
        estimate(
            m.spec,
            tests.timing,
            tests.peak_rss_mb,
            1,
            plan.profile,
            no_timing=tests.no_timing,
            whole_run=whole,
        )
        for m in plan.members
    ]
    _from_past_runs(plan, registry, own_estimates, tests)
    est = combine(own_estimates)
    enforced = get_scheduler(plan.backend).enforces_memory
    decision = gate(est, plan.members[0].spec, plan.profile, mem_enforced=enforced)
    warnings += est.warnings
    approved = None  # the gate's approval, when known now (launch: members already submitting are left)
    if submitting and not decision.needs_confirmation and (tests.result is None or tests.result.ok):
        approved = _below_thresholds(decision)
    wanted: list[_Wanted] = []
    for position, own in enumerate(own_estimates):  # one write for smoke and estimate
        state, note, smoke_record = tests.outcomes[made[leads[position]].run.id]
        fields: dict[str, Any] = {"estimate": own.as_record()}
        if smoke_record is not None:
            fields["smoke"] = smoke_record
        member_run = made.get(position)
        if member_run is None:
            states = [(state, note)]
            if approved is not None:
                states.append(("submitting", ""))
                fields["confirmation"] = approved.to_data()
            wanted.append(_Wanted(position, dependencies[position], states, fields))
        else:
            member_run.manifest = records.manifests.update(member_run.run, state=state, note=note, **fields)
    more = " more" if made else ""  # the smoke tests' members were made first
    with counting(notify, f"writing {len(wanted):,}{more} run directories", len(wanted)) as step:
        made.update(records.make_many(wanted, step))
    members = [made[position] for position in range(len(plan.members))]
    if sweep_run is not None:
        _write_sweep_record(sweep_run, plan, members, est)
    return Prepared(
        plan,
        members,
        scheduler,
        script,
        tests.result,
        tests.tested_in,
        est,
        decision,
        sweep_run,
        warnings,
        tests.diagnosis,
        records.manifests,
    )


def _from_past_runs(
    plan: SubmissionPlan, registry: Registry, estimates: list[Estimate], tests: SmokeTests
) -> None:
    """Members whose estimate has no wall time (no timing, no whole run) take the one of the newest run
    that completed with the same config on this backend, when there is one (in place)."""
    unknown = [i for i, own in enumerate(estimates) if own.wall_seconds is None]
    if not unknown:
        return
    hashes = {i: plan.members[i].spec.config_hash() for i in unknown}
    found = last_completed(registry, plan.backend, set(hashes.values()), plan.snapshot.id)
    for i, digest in hashes.items():
        past = found.get(digest)
        if past is not None:
            estimates[i] = estimate(
                plan.members[i].spec,
                None,
                tests.peak_rss_mb,
                1,
                plan.profile,
                past=(past.seconds, past.basis()),
            )


def _whole_run(plan: SubmissionPlan, result: SmokeResult | None) -> float | None:
    """The seconds of a smoke test that was the job itself: a probe (the command as the job runs it, for
    up to its timeout) that ended on its own, with success. One run only: a sweep's members differ."""
    spec = plan.members[0].spec
    if (
        len(plan.members) != 1
        or result is None
        or not spec.smoke.probe
        or spec.smoke.command
        or spec.smoke.params
    ):
        return None
    return result.seconds if result.ok and not result.timed_out else None


def _below_thresholds(decision: GateDecision) -> Confirmation:
    """The cost gate's record when nobody needs to be asked: what services/submit.py's gate records then."""
    return Confirmation(
        required=False,
        reasons=list(decision.reasons),
        at=now_iso(),
        approved=True,
        decision="below the thresholds",
    )


def _shape_leads(plan: SubmissionPlan) -> list[int]:
    """For each member (by position), the first member with its command shape (smoke_tests.shape_key):
    the one whose smoke test it shares. Without smoke tests, the first member leads them all."""
    if plan.skip_smoke_reason is not None:
        return [0] * len(plan.members)
    first: dict[str, int] = {}
    return [
        first.setdefault(shape_key(m.spec, plan.sweep_axes), position)
        for position, m in enumerate(plan.members)
    ]


@dataclass
class _Wanted:
    """A member still to be made: its position, dependency, states and fields (_Records.make)."""

    position: int
    dependency: str | None
    states: list[tuple[str | None, str]]
    fields: dict[str, Any]
    base: str = ""  # its id before the suffix (registry.base_id)
    suffix: int = 0  # the suffix its id is first tried with


@dataclass
class _Records:
    """Makes the run directories of one submission and writes their first records, sharing what the
    members have alike (SharedFiles) and remembering the manifests written (SubmissionManifests)."""

    plan: SubmissionPlan
    registry: Registry
    sweep_run: Run | None
    env: dict[str, Any]
    notes: list[str]
    when: datetime  # the time in the run ids (the submission's)
    shared: SharedFiles = field(default_factory=SharedFiles)  # env.json, git.patch: written once, linked
    manifests: SubmissionManifests = field(default_factory=SubmissionManifests)
    data_cache: dict[str, datafp.Fingerprint] = field(default_factory=dict)  # one per data path
    # a submitted sweep's members made after the smoke tests keep config.yaml and command.sh at the
    # sweep level until their jobs start (records/memberfiles.py); a dry run's are whole, to be read
    lean: bool = False

    def make(
        self,
        position: int,
        dependency: str | None,
        states: Sequence[tuple[str | None, str]] = (),
        fields: dict[str, Any] | None = None,
        first_suffix: int | None = None,
        texts: dict[str, str] | None = None,
    ) -> MemberRun:
        """The member's directory and records (in the last of `states`, with `fields`, when given), and
        its job. `first_suffix`: as Registry.create's; `texts`: write_initial's (its config.yaml and
        command.sh kept by the sweep, records/memberfiles.py)."""
        plan, git, snap, sweep_run = self.plan, self.plan.git, self.plan.snapshot, self.sweep_run
        member = plan.members[position]
        extra = dict(member.extra) | dict(fields or {})
        if sweep_run is not None:
            extra.update(sweep=sweep_run.id, sweep_values=member.values)
        written: list[Manifest] = []

        def write_records(hidden: Path, run_id: str) -> None:
            written.append(
                write_initial(
                    Run(hidden.parent / run_id),
                    member.spec,
                    git,
                    snap,
                    config_file=plan.config_file,
                    overrides=plan.overrides,
                    argv=plan.argv,
                    backend=plan.backend,
                    extra=extra,
                    env=self.env,
                    data_fingerprints=datafp.fingerprints(
                        member.spec.data, Path(git.root), self.data_cache, member.spec.cwd
                    ),
                    snapshot_notes=self.notes,
                    links=self._links(member.spec),
                    shared=self.shared,
                    states=states,
                    into=hidden,
                    texts=texts,
                )
            )

        # the directory is made under a hidden name with every record in it, then renamed into place:
        # a submit killed at any moment leaves a complete run or none, never a bare directory
        run = self.registry.create(
            member.spec.name, self.when, record=write_records, first_suffix=first_suffix
        )
        manifest = written[-1]
        self.manifests.remember(run, manifest, self.shared.members)  # its text too: updates re-encode less
        return self._member(run, position, dependency, manifest)

    def _member(self, run: Run, position: int, dependency: str | None, manifest: Manifest) -> MemberRun:
        member, owner = self.plan.members[position], self.sweep_run or run
        folder = owner.path / "scheduler"
        return MemberRun(
            run, member, _job_spec(run, member.spec, str(folder), folder, owner.id, dependency), manifest
        )

    def make_many(self, wanted: list[_Wanted], step: Step | None = None) -> dict[int, MemberRun]:
        """`make` of each member wanted, by position, spread over the machine's cores (fanout_map: a
        thousand members' records are a few seconds of Python in one process). Each member's id is
        first tried in order of position (the worker of a later share starts further on), so `ls runs/`
        lists the members as one process would have made them; any id taken meanwhile is skipped as
        Registry.create always does. A share redone in this process after its worker failed takes the
        members that worker made (_made_before) instead of making them twice; when making fails here,
        whatever the workers made is removed too (prepare_plan's discard then removes the rest). `step`
        hears how many are made so far."""
        for item in wanted:
            item.base = base_id(self.plan.members[item.position].spec.name, self.when)
        taken: dict[str, int] = {}
        for item in wanted:
            item.suffix = taken.get(item.base, self.registry.next_suffix(item.base))
            taken[item.base] = item.suffix + 1
        self.shared.submitter()  # this process's identity, not a worker's: `status` asks if it still runs
        try:
            made = fanout_map(self._make_apart, wanted, step)
        except BaseException:
            self._discard_made(wanted)
            raise
        out: dict[int, MemberRun] = {}
        kept: dict[str, dict[str, str]] = {}  # the members' config.yaml and command.sh, for the sweep
        mine = self._ids_made()  # made in this process: the others, by the workers, are adopted
        for item, (run_id, manifest, members, texts) in zip(wanted, made, strict=True):
            run = (
                Run(self.registry.root / run_id) if run_id in mine else self.registry.adopt(run_id, item.base)
            )
            self.manifests.remember(run, manifest, members)
            out[item.position] = self._member(run, item.position, item.dependency, manifest)
            if self.lean:
                kept[run_id] = texts if texts is not None else self._texts(item.position, run)
        if kept and self.sweep_run is not None:  # before any job of theirs can start (launch comes after)
            memberfiles.write(self.sweep_run.path, kept)
        return out

    def _texts(self, position: int, run: Run) -> dict[str, str]:
        """A member's config.yaml and command.sh as write_initial renders them (a member a failed worker
        made: its texts went with the worker)."""
        spec, plan = self.plan.members[position].spec, self.plan
        return run_texts(spec, run, plan.snapshot, plan.git, self._links(spec), self.shared)[0]

    def _links(self, spec: ExperimentSpec) -> dict[str, str]:
        """The links made in the member's working copy: the untracked data paths (datafp.workdir_links),
        and the commit's symlinks that leave the repository, pointing where they do from the checkout
        (snapshot.outside_links: in the copy, their relative target would name nothing)."""
        root, snap = Path(self.plan.git.root), self.plan.snapshot
        return {
            **snapshot.outside_links(snap, root),
            **datafp.workdir_links(spec.data, root, snap.path, spec.cwd),
        }

    def _ids_made(self) -> set[str]:
        return {run.id for run in self.registry.created}

    def _make_apart(self, item: _Wanted) -> tuple[str, Manifest, store.Members | None, dict[str, str] | None]:
        """One member made (in a worker or here): its id, manifest and manifest text (for remember), and
        (self.lean) its config.yaml and command.sh, for its sweep to keep (None: made before)."""
        before = self._made_before(item)
        if before is not None:
            return (*before, None)
        texts: dict[str, str] | None = {} if self.lean else None
        made = self.make(item.position, item.dependency, item.states, item.fields, item.suffix, texts)
        return made.run.id, made.manifest, self.shared.members, texts

    def _made_before(self, item: _Wanted) -> tuple[str, Manifest, None] | None:
        """The member as a failed worker made it, when the id it was first tried with holds it: a run of
        this sweep with this member's values."""
        if self.sweep_run is None:
            return None
        run = Run(self.registry.root / suffixed(item.base, item.suffix))
        if not run.manifest_path.is_file():
            return None
        try:
            manifest = run.load_manifest()
        except ClusterrunError:
            return None
        values = self.plan.members[item.position].values
        if manifest.sweep != self.sweep_run.id or _canonical(manifest.sweep_values) != _canonical(values):
            return None
        return run.id, manifest, None

    def _discard_made(self, wanted: list[_Wanted]) -> None:
        """The members of `wanted` made by this submission's workers, removed: making them failed. So are
        the hidden directories of a worker stopped while it made one (`.<id>.<pid>.new`)."""
        mine = self._ids_made()
        for item in wanted:
            found = self._made_before(item)
            if found is not None and found[0] not in mine:
                shutil.rmtree(self.registry.root / found[0], ignore_errors=True)
        intended = {suffixed(item.base, item.suffix) for item in wanted}
        with contextlib.suppress(OSError):
            for name in os.listdir(self.registry.root):
                if name.startswith(".") and name.endswith(".new") and name[1:].rsplit(".", 2)[0] in intended:
                    shutil.rmtree(self.registry.root / name, ignore_errors=True)


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def _snapshot_notes(plan: SubmissionPlan, tokens: list[str]) -> list[str]:
    """What the snapshot lacks that the commands name (LFS pointers, untracked paths): once per submission.
    `tokens`: the words of the members' commands, each once."""
    values = [v for m in plan.members for v in m.spec.data.values()]
    cwd = plan.members[0].spec.cwd
    notes = snapshot.snapshot_notes(plan.snapshot.path, Path(plan.git.root), tokens, values, cwd)
    named = {datafp.relative_path(v, cwd) for v in values if isinstance(v, str)}
    for rel, target in snapshot.outside_links(plan.snapshot, Path(plan.git.root)).items():
        if rel in named:
            continue
        shown = os.path.relpath(rel, cwd)
        notes.append(
            f"{shown} is a symlink in the commit to {target}, outside the repository: each run's copy points "
            f"it there as your checkout does, and what it reads there is not recorded; name it under data: "
            f"(data: {{{datafp.suggest_key(shown)}: {shown}}}) to fingerprint it, so that reproduce can tell "
            "if it changed"
        )
    return notes


def _write_sweep_record(
    sweep_run: Run, plan: SubmissionPlan, members: list[MemberRun], est: Estimate
) -> None:
    sweep = plan.sweep
    require_fields(SweepRecord, plan.sweep_extra, "sweep_extra")
    record = {
        "schema_version": SCHEMA_VERSION,
        "sweep_id": sweep_run.id,
        "name": plan.name,
        "created": now_iso(),
        "argv": plan.argv,
        "config_file": plan.config_file,
        "overrides": plan.overrides,
        "backend": plan.backend,
        "cluster": plan.profile.name,
        "git": plan.git.as_record(None),
        "snapshot": {"id": plan.snapshot.id, "path": str(plan.snapshot.path)},
        "axes": plan.sweep_axes,
        "sweep": sweep.model_dump(mode="json", by_alias=True) if sweep else None,
        "metric": sweep.metric if sweep else None,
        "mode": sweep.mode if sweep else None,  # None: from the metric's name (history.metric_mode)
        "parallelism": plan.parallelism,
        "members": [{"run_id": m.run.id, "values": m.plan.values} for m in members],
        "skipped": plan.skipped,
        "estimate": est.as_record(),
        "arrays": [],
        "state": "prepared",
        **plan.sweep_extra,
    }
    store.write_sweep(sweep_run.path, SweepRecord.model_validate(record))
