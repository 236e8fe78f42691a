"""Compare two runs: metrics (with tolerances), config, environment, code. Pure functions over records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterrun.analysis.metrics import non_finite_word
from clusterrun.inputs import datafp
from clusterrun.records.models import Manifest, Summary, as_manifest, as_summary
from clusterrun.records.outputs import OutputDiff

REPRODUCED = "REPRODUCED"
DIVERGED = "DIVERGED"  # a run meant to be the other again (same code and config) whose metrics differ
DIFFERENT = "DIFFERENT"  # two runs of different code or config whose metrics differ: expected, not a failure
NONDETERMINISTIC = (
    "nothing recorded differs (code, config, data, environment): the command itself is not deterministic; "
    "seed every random generator from {seed} or $CLUSTERRUN_SEED (random.seed, numpy's default_rng, "
    "torch.manual_seed), and list timing metrics under metrics.ignore"
)
INCOMPLETE = "INCOMPLETE"  # a run has not succeeded, or there is nothing to compare
OUTPUTS_DIFFER = (
    "the metrics match, but {count} of the {files} output files differ ({which}): the runs are not the same "
    "bit for bit; seed every random generator from {{seed}} or $CLUSTERRUN_SEED (files that hold times, "
    "such as logs, differ anyway)"
)
ONLY_TIMES_DIFFER = (
    "the metrics match{same}; the {count} that differ hold times or paths, as such files do between any two "
    "runs ({which})"
)


def holds_times(path: str) -> bool:
    """A file that differs between any two runs, seeded or not: a log, a TensorBoard event file, or a
    tool's record of its own run in a hidden directory (Hydra's .hydra/hydra.yaml holds its output
    directory, named by the time)."""
    *folders, name = path.split("/")
    return (
        name.endswith((".log", ".out", ".err"))
        or "tfevents" in name
        or name.endswith(".wandb")  # a wandb run's record: its times, host and id
        or any(f.startswith(".") for f in folders)
    )


def _outputs_note(outputs: OutputDiff) -> tuple[str, bool]:
    """What the verdict notes about output files that differ although the metrics match, and whether
    that is left unexplained (anything but files that hold times)."""
    paths = [path for path, _change in outputs.differ]
    real = [path for path in paths if not holds_times(path)]
    shown = real or paths
    which = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    if not real:
        alike = outputs.files - len(paths)
        same = f", and so do the other {alike} output file{'' if alike == 1 else 's'}" if alike else ""
        return ONLY_TIMES_DIFFER.format(same=same, count=len(paths), which=which), False
    return OUTPUTS_DIFFER.format(count=len(paths), files=outputs.files, which=which), True


@dataclass(frozen=True)
class MetricDiff:
    name: str
    a: float | None
    b: float | None
    abs_diff: float | None
    rel_diff: float | None
    within: bool

    def as_record(self) -> dict[str, Any]:
        """As JSON data: a value that is not finite (a diverged run's nan or inf) as its word."""
        return {key: _json_number(value) for key, value in self.__dict__.items()}


def _json_number(value: Any) -> Any:
    return non_finite_word(value) or value


@dataclass
class Comparison:
    run_a: str
    run_b: str
    metrics: list[MetricDiff]
    ignored_metrics: list[str]
    config: list[tuple[str, Any, Any]]
    environment: list[tuple[str, Any, Any]]
    code: list[tuple[str, Any, Any]]
    verdict: str
    reason: str
    rtol: float
    atol: float
    notes: list[str] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)  # (path, what changed), from fingerprints
    outputs: OutputDiff | None = None  # the files the runs wrote (None: not compared)
    reproduces: bool = False  # run B was made by `clusterrun reproduce` of run A
    # config differences that name files (params.config_path): what those files differ by
    referenced: list[dict[str, Any]] = field(default_factory=list)
    # the runs differ (metrics, or output files) with nothing recorded differing: the command is not
    # deterministic (the notes say so; services/compare looks for unseeded generators then)
    unexplained: bool = False

    def as_record(self) -> dict[str, Any]:
        def rows(items: list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
            return [{"key": k, "a": a, "b": b} for k, a, b in items]

        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "verdict": self.verdict,
            "reason": self.reason,
            "rtol": self.rtol,
            "atol": self.atol,
            "metrics": [m.as_record() for m in self.metrics],
            "ignored_metrics": self.ignored_metrics,
            "config": rows(self.config),
            "environment": rows(self.environment),
            "code": rows(self.code),
            "data": [{"path": path, "change": change} for path, change in self.data],
            "outputs": self.outputs.as_record() if self.outputs is not None else None,
            "notes": self.notes,
            "reproduces": self.reproduces,
            "referenced_files": self.referenced,
        }


def _metrics(summary: Summary | None) -> dict[str, Any]:
    """A run's last metric values, a diverged one's nan or inf included (as floats)."""
    if summary is None:
        return {}
    return dict(summary.metrics) | {k: float(w) for k, w in summary.metrics_non_finite.items()}


def metric_diff(name: str, a: Any, b: Any, rtol: float, atol: float) -> MetricDiff:
    """Within tolerance when |a - b| <= atol + rtol * |a| (exact equality by default)."""
    fa = float(a) if isinstance(a, int | float) else None
    fb = float(b) if isinstance(b, int | float) else None
    if fa is None or fb is None:
        return MetricDiff(name, fa, fb, None, None, False)
    if math.isnan(fa) or math.isnan(fb):
        return MetricDiff(name, fa, fb, None, None, math.isnan(fa) and math.isnan(fb))
    if math.isinf(fa) or math.isinf(fb):  # both diverged the same way, or not
        return MetricDiff(name, fa, fb, None, None, fa == fb)
    diff = abs(fa - fb)
    rel = diff / abs(fa) if fa != 0 else (0.0 if diff == 0 else math.inf)
    return MetricDiff(name, fa, fb, diff, rel, diff <= atol + rtol * abs(fa))


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def dict_diff(
    a: Mapping[str, Any], b: Mapping[str, Any], skip: tuple[str, ...] = ()
) -> list[tuple[str, Any, Any]]:
    fa, fb = flatten(a), flatten(b)
    keys = sorted(set(fa) | set(fb))
    return [(k, fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k) and not k.startswith(skip)]


def environment_diff(
    env_a: Mapping[str, Any],
    env_b: Mapping[str, Any],
    node_a: str,
    node_b: str,
) -> list[tuple[str, Any, Any]]:
    """What differs where the runs ran: Python, packages, host, GPUs, SLURM node."""
    out: list[tuple[str, Any, Any]] = []
    pa, pb = env_a.get("python", {}), env_b.get("python", {})
    if pa.get("version") != pb.get("version"):
        out.append(("python", pa.get("version"), pb.get("version")))
    if pa.get("executable") != pb.get("executable"):
        out.append(("python executable", pa.get("executable"), pb.get("executable")))
    packages_a, packages_b = env_a.get("packages", {}), env_b.get("packages", {})
    for name in sorted(set(packages_a) | set(packages_b)):
        if packages_a.get(name) != packages_b.get(name):
            out.append((f"package {name}", packages_a.get(name), packages_b.get(name)))
    for key in ("host", "platform", "gpus"):
        if env_a.get(key) != env_b.get(key):
            out.append((key, env_a.get(key), env_b.get(key)))
    if node_a != node_b:
        out.append(("slurm node", node_a, node_b))
    return out


def compare(
    manifest_a: Manifest | Mapping[str, Any],
    summary_a: Summary | Mapping[str, Any] | None,
    env_a: Mapping[str, Any],
    manifest_b: Manifest | Mapping[str, Any],
    summary_b: Summary | Mapping[str, Any] | None,
    env_b: Mapping[str, Any],
    rtol: float = 0.0,
    atol: float = 0.0,
    patch_a: str = "",
    patch_b: str = "",
    outputs: OutputDiff | None = None,
) -> Comparison:
    """Run A (the original) against run B; the records as models or as JSON data; `outputs`: the files
    they wrote, compared (records/outputs.py), which the verdict notes but does not decide."""
    a, b = as_manifest(manifest_a, "manifest A"), as_manifest(manifest_b, "manifest B")
    sum_a = as_summary(summary_a, "summary A") if summary_a is not None else None
    sum_b = as_summary(summary_b, "summary B") if summary_b is not None else None
    ignore = set(a.config.metrics.ignore) | set(b.config.metrics.ignore)
    metrics_a, metrics_b = _metrics(sum_a), _metrics(sum_b)
    names = sorted((set(metrics_a) | set(metrics_b)) - ignore)
    diffs = [metric_diff(n, metrics_a.get(n), metrics_b.get(n), rtol, atol) for n in names]
    config = dict_diff(a.config.to_data(), b.config.to_data(), skip=("description",))
    code: list[tuple[str, Any, Any]] = []
    if a.git.commit != b.git.commit:
        code.append(("commit", a.git.commit, b.git.commit))
    if a.git.dirty != b.git.dirty:
        code.append(("dirty", a.git.dirty, b.git.dirty))
    if patch_a != patch_b:
        code.append(("patch", f"{len(patch_a)} bytes", f"{len(patch_b)} bytes"))
    environment = environment_diff(env_a, env_b, sum_a.node if sum_a else "", sum_b.node if sum_b else "")
    data, notes = data_diff(a, b)
    ids = (a.run_id, b.run_id)
    unexplained = False
    if not (sum_a and sum_a.success) or not (sum_b and sum_b.success):
        states = f"{sum_a.state if sum_a else 'not ended'} / {sum_b.state if sum_b else 'not ended'}"
        verdict, reason = INCOMPLETE, f"both runs must have completed successfully (states: {states})"
    elif not diffs:
        missing = sorted({*sum_a.metrics_missing, *sum_b.metrics_missing})
        verdict, reason = (
            INCOMPLETE,
            (
                f"no metrics to compare: metrics.patterns {', '.join(missing)} matched nothing printed"
                if missing
                else "no metrics to compare (set metrics.file or metrics.patterns)"
            ),
        )
    elif all(d.within for d in diffs):
        tol = "exactly" if rtol == 0 and atol == 0 else f"within rtol={rtol:g} atol={atol:g}"
        verdict, reason = REPRODUCED, f"{len(diffs)} metric(s) match {tol}"
        ended = {d.name: non_finite_word(d.a) for d in diffs if non_finite_word(d.a)}
        if ended:  # the same nan or inf in both: what reproduced is the divergence
            said = ", ".join(f"{name}={word}" for name, word in ended.items())
            reason += f" ({said} in both: the divergence reproduced)"
        if (config or code) and b.reproduces != a.run_id:  # not one run twice: say what differed
            what = " and ".join(x for x, found in (("code", code), ("config", config)) if found)
            keys = ", ".join(key for key, _a, _b in [*code, *config][:4])
            reason += (
                f", though the runs' {what} differ{'' if code and config else 's'} ({keys}): that change "
                "moved none of them"
            )
        if outputs is not None and outputs.differ:
            note, unexplained = _outputs_note(outputs)
            notes = [*notes, note]
    else:
        bad = [d for d in diffs if not d.within]
        worst = max(bad, key=lambda d: d.rel_diff if d.rel_diff is not None else math.inf)
        # runs of other code or another config are expected to differ: DIVERGED is a reproduction's failure
        verdict = DIFFERENT if (config or code) and b.reproduces != a.run_id else DIVERGED
        reason = f"{len(bad)} of {len(diffs)} metric(s) differ; largest: {worst.name} " + (
            f"(relative difference {worst.rel_diff:.3g})"
            if worst.rel_diff is not None
            else "(missing in one run)"
        )
        if data:
            shown = "; ".join(f"{path}: {change}" for path, change in data[:3])
            reason += f"; data differs: {shown}" + (f" (+{len(data) - 3} more)" if len(data) > 3 else "")
        if not (config or code or environment or data):
            notes = [*notes, NONDETERMINISTIC]
            unexplained = True
        if verdict == DIFFERENT:
            what = " and ".join(x for x, found in (("code", code), ("config", config)) if found)
            what += " differ" if code and config else " differs"
            keys = ", ".join(key for key, _a, _b in [*code, *config][:4])
            reason = f"the runs' {what} ({keys}), so may their results: not a reproduction; {reason}"
    return Comparison(
        ids[0],
        ids[1],
        diffs,
        sorted(ignore),
        config,
        environment,
        code,
        verdict,
        reason,
        rtol,
        atol,
        notes=notes,
        data=data,
        outputs=outputs,
        reproduces=b.reproduces == a.run_id,
        unexplained=unexplained,
    )


def data_diff(manifest_a: Manifest, manifest_b: Manifest) -> tuple[list[tuple[str, str]], list[str]]:
    """The data the runs read, by path (from the fingerprints taken at each submit), and a note when a
    run predates data fingerprints."""
    fps_a, fps_b = manifest_a.data_fingerprints, manifest_b.data_fingerprints
    data_a, data_b = manifest_a.config.data, manifest_b.config.data
    if fps_a is None or fps_b is None:
        if not (fps_a or fps_b or data_a or data_b):
            return [], []
        older = [m.run_id for m in (manifest_a, manifest_b) if m.data_fingerprints is None]
        return [], [f"data not compared: no data fingerprints in {', '.join(older)} (an older record)"]
    return datafp.diff(fps_a, fps_b, data_a, data_b), []
