"""Two runs side by side: metrics within a tolerance, config, code, data and the environment each job ran
in, with a verdict (REPRODUCED, DIVERGED, DIFFERENT, INCOMPLETE) that never claims more than the records
show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterrun.analysis.compare import REPRODUCED, Comparison
from clusterrun.analysis.compare import compare as compare_records
from clusterrun.errors import ClusterrunError, ExitStatus, UsageError
from clusterrun.execution import envprobe
from clusterrun.inputs import unseeded
from clusterrun.records import outputs
from clusterrun.records import summary as summaries
from clusterrun.records.jsonio import read_json_or_empty
from clusterrun.records.models import Manifest
from clusterrun.records.registry import Registry, Run
from clusterrun.services.referenced import referenced_files
from clusterrun.services.status import refresh


def recorded_patch(run: Run, manifest: Manifest) -> str:
    """The uncommitted changes the run was submitted with ("" for a clean tree)."""
    name = manifest.git.patch_file
    if not name:
        return ""
    try:
        return run.file(name).read_text()
    except OSError:
        raise ClusterrunError(
            f"run {run.id} recorded uncommitted changes but its {name} is missing",
            hint="the record is incomplete; the run cannot be reproduced exactly",
            exit_status=ExitStatus.ENVIRONMENT,
        ) from None


def _json(run: Run, name: str) -> dict[str, Any]:
    return read_json_or_empty(run.file(name))


def run_environment(run: Run) -> dict[str, Any]:
    """The environment the job ran in: python_env.json (the interpreter the command ran after its setup
    lines, and its packages), over job_env.json (the node), over env.json (the submitting machine, for
    runs made before the job recorded its own)."""
    env = _json(run, "env.json")
    job = _json(run, "job_env.json")
    for key in ("host", "platform", "gpus"):
        if key in job:
            env[key] = job[key]
    if "python" in job:
        env["python"] = {**env.get("python", {}), **job["python"]}
    probe = _json(run, envprobe.RECORD)
    if probe.get("python"):
        env["python"] = {**env.get("python", {}), **probe["python"]}
        env["packages"] = probe.get("packages", {})
        if probe.get("gpus"):
            env["gpus"] = probe["gpus"]
        env["environment_source"] = "job"
    return env


def compare_runs(
    registry: Registry, id_a: str, id_b: str, rtol: float = 0.0, atol: float = 0.0
) -> Comparison:
    """The two runs' records as they stand (nothing is polled)."""
    run_a, run_b = registry.get(id_a), registry.get(id_b)
    manifest_a, manifest_b = run_a.load_manifest(), run_b.load_manifest()
    comparison = compare_records(
        manifest_a,
        summaries.load(run_a),
        run_environment(run_a),
        manifest_b,
        summaries.load(run_b),
        run_environment(run_b),
        rtol=rtol,
        atol=atol,
        patch_a=recorded_patch(run_a, manifest_a),
        patch_b=recorded_patch(run_b, manifest_b),
        outputs=outputs.between(
            run_a,
            summaries.output_files(run_a, manifest_a)[0],
            run_b,
            summaries.output_files(run_b, manifest_b)[0],
        ),
    )
    _where_unseeded(comparison, manifest_b)  # the same code in both
    comparison.referenced = referenced_files(
        comparison.config, manifest_a.snapshot.path, manifest_b.snapshot.path, registry.root
    )
    return comparison


def _where_unseeded(comparison: Comparison, manifest: Manifest) -> None:
    """A reproduction that differs with nothing recorded differing: where the code (the same in both
    runs) draws random numbers without a seed, when it can be read from the snapshot."""
    if not comparison.unexplained:
        return
    found = unseeded.find(Path(manifest.snapshot.path) / manifest.config.cwd, manifest.command)
    if found:
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        where = "; ".join(str(u) for u in found[:3]) + more
        comparison.notes.append(f"random numbers drawn without a seed, in the code both ran: {where}")


@dataclass
class CompareReport:
    """A comparison of two runs brought up to date, and what the status refresh warned about."""

    comparison: Comparison
    warnings: list[str]

    @property
    def reproduced(self) -> bool:
        return self.comparison.verdict == REPRODUCED

    @property
    def run_ids(self) -> list[str]:
        return [self.comparison.run_a, self.comparison.run_b]

    def as_record(self) -> dict[str, Any]:
        return self.comparison.as_record()


def check_tolerances(rtol: float, atol: float) -> None:
    if rtol < 0 or atol < 0:
        raise UsageError("tolerances must be >= 0", hint="e.g. --rtol 1e-6 --atol 0")


def compare(registry: Registry, id_a: str, id_b: str, rtol: float = 0.0, atol: float = 0.0) -> CompareReport:
    """Both runs brought up to date (one refresh), then compared."""
    check_tolerances(rtol, atol)
    warnings = refresh(registry, [id_a, id_b]).warnings
    return CompareReport(compare_runs(registry, id_a, id_b, rtol=rtol, atol=atol), warnings)
