"""What earlier runs say about a new one: the wall time of the newest run that completed with the same
resolved config (the same params, seed and resources; the code may differ), for an estimate that has no
timing of its own (no estimate.steps_param, a smoke test that times nothing). The index names the run;
its own manifest and summary are read before anything is concluded from it."""

from __future__ import annotations

from dataclasses import dataclass

from clusterrun.errors import ClusterrunError
from clusterrun.records import index as registry_index
from clusterrun.records.registry import Registry
from clusterrun.records.store import read_summary


@dataclass(frozen=True)
class PastRun:
    run_id: str
    seconds: float
    same_code: bool  # the same snapshot as the new run's

    def basis(self) -> str:
        code = "same code" if self.same_code else "other code"
        return f"as long as {self.run_id} took, the last completed run of this config, {code}"


def last_completed(
    registry: Registry, backend: str | None, hashes: set[str], snapshot_id: str
) -> dict[str, PastRun]:
    """config hash -> the newest run that completed with it on `backend` and recorded its duration."""
    if not hashes:
        return {}
    out: dict[str, PastRun] = {}
    for digest, run_id in registry_index.newest_completed(registry.root, backend, hashes).items():
        try:
            run = registry.get(run_id)
            manifest = run.load_manifest()
        except ClusterrunError:
            continue
        if manifest.state != "completed" or manifest.config_hash != digest:
            continue  # the index's word is checked against the run's own record
        summary = read_summary(run.path)
        seconds = summary.duration_seconds if summary is not None else None
        if isinstance(seconds, int | float) and seconds > 0:
            out[digest] = PastRun(run_id, float(seconds), manifest.snapshot.id == snapshot_id)
    return out
