"""Write the files of a new run directory: config.yaml, command.sh, env.json, git.patch, and its first
manifest.json (a Manifest, written by records/store.py like every JSON record); and the later updates of
the manifests a submission wrote (SubmissionManifests)."""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterrun import __version__
from clusterrun.config.alike import share_alike, share_model
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.redact import may_need_redaction, redact_data
from clusterrun.config.render import render_command, render_env
from clusterrun.execution import codepath, envinfo, envprobe
from clusterrun.execution.templates import render_template
from clusterrun.inputs.gitstate import GitState
from clusterrun.inputs.snapshot import Snapshot
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.portable import process_identity
from clusterrun.records import config_copy, store
from clusterrun.records.jsonio import create_text, file_mode, write_json_atomic, write_text_atomic
from clusterrun.records.models import SCHEMA_VERSION, Manifest, StateChange, require_fields
from clusterrun.records.registry import Run, apply_update, now_iso
from clusterrun.scheduler.base import SharedStrings

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML was built with it
# made once (json.dumps makes an encoder per call): the line append_jsonl writes, and a cache key
_EVENT_LINE = json.JSONEncoder(sort_keys=True, default=str).encode
_CACHE_KEY = json.JSONEncoder(sort_keys=True, default=repr, separators=(",", ":")).encode


def command_script(
    spec: ExperimentSpec,
    run: Run,
    snapshot: Snapshot,
    git: GitState,
    output_dir: Path,
    smoke: bool,
    links: dict[str, str] | None = None,
) -> tuple[str, list[str]]:
    """The text of command.sh and the argv it executes. It runs in `<output_dir>/work`, the execution's
    own working directory (made from the snapshot when missing), in its folder `spec.cwd`; `links` are
    untracked data paths (path relative to the repository's top -> absolute path in the checkout) that
    appear in it as symlinks."""
    argv = render_command(spec, str(output_dir), smoke=smoke)
    text = render_template(
        "command.sh.j2",
        run_id=run.id,
        smoke=smoke,
        script_path=str(output_dir / "command.sh"),
        snapshot_id=snapshot.id,
        snapshot_path=str(snapshot.path),
        workdir=str(output_dir / WORKDIR),
        cwd=spec.cwd,
        repo_root=git.root,
        python=sys.executable,
        links=dict(sorted((links or {}).items())),
        commit=git.commit,
        dirty=git.dirty,
        output_dir=str(output_dir),
        metrics_file=str(output_dir / spec.metrics.file),
        # several ranks run command.sh (launcher srun): ranks but 0 log to metrics.rank<R>.jsonl
        ranked=spec.resources.world_size > 1 and spec.resources.launcher == "srun",
        rank_metrics=(str((output_dir / spec.metrics.file).with_suffix("")), Path(spec.metrics.file).suffix),
        seed=spec.seed,
        env=render_env(spec, str(output_dir), smoke=smoke),
        setup=spec.setup,
        probe="" if smoke else _probe_path(),
        probe_record=envprobe.RECORD,
        codepath=_codepath_path(),
        interpreter=_interpreter(argv),
        argv=argv,
    )
    return text, argv


@functools.lru_cache(maxsize=1)
def _probe_path() -> str:
    """The environment probe the job runs (execution/envprobe.py), resolved once per process."""
    return str(Path(envprobe.__file__).resolve())


@functools.lru_cache(maxsize=1)
def _codepath_path() -> str:
    """The import-path probe command.sh runs (execution/codepath.py), resolved once per process."""
    return str(Path(codepath.__file__).resolve())


def _interpreter(argv: list[str]) -> str:
    """The Python the command runs (its argv[0] when that is a python), else the one on PATH after setup."""
    if argv and Path(argv[0]).name.startswith("python"):
        return shlex.quote(argv[0])
    return '"$(command -v python || command -v python3)"'


def write_script(path: Path, text: str) -> None:
    """An executable script: 0700 in a private registry, 0770 in a shared one (jsonio.file_mode)."""
    write_text_atomic(path, text, executable=True)


def write_new_file(path: Path, text: str, executable: bool = False, replace: bool = True) -> None:
    """A file of a run directory whose manifest is not written yet (config.yaml, command.sh): created and
    written in place, without the temporary file and rename of write_text_atomic (no reader opens a run's
    files before its manifest exists, and the manifest is written last). An existing file is replaced
    atomically instead (`replace`), else FileExistsError. The mode is the directory's (jsonio.file_mode);
    a full disk is DiskFull."""
    try:
        create_text(path, text, executable=executable)
    except FileExistsError:
        if not replace:
            raise
        write_text_atomic(path, text, executable=executable)


def _create_empty(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))


#: A manifest's fields that the members of one submission usually have alike (SharedFiles.share).
SHARED_FIELDS = (
    "argv",
    "python",
    "config_file",
    "overrides",
    "workdir_links",
    "git",
    "snapshot",
    "snapshot_notes",
    "data_fingerprints",
    "resources",
    "smoke",
    "estimate",
    "confirmation",
    "submitter",
)


@dataclass
class SharedFiles:
    """What is alike in every member of one submission, made once. Files (env.json, git.patch): the first
    member's is written, the others get a hard link to it, so each member stays a complete run directory
    that readers open as before, at the cost of one link instead of an encode, a temporary file and a
    rename. Records are never rewritten in place (jsonio replaces by rename), so a linked file never
    changes under another run. Also the submitting process's identity, and the YAML of the config
    sections members share (config_yaml)."""

    first: dict[str, Path] = field(default_factory=dict)  # key (the file name) -> the path written
    members: store.Members | None = None  # the text of the manifest write_initial wrote last, by member
    identity: dict[str, Any] = field(default_factory=dict)  # process_identity(), once
    yaml_blocks: dict[str, str] = field(default_factory=dict)  # one top-level key's YAML, by its data
    values: dict[str, Any] = field(default_factory=dict)  # a field's value in the last manifest shared
    texts: SharedStrings = field(default_factory=SharedStrings)  # a manifest member's JSON text, once

    def share(self, manifest: Manifest, members: store.Members | None) -> store.Members | None:
        """`manifest` holding, for each field of SHARED_FIELDS equal to the previous member's, that
        member's object, and `members` with each text equal to an earlier one as that one: what the
        members of a sweep have alike (its git state, snapshot, resources, smoke test, estimate...) is
        held once, not once per member, for as long as the submission keeps their manifests (about
        half a member's manifest in memory: 17 KB, 10,000 members kept until their job ids are written).
        Safe because a manifest's values are replaced, never changed in place (Run.update,
        Manifest.__setattr__)."""
        share_alike(manifest.__dict__, self.values, SHARED_FIELDS)
        share_model(manifest.config, self.values.get("config"))  # its sections, one by one
        self.values.update((name, manifest.__dict__.get(name)) for name in (*SHARED_FIELDS, "config"))
        if members is None:
            return None
        return {key: self.texts(text) if key in SHARED_FIELDS else text for key, text in members.items()}

    def write(
        self, path: Path, write: Callable[[Path], None], key: str | None = None, final: Path | None = None
    ) -> None:
        """`write(path)`, or a link to the file written first under the same `key` (default: its name;
        give the content when members may differ, e.g. the scripts of two job arrays). `final`: where
        the file will be once its directory is renamed into place (Registry.create's hidden directory)."""
        key = path.name if key is None else key
        source = self.first.get(key)
        if source is not None:
            try:
                os.link(source, path)
                return
            except OSError:  # another filesystem, too many links, no hard links at all: written
                pass
        write(path)
        self.first[key] = final or path

    def preparing(self, path: Path, run_id: str) -> None:
        """A new run directory's first record (Registry.create's `record`): a manifest in state
        `preparing`, with its submitter, for a run whose other records come later. (submit no longer
        needs it: write_initial writes a run's whole records into its hidden directory; runs left
        `preparing` by earlier versions are still marked interrupted once their submitter is gone.)"""
        at = now_iso()
        manifest = Manifest(
            run_id=run_id,
            name=run_id.rsplit("_", 1)[0],
            created=at,
            state="preparing",
            state_history=[StateChange(state="preparing", at=at)],
            submitter=self.submitter(),
        )
        store.write_manifest(path, manifest)

    def submitter(self) -> dict[str, Any]:
        if not self.identity:
            self.identity = process_identity()
        return dict(self.identity)

    def config_yaml(self, data: dict[str, Any]) -> str:
        """`yaml.dump(redact_data(data), sort_keys=True)` of a resolved config, one top-level key at a time:
        a key's value is redacted and its YAML made once per submission (members differ in a few swept
        values). A block-style mapping's YAML is its keys' blocks one after the other (no anchors: the
        data holds no object twice), so the text is the same as one dump of the whole."""
        if not data or not all(type(key) is str for key in data):
            return yaml.dump(redact_data(data), Dumper=_DUMPER, sort_keys=True)
        blocks = []
        for key in sorted(data):
            value = data[key]
            try:
                cache_key = key + "\0" + _CACHE_KEY(value)
            except (TypeError, ValueError):  # keys json cannot sort: not cached
                return yaml.dump(redact_data(data), Dumper=_DUMPER, sort_keys=True)
            block = self.yaml_blocks.get(cache_key)
            if block is None:  # redact_data of a mapping redacts each value under its key
                block = yaml.dump({key: redact_data(value, key)}, Dumper=_DUMPER, sort_keys=True)
                self.yaml_blocks[cache_key] = block
            blocks.append(block)
        return "".join(blocks)


def write_initial(
    run: Run,
    spec: ExperimentSpec,
    git: GitState,
    snapshot: Snapshot,
    *,
    config_file: str,
    overrides: list[str],
    argv: list[str],
    backend: str,
    extra: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
    data_fingerprints: dict[str, Any] | None = None,
    snapshot_notes: list[str] | None = None,
    shared: SharedFiles | None = None,
    manifests: SubmissionManifests | None = None,
    states: Sequence[tuple[str | None, str]] = (),
    into: Path | None = None,
    texts: dict[str, str] | None = None,
) -> Manifest:
    """Everything a run is, on disk before anything runs. Returns the manifest. `data_fingerprints`:
    datafp.fingerprints of the config's data: paths; `snapshot_notes`: snapshot.snapshot_notes;
    `shared`: what every member of one submission has alike (env.json, git.patch), made once;
    `manifests`: remembers the manifest written (for its later updates); `states` ((state, note)
    pairs): the states the run has already reached after `created` (a sweep member made after its
    shape's smoke test, and the cost gate passed: submitting), in the same write, with their fields in
    `extra`.

    `into`: the directory written, when it is not yet `run.path` (Registry.create's hidden directory,
    renamed to `run.path` once this returns): no reader sees it, so every file, the manifest too, is
    created in place (one file each, no temporary file and rename), and everything in it names
    `run.path`, and its own `.lock` is made with it. (The members of a sweep once shared one lock file,
    linked: it made every process that recorded their ends, over several cores, wait for the others;
    services/fanout.py.) artifacts/ is made by the job.

    `texts` (with `into`: a member of a sweep): config.yaml and command.sh are not written into the
    directory but put in `texts` by name, for the sweep's member files (records/memberfiles.py), from
    which the member's job writes them when it starts."""
    shared = shared if shared is not None else SharedFiles()

    def place(name: str) -> tuple[Path, Path]:  # where a file is written now, and where it will be
        return (into / name, run.path / name) if into is not None else (run.file(name), run.file(name))

    patch_file = None
    if git.dirty:
        patch_file = "git.patch"
        now, final = place(patch_file)
        shared.write(now, lambda path: write_text_atomic(path, git.patch), final=final)
    resolved = spec.resolved()
    mode = file_mode(into) if into is not None else None
    own, job_argv = run_texts(spec, run, snapshot, git, links, shared)
    if into is not None and texts is not None:  # a sweep's member: its files at the sweep level
        texts.update(own)
    elif into is not None:  # a directory nobody reads yet: plain creations
        create_text(into / "config.yaml", own["config.yaml"], mode)
        create_text(into / "command.sh", own["command.sh"], file_mode(into, executable=True))
        for name in _copies(own):
            (into / name).parent.mkdir(exist_ok=True)
            create_text(into / name, own[name], mode)
    else:
        write_new_file(run.file("config.yaml"), own["config.yaml"])
        write_new_file(run.file("command.sh"), own["command.sh"], executable=True)
        for name in _copies(own):
            run.file(name).parent.mkdir(exist_ok=True)
            write_new_file(run.file(name), own[name])
    env_data = env if env is not None else envinfo.capture(tuple(spec.env))
    now, final = place("env.json")
    shared.write(now, lambda path: write_json_atomic(path, env_data), final=final)
    if into is not None:  # its own lock, made with the directory (its first update would make it)
        _create_empty(into / ".lock")
    created = now_iso()
    history: list[dict[str, Any]] = [{"state": "created", "at": created}]
    for state, note in states:
        if state is not None and state != history[-1]["state"]:
            history.append({"state": state, "at": now_iso()} | ({"note": note} if note else {}))
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "clusterrun_version": __version__,
        "run_id": run.id,
        "run_dir": str(run.path),
        "name": spec.name,
        "created": created,
        "argv": argv,
        "python": sys.executable,
        "config_file": config_file,
        "overrides": overrides,
        "config_hash": spec.config_hash(),
        "config": resolved,
        "seed": spec.seed,
        "command": job_argv,
        "command_line": shlex.join(job_argv),
        "workdir": str(run.path / WORKDIR),
        "workdir_links": dict(links or {}),
        "git": git.as_record(patch_file),
        "snapshot": {
            "id": snapshot.id,
            "path": str(snapshot.path),
            "reused": snapshot.reused,
            "digest": snapshot.digest,
        },
        "snapshot_notes": list(snapshot_notes or []),
        "data_fingerprints": dict(data_fingerprints or {}),
        "resources": resolved["resources"],
        "backend": backend,
        "job_id": None,
        "smoke": None,
        "reproduces": None,
        "submitter": shared.submitter(),
        "state": history[-1]["state"],
        "state_history": history,
    }
    require_fields(Manifest, extra or {}, "write_initial")
    manifest = Manifest.model_validate(data | (extra or {}))
    if into is not None:  # remembered (with what this returns) once renamed into place
        shared.members = shared.share(manifest, store.write_manifest(into, manifest, new=True))
    elif manifests is not None:
        manifests.write(run, manifest)
    else:
        run.write_manifest(manifest)
    events: list[dict[str, Any]] = [
        {"at": created, "event": "created", "config_hash": manifest.config_hash, "snapshot": snapshot.id}
    ]
    events[0]["commit"] = git.commit
    for change in history[1:]:  # the events follow the record, as Run.update's do
        events.append(
            {"at": change["at"], "event": "state", "state": change["state"], "note": change.get("note", "")}
        )
    _first_events(run, events, into, mode)
    return manifest


def run_texts(
    spec: ExperimentSpec,
    run: Run,
    snapshot: Snapshot,
    git: GitState,
    links: dict[str, str] | None,
    shared: SharedFiles,
) -> tuple[dict[str, str], list[str]]:
    """A run's config.yaml and command.sh (by name), as write_initial writes them, and the argv command.sh
    executes. The config refused secrets already (config/redact.py); it is redacted all the same, as every
    record is."""
    script, job_argv = command_script(spec, run, snapshot, git, run.path, smoke=False, links=links)
    texts = {"config.yaml": shared.config_yaml(spec.resolved()), "command.sh": script}
    if spec.config_file is not None:  # the run's copy of the project's settings file, its params in it
        texts[config_copy.name(spec)] = config_copy.render(spec, snapshot.path, str(run.path))
    return texts, job_argv


def _copies(texts: dict[str, str]) -> list[str]:
    """The names of run_texts' files beside config.yaml and command.sh (the config_file's copy)."""
    return [name for name in texts if name not in ("config.yaml", "command.sh")]


def _first_events(run: Run, events: list[dict[str, Any]], into: Path | None, mode: int | None) -> None:
    """A new run's first lines of events.jsonl, made with one write (as Run.event would append them)."""
    lines = [_EVENT_LINE(event) for event in events]
    if may_need_redaction("".join(lines)):  # the usual events hold nothing to redact: not walked
        lines = [_EVENT_LINE(redact_data(event)) for event in events]
    if into is not None:
        create_text(into / "events.jsonl", "\n".join(lines) + "\n", mode)
        return
    try:
        write_new_file(run.file("events.jsonl"), "\n".join(lines) + "\n", replace=False)
    except FileExistsError:  # not a new run after all: appended, line by line
        for event in events:
            data = {k: v for k, v in event.items() if k not in ("at", "event")}
            run.event(str(event["event"]), **data)


@dataclass
class SubmissionManifests:
    """The manifests one submission wrote, kept in memory with the identity of the file written
    (store.file_stamp: inode, size, mtime_ns). An update takes the run's lock as Run.update does, and
    re-reads the manifest only when another process replaced it since (`clusterrun cancel`, `status`
    adopting a job): a sweep's member is updated with a lock, a stat and one write, instead of a read, a
    parse and a validation besides.
    Concurrent updates never lose each other's fields."""

    known: dict[Path, tuple[store.Stamp, Manifest, store.Members | None]] = field(default_factory=dict)

    def write(
        self,
        run: Run,
        manifest: Manifest,
        members: store.Members | None = None,
        changed: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Write a run's manifest (a new one, or under its lock) and remember it. With `members` (its text
        as written last, by member) and the fields `changed` since, only those are encoded again
        (store.rewrite_manifest)."""
        self.known.pop(run.path, None)  # forgotten until written: a failed write leaves nothing stale
        written = None
        if members is not None and changed:
            data = manifest.model_dump(mode="python", include=set(changed), exclude_unset=True)
            written = store.rewrite_manifest(run.path, members, data)
        if written is None:
            written = store.write_manifest(run.path, manifest)
        self.remember(run, manifest, written)

    def remember(self, run: Run, manifest: Manifest, members: store.Members | None = None) -> None:
        """Remember the manifest on disk as `manifest` (written by write_initial into a hidden directory,
        since renamed into place: the same file), and its text by member when known."""
        stamp = store.file_stamp(run.manifest_path)
        if stamp is not None:
            self.known[run.path] = (stamp, manifest, members)

    def written(self) -> list[tuple[str, Manifest, tuple[int, int, int]]]:
        """Each manifest this submission wrote last, still as written: (run id, manifest, its file's
        inode, size and mtime_ns), for the registry index (index.note_written)."""
        return [(path.name, manifest, stamp) for path, (stamp, manifest, _members) in self.known.items()]

    def update(self, run: Run, state: str | None = None, note: str = "", **fields: Any) -> Manifest:
        """Run.update, reading the manifest only when it changed since this submission wrote it."""
        return self.update_many([(run, fields)], state, note)[0]

    def update_apart(
        self, run: Run, state: str | None, note: str, fields: dict[str, Any]
    ) -> tuple[Manifest, tuple[store.Stamp, Manifest, store.Members | None] | None]:
        """`update` of one run in a forked worker (services/fanout.py): the manifest, and what this
        submission then remembers of it, for the parent to `take`."""
        manifest = self.update(run, state, note, **fields)
        return manifest, self.known.get(run.path)

    def take(self, run: Run, entry: tuple[store.Stamp, Manifest, store.Members | None] | None) -> None:
        """Remember a manifest a worker wrote (update_apart), as if written here."""
        if entry is not None:
            self.known[run.path] = entry
        else:
            self.known.pop(run.path, None)

    def update_many(
        self,
        updates: Sequence[tuple[Run, dict[str, Any]]],
        state: str | None = None,
        note: str = "",
    ) -> list[Manifest]:
        """`update` of several runs (each with its own fields), in order. Runs whose `.lock` is one file
        (the members of a sweep made by clusterrun before 2026-12-04 share one) are updated under one
        lock, taken once; the others each under their own. The events follow, after the records."""
        for _run, fields in updates:
            require_fields(Manifest, fields, "SubmissionManifests.update")
        out: dict[int, Manifest] = {}
        changed: list[Run] = []
        try:
            for group in _by_lock(updates):
                with group[0][1].locked():
                    for position, run, fields in group:
                        out[position] = self._apply(run, state, note, fields, changed)
        finally:
            for run in changed:  # the event follows the record, never the other way round
                run.event("state", state=state, note=note)
        return [out[position] for position in range(len(updates))]

    def _apply(
        self, run: Run, state: str | None, note: str, fields: dict[str, Any], changed: list[Run]
    ) -> Manifest:
        """One run's update, its lock held: read only when another process replaced the manifest."""
        entry = self.known.pop(run.path, None)
        members = None
        if entry is not None and entry[0] == store.file_stamp(run.manifest_path):
            manifest, members = entry[1], entry[2]
        else:
            manifest = run.load_manifest()
        moved = apply_update(manifest, state, note, fields, "SubmissionManifests.update")
        self.write(run, manifest, members, {*fields, "state", "state_history"} if moved else set(fields))
        if moved:
            changed.append(run)
        return manifest


def _by_lock(updates: Sequence[tuple[Run, dict[str, Any]]]) -> list[list[tuple[int, Run, dict[str, Any]]]]:
    """The updates grouped by the file their run's lock is (its `.lock`'s device and inode; a run
    without one yet is a group of its own: Run.locked makes it), in order within each group."""
    groups: dict[object, list[tuple[int, Run, dict[str, Any]]]] = {}
    for position, (run, fields) in enumerate(updates):
        try:
            info = os.stat(run.path / ".lock", follow_symlinks=False)
            key: object = (info.st_dev, info.st_ino)
        except OSError:
            key = run.path
        groups.setdefault(key, []).append((position, run, fields))
    return list(groups.values())
