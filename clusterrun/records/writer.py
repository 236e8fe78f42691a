"""Write the files of a new run directory: config.yaml, command.sh, env.json, git.patch, and its first
manifest.json (a Manifest, written by records/store.py like every JSON record)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterrun import __version__
from clusterrun.config.models import ExperimentSpec
from clusterrun.config.redact import redact_data
from clusterrun.config.render import render_command, render_env
from clusterrun.execution import envinfo, envprobe
from clusterrun.execution.templates import render_template
from clusterrun.inputs.gitstate import GitState
from clusterrun.inputs.snapshot import Snapshot
from clusterrun.inputs.workdir import NAME as WORKDIR
from clusterrun.portable import process_identity
from clusterrun.records import perms
from clusterrun.records.jsonio import write_json_atomic, write_text_atomic
from clusterrun.records.models import SCHEMA_VERSION, Manifest, require_fields
from clusterrun.records.registry import Run, now_iso

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML was built with it


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
    own working directory (made from the snapshot when missing); `links` are untracked data paths
    (relative path -> absolute path in the checkout) that appear in it as symlinks."""
    argv = render_command(spec, str(output_dir), smoke=smoke)
    text = render_template(
        "command.sh.j2",
        run_id=run.id,
        smoke=smoke,
        script_path=str(output_dir / "command.sh"),
        snapshot_id=snapshot.id,
        snapshot_path=str(snapshot.path),
        workdir=str(output_dir / WORKDIR),
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
        probe="" if smoke else str(Path(envprobe.__file__).resolve()),
        interpreter=_interpreter(argv),
        argv=argv,
    )
    return text, argv


def _interpreter(argv: list[str]) -> str:
    """The Python the command runs (its argv[0] when that is a python), else the one on PATH after setup."""
    if argv and Path(argv[0]).name.startswith("python"):
        return shlex.quote(argv[0])
    return '"$(command -v python || command -v python3)"'


def write_script(path: Path, text: str) -> None:
    """An executable script: 0700 in a private registry, 0770 in a shared one (jsonio.file_mode)."""
    write_text_atomic(path, text, executable=True)


@dataclass
class SharedFiles:
    """Files alike in every member of one submission (env.json, git.patch): the first member's is written,
    the others get a hard link to it, so each member stays a complete run directory that readers open as
    before, at the cost of one link instead of an encode, a temporary file and a rename. Records are never
    rewritten in place (jsonio replaces by rename), so a linked file never changes under another run."""

    first: dict[str, Path] = field(default_factory=dict)  # key (the file name) -> the path written

    def write(self, path: Path, write: Callable[[Path], None], key: str | None = None) -> None:
        """`write(path)`, or a link to the file written first under the same `key` (default: its name;
        give the content when members may differ, e.g. the scripts of two job arrays)."""
        key = path.name if key is None else key
        source = self.first.get(key)
        if source is not None:
            try:
                os.link(source, path)
                return
            except OSError:  # another filesystem, too many links, no hard links at all: written
                pass
        write(path)
        self.first[key] = path


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
) -> Manifest:
    """Everything a run is, on disk before anything runs. Returns the manifest. `data_fingerprints`:
    datafp.fingerprints of the config's data: paths; `snapshot_notes`: snapshot.snapshot_notes;
    `shared`: the files every member of one submission has alike (env.json, git.patch), written once."""
    shared = shared if shared is not None else SharedFiles()
    patch_file = None
    if git.dirty:
        patch_file = "git.patch"
        shared.write(run.file(patch_file), lambda path: write_text_atomic(path, git.patch))
    resolved = spec.resolved()
    # the config refused secrets already (config/redact.py); redacted all the same, as every record is
    config_text = yaml.dump(redact_data(resolved), Dumper=_DUMPER, sort_keys=True)
    write_text_atomic(run.file("config.yaml"), config_text)
    script, job_argv = command_script(spec, run, snapshot, git, run.path, smoke=False, links=links)
    write_script(run.file("command.sh"), script)
    env_data = env if env is not None else envinfo.capture(tuple(spec.env))
    shared.write(run.file("env.json"), lambda path: write_json_atomic(path, env_data))
    perms.make_dir(run.path / "artifacts")
    created = now_iso()
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
        "submitter": process_identity(),
        "state": "created",
        "state_history": [{"state": "created", "at": created}],
    }
    require_fields(Manifest, extra or {}, "write_initial")
    manifest = Manifest.model_validate(data | (extra or {}))
    run.write_manifest(manifest)
    run.event("created", config_hash=manifest.config_hash, snapshot=snapshot.id, commit=git.commit)
    return manifest
