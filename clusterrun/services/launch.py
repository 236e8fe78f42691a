"""Hand a prepared submission to the scheduler: members grouped into as few job arrays as their resources
allow, split past the cluster's MaxArraySize; job ids reach the manifests (and the sweep's record).
Also the two ways a prepared submission ends without the scheduler: a dry run, and a declined gate."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

from clusterrun.errors import ClusterrunError, DiskFull, SchedulerError
from clusterrun.execution.entry import run_job
from clusterrun.records import index as registry_index
from clusterrun.records import store
from clusterrun.records.models import Confirmation, Manifest
from clusterrun.records.registry import Run
from clusterrun.records.store import Members, Stamp
from clusterrun.records.writer import SharedFiles, SubmissionManifests, write_script
from clusterrun.scheduler.base import PartialSubmission, Submitted, SubmitTimeout
from clusterrun.services import Notify, counting, job_identity, nogc, quiet
from clusterrun.services.fanout import fanout_map
from clusterrun.services.prepare import MemberRun, Prepared


def _max_array_size(prepared: Prepared) -> int | None:
    if prepared.plan.profile.max_array_size:
        return prepared.plan.profile.max_array_size
    if len(prepared.members) == 1:
        return None
    return prepared.scheduler.limits().max_array_size  # None: unknown; the scheduler refuses if too long


def _groups(members: list[MemberRun]) -> list[list[MemberRun]]:
    """Members whose jobs differ only in their run: one array each group."""
    groups: dict[tuple[Any, ...], list[MemberRun]] = {}
    for member_run in members:
        job = member_run.job
        shape = (
            job.folder,
            job.chdir,
            job.time_seconds,
            job.mem_mb,
            job.nodes,
            job.cpus_per_task,
            job.gpus,
            job.partition,
            job.account,
            job.qos,
            job.setup,
            job.job_name,
            job.comment,
            job.tasks_per_node,
            job.gpus_per_task,
            job.gpu_type,
            job.constraint,
            job.exclusive,
            job.reservation,
            job.dependency,
            job.mail_type,
            job.mail_user,
            job.extra,
            job.launcher,
            job.requeue,
            job.signal_grace,
        )
        groups.setdefault(shape, []).append(member_run)
    return list(groups.values())


def _data(confirmation: Confirmation | None) -> dict[str, Any] | None:
    return confirmation.to_data() if confirmation is not None else None


def launch(
    prepared: Prepared, confirmation: Confirmation | None = None, notify: Notify = quiet
) -> list[Manifest]:
    """Submit every member (arrays where possible); job ids reach the manifests (`notify` sees a bar
    while a big sweep's are recorded). Returns the manifests."""
    if prepared.smoke_failed:
        raise ClusterrunError("the smoke test failed; nothing was submitted")
    with nogc.paused():  # a record per member: no collections walking them meanwhile (nogc.py)
        return _launch(prepared, confirmation, notify)


def _launch(prepared: Prepared, confirmation: Confirmation | None, notify: Notify) -> list[Manifest]:
    # 'orphan' records first: a crash between submission and the next write is visible and recoverable
    # (members prepare made after the gate's approval was known are submitting already: left as they are)
    confirmed = _data(confirmation)
    waiting = [m for m in prepared.members if m.manifest.state != "submitting"]
    updated = prepared.manifests.update_many(
        [(m.run, {"confirmation": confirmed}) for m in waiting], state="submitting"
    )
    for member_run, manifest in zip(waiting, updated, strict=True):
        member_run.manifest = manifest
    parallelism = prepared.plan.parallelism
    max_size = _max_array_size(prepared)
    arrays: list[dict[str, Any]] = []
    manifests: list[Manifest] = []
    accepted: list[str] = []  # the scheduler's job ids, as soon as it answers: before any write
    scripts = SharedFiles()
    try:
        for group in _groups(prepared.members):
            prepared.scheduler_asked = True
            try:
                submitted = prepared.scheduler.submit_array(
                    [m.job for m in group], run_job, parallelism, max_size
                )
                accepted += dict.fromkeys(s.array_id or s.job_id for s in submitted)
            except PartialSubmission as exc:  # a later sbatch of a split group failed
                accepted += dict.fromkeys(s.array_id or s.job_id for s in exc.submitted)
                _record(prepared, group, exc.submitted, arrays, manifests, scripts, notify)
                _not_sent(prepared, group[len(exc.submitted) :], exc.cause)
                raise _partial(prepared, arrays, exc.cause) from None
            except SchedulerError as exc:
                _not_sent(prepared, group, exc)
                if arrays:  # an earlier group's arrays went through
                    raise _partial(prepared, arrays, exc) from None
                raise
            _record(prepared, group, submitted, arrays, manifests, scripts, notify)
            if prepared.sweep_run is not None and len(arrays) < len(prepared.members):
                # every array in sweep.json as soon as it is accepted (a later failure keeps them)
                store.update_sweep(prepared.sweep_run.path, arrays=arrays, submissions=len(arrays))
    except BaseException as exc:  # Ctrl-C, a refusal, a timeout: the arrays that went through are recorded
        if prepared.sweep_run is not None and arrays:
            with contextlib.suppress(DiskFull):  # the members' own records hold their job ids already
                store.update_sweep(
                    prepared.sweep_run.path, state="partial", arrays=arrays, submissions=len(arrays)
                )
        if isinstance(exc, DiskFull) and prepared.scheduler_asked:
            raise _full_after_submission(prepared, accepted, exc) from None
        raise
    if prepared.sweep_run is not None:
        store.update_sweep(
            prepared.sweep_run.path,
            state="submitted",
            arrays=arrays,
            submissions=len(arrays),
            max_array_size=max_size,
            confirmation=_data(confirmation),
        )
        write_script(
            prepared.sweep_run.file("sbatch.sh"), prepared.members[0].run.file("sbatch.sh").read_text()
        )
    # the index learns the submission's runs from the manifests written, instead of reading them all again
    registry_index.note_written(prepared.members[0].run.path.parent, prepared.manifests.written())
    return manifests


def _record(
    prepared: Prepared,
    group: list[MemberRun],
    submitted: list[Submitted],
    arrays: list[dict[str, Any]],
    manifests: list[Manifest],
    scripts: SharedFiles,
    notify: Notify = quiet,
) -> None:
    """Job ids into the manifests of the members that went through (group order), arrays into `arrays`,
    then each member's sbatch.sh: the ids first, so that a write that fails after the scheduler accepted
    the jobs (a full disk) leaves no accepted job untracked."""
    sent = group[: len(submitted)]
    updates = [
        (
            member_run.run,
            # job ids are reused: which job it is
            {"job_id": sub.job_id, "scheduler_folder": member_run.job.folder, **job_identity.recorded(sub)},
        )
        for member_run, sub in zip(sent, submitted, strict=True)
    ]
    with counting(notify, f"recording {len(updates):,} job ids", len(updates)) as step:
        # spread over the machine's cores (each member has its own lock: made by this submission)
        record = partial(_record_one, prepared.manifests)
        done = fanout_map(record, updates, step)
    for member_run, (manifest, entry) in zip(sent, done, strict=True):
        prepared.manifests.take(member_run.run, entry)
        member_run.manifest = manifest
        manifests.append(manifest)
    for array_id in dict.fromkeys(s.array_id or s.job_id for s in submitted):
        # task i of the array runs members[i]: the member a job id <array>_<i> belongs to
        runs = [
            m.run.id for m, s in zip(sent, submitted, strict=True) if (s.array_id or s.job_id) == array_id
        ]
        arrays.append({"job_id": array_id, "size": len(runs), "members": runs})
    for member_run, sub in zip(sent, submitted, strict=True):
        # an array's members share its script: written once, linked into the others' directories
        sbatch = member_run.run.file("sbatch.sh")
        scripts.write(sbatch, partial(write_script, text=sub.script), key=sub.script)


def _record_one(
    manifests: SubmissionManifests, update: tuple[Run, dict[str, Any]]
) -> tuple[Manifest, tuple[Stamp, Manifest, Members | None] | None]:
    """One member's job id recorded (submitted), in this process or a forked worker (fanout_map)."""
    run, fields = update
    return manifests.update_apart(run, "submitted", "", fields)


def _full_after_submission(prepared: Prepared, accepted: list[str], exc: DiskFull) -> DiskFull:
    """The disk filled up once the scheduler had been asked: jobs may run (the ids it answered reach the
    members' manifests before anything else is written); the error names the file, the hint the jobs."""
    target = prepared.sweep_run.id if prepared.sweep_run is not None else prepared.members[0].run.id
    went = f"job(s) {', '.join(accepted)} went through and run" if accepted else "a job may have gone through"
    return DiskFull(
        exc.filename,
        hint=f"{went}: see 'clusterrun status {target}'; free space on that filesystem (see 'df -h' and "
        "'clusterrun gc') before they write their results",
    )


def _not_sent(prepared: Prepared, members: list[MemberRun], exc: SchedulerError) -> None:
    """Members whose sbatch failed: submit_failed, unless sbatch only did not answer (then the job may
    exist: they stay 'submitting', and `status` adopts the job if the controller created it)."""
    for member_run in members:
        if isinstance(exc, SubmitTimeout):
            member_run.run.event("submit_timeout", note=exc.message)
        else:
            prepared.manifests.update(member_run.run, state="submit_failed", note=exc.message)


def _partial(prepared: Prepared, arrays: list[dict[str, Any]], cause: SchedulerError) -> SchedulerError:
    """A submission that went through in part: the error names the ids that went through."""
    ids = ", ".join(f"{a['job_id']} ({a['size']})" for a in arrays)
    target = prepared.sweep_run.id if prepared.sweep_run is not None else prepared.members[0].run.id
    members = sum(int(a["size"]) for a in arrays)
    return SchedulerError(
        f"{target} was submitted in part: {members} of {len(prepared.members)} member(s) went through as "
        f"job(s) {ids}; the rest: {cause.message}",
        hint=f"the submitted members run; see 'clusterrun status {target}' "
        + (
            "(the rest may still be adopted: sbatch did not answer)"
            if isinstance(cause, SubmitTimeout)
            else ""
        )
        + (f"; {cause.hint}" if cause.hint and not isinstance(cause, SubmitTimeout) else ""),
    )


def decline(prepared: Prepared, confirmation: Confirmation) -> None:
    """Record that the user (or the lack of a terminal) declined the submission at the cost gate."""
    confirmed = _data(confirmation)
    for member_run in prepared.members:
        prepared.manifests.update(
            member_run.run, state="not_submitted", note="declined at the cost gate", confirmation=confirmed
        )
    if prepared.sweep_run is not None:
        store.update_sweep(prepared.sweep_run.path, state="not_submitted", confirmation=_data(confirmation))


def mark_dry_run(prepared: Prepared) -> Manifest:
    for member_run in prepared.members:
        write_script(member_run.run.file("sbatch.sh"), prepared.scheduler.render(member_run.job))
        member_run.manifest = prepared.manifests.update(member_run.run, state="dry_run")
    return prepared.manifest
