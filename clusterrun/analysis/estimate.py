"""Resource estimates from measurement: the smoke test's step timing and peak memory, scaled to the
full run, and the checks that compare them with what the config requests."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterrun.config.models import ExperimentSpec
from clusterrun.config.profiles import ClusterProfile
from clusterrun.config.resources import format_mem_mb, format_seconds, round_mem_mb, round_seconds

TIME_MARGIN = 1.2  # warn when the requested time is below estimate x this
TIME_SUGGEST = 1.5  # and suggest estimate x this
MEM_MARGIN = 1.3  # warn when mem is below the measured peak x this, and suggest that


def time_with_margin(seconds: float) -> int:
    """The time limit a measured wall time asks for: x TIME_SUGGEST, rounded up (round_seconds)."""
    return round_seconds(seconds * TIME_SUGGEST)


def mem_with_margin(mb: float) -> int:
    """The memory a measured peak asks for: x MEM_MARGIN, rounded up (round_mem_mb)."""
    return round_mem_mb(mb * MEM_MARGIN)


@dataclass(frozen=True)
class Timing:
    startup_seconds: float
    seconds_per_step: float
    points: int
    method: str  # "step-metrics" (the job's own step timing) or "two-runs" (two smoke runs)


def fit_points(points: list[tuple[float, float]]) -> Timing | None:
    """Least-squares line through (step, seconds since start): slope = time per step, intercept = start-up."""
    if len(points) < 2:
        return None
    steps = [p[0] for p in points]
    times = [p[1] for p in points]
    mean_s, mean_t = sum(steps) / len(steps), sum(times) / len(times)
    var = sum((s - mean_s) ** 2 for s in steps)
    if var == 0:
        return None
    slope = sum((s - mean_s) * (t - mean_t) for s, t in zip(steps, times, strict=True)) / var
    intercept = mean_t - slope * mean_s
    return Timing(max(0.0, intercept), max(0.0, slope), len(points), "step-metrics")


def per_step(seconds: float, unit: str = "step") -> str:
    """'1.23 s/step', '7.1 ms/step' (a fast step read '0 s/step'); `unit`: 'epoch' for an epochs param."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.3g} s/{unit}"
    return f"{seconds * 1000:.3g} ms/{unit}"


def step_unit(name: str | None) -> str:
    """What one unit of the steps_param is called: 'epoch' for epochs, num_epochs..., else 'step'."""
    return "epoch" if name and "epoch" in name.lower() else "step"


#: How each method reads in an estimate's basis (the manifest's timing keeps the method's name).
METHOD_TEXT = {"step-metrics": "from its step times", "two-runs": "two runs of different lengths"}


def two_runs(n1: float, t1: float, n2: float, t2: float) -> Timing | None:
    if n2 == n1:
        return None
    slope = (t2 - t1) / (n2 - n1)
    return Timing(max(0.0, t1 - slope * n1), max(0.0, slope), 2, "two-runs")


@dataclass
class Estimate:
    members: int
    wall_seconds: float | None  # one run; None without a steps_param or a smoke timing (basis says why)
    basis: str  # how the wall time was obtained
    cpu_hours: float  # all members
    gpu_hours: float
    cost: float | None
    currency: str
    peak_rss_mb: float | None
    warnings: list[str] = field(default_factory=list)
    suggestions: dict[str, str] = field(default_factory=dict)  # override key -> value
    timing: dict[str, Any] | None = None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return describe(self.as_record())


def _hours(value: float, kind: str) -> str:
    """'1 CPU-hour', '2.5 CPU-hours', and for a short run 'under 0.01 CPU-hours' (not 0.000556)."""
    if 0 < value < 0.01:
        return f"under 0.01 {kind}-hours"
    return f"{value:.3g} {kind}-hour" + ("" if f"{value:.3g}" == "1" else "s")


def describe(record: dict[str, Any]) -> str:
    """One line for the manifest block, from an estimate record (as stored in manifest.json)."""
    wall = record.get("wall_seconds")
    shown = "unknown" if wall is None else f"{wall:.2g} s" if wall < 60 else format_seconds(wall)
    parts = [f"{shown} per run ({record.get('basis')})"]
    if record.get("members", 1) > 1:
        parts.append(f"x {record['members']} members")
    parts.append(_hours(record.get("cpu_hours", 0), "CPU"))
    if record.get("gpu_hours"):
        parts.append(_hours(record["gpu_hours"], "GPU"))
    if record.get("cost"):
        parts.append(f"cost {record['cost']:.2f} {record.get('currency', '')}".rstrip())
    return ", ".join(parts)


def _full_steps(spec: ExperimentSpec) -> float | None:
    name = spec.estimate.steps_param
    value = spec.params.get(name) if name else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def estimate(
    spec: ExperimentSpec,
    timing: Timing | None,
    peak_rss_mb: float | None,
    members: int,
    profile: ClusterProfile,
    *,
    no_timing: str = "",
    whole_run: float | None = None,
    past: tuple[float, str] | None = None,
) -> Estimate:
    """`no_timing`: why the smoke test gave no timing (e.g. "timing run failed"), for the basis text;
    `whole_run`: the seconds of a smoke test that ran the job's whole command to its end (a probe that
    ended before its timeout), the wall time itself when there is no step timing; `past`: (seconds, how
    known) of an earlier run of the same config, when neither gives one."""
    res = spec.resources
    steps = _full_steps(spec)
    if timing is not None and steps is not None:
        wall: float | None = timing.startup_seconds + steps * timing.seconds_per_step
        unit = step_unit(spec.estimate.steps_param)
        how = METHOD_TEXT.get(timing.method, timing.method)
        if timing.seconds_per_step == 0:  # not '0 s/epoch': the start-up's noise hid them
            basis = f"smoke test, {how}: {steps:g} {unit}s too fast to time beside the start-up"
        else:
            basis = f"smoke test, {how}, {per_step(timing.seconds_per_step, unit)} x {steps:g} {unit}s"
        hours_each = wall / 3600 if wall is not None else 0.0
    elif whole_run is not None:
        wall = whole_run
        basis = "the smoke test ran the whole command to its end"
        hours_each = wall / 3600
    elif past is not None:
        wall, basis = past
        hours_each = wall / 3600
    else:
        wall = None
        name = spec.estimate.steps_param
        if not name:
            why = "no estimate.steps_param"
        elif steps is None:
            why = f"params.{name} is not a number"
        else:
            why = no_timing or "fewer than two step points"
        basis = f"{why}: bounded by the requested time"
        hours_each = res.time_seconds / 3600
    cpu_hours = hours_each * res.total_cpus * members  # every task's CPUs, on every node
    gpu_hours = hours_each * res.total_gpus * members  # gpus per node (or per task) as requested
    prices = profile.prices
    cost = (
        cpu_hours * prices.cpu_hour + gpu_hours * prices.gpu_hour
        if (prices.cpu_hour or prices.gpu_hour)
        else None
    )
    result = Estimate(
        members,
        wall,
        basis,
        cpu_hours,
        gpu_hours,
        cost,
        prices.currency,
        peak_rss_mb,
        timing=asdict(timing) if timing else None,
    )
    if wall is not None and res.time_seconds < wall * TIME_MARGIN:
        suggested = format_seconds(time_with_margin(wall))
        result.warnings.append(
            f"resources.time={res.time} is below the estimated {format_seconds(wall)} "
            f"(+{TIME_MARGIN - 1:.0%} margin)"
        )
        result.suggestions["resources.time"] = suggested
    if peak_rss_mb is not None and res.mem_mb < peak_rss_mb * MEM_MARGIN:
        suggested = format_mem_mb(mem_with_margin(peak_rss_mb))
        result.warnings.append(
            f"resources.mem={res.mem} is below the smoke test's peak {peak_rss_mb:.0f}M x {MEM_MARGIN}"
            + (
                ": even the smoke test used more, so SLURM will likely kill the job for memory"
                if res.mem_mb < peak_rss_mb
                else ""
            )
        )
        result.suggestions["resources.mem"] = suggested
    return result


def combine(parts: list[Estimate]) -> Estimate:
    """A submission's estimate from its members' own: hours and costs summed, the longest member's wall
    time, every warning and suggestion once (the first member's first)."""
    if len(parts) == 1:
        return parts[0]
    total = copy.deepcopy(parts[0])
    walls = [p.wall_seconds for p in parts if p.wall_seconds is not None]
    total.members = len(parts)
    total.wall_seconds = max(walls) if walls else None
    total.cpu_hours = sum(p.cpu_hours for p in parts)
    total.gpu_hours = sum(p.gpu_hours for p in parts)
    costs = [p.cost for p in parts if p.cost is not None]
    total.cost = sum(costs) if costs else None
    for part in parts[1:]:
        total.warnings += [w for w in part.warnings if w not in total.warnings]
        for key, value in part.suggestions.items():
            total.suggestions.setdefault(key, value)
    return total


@dataclass(frozen=True)
class GateDecision:
    needs_confirmation: bool
    reasons: list[str]  # the thresholds it crosses (expensive)
    risks: list[str] = field(default_factory=list)  # why its job would likely fail (asked as well)
    fixes: dict[str, str] = field(default_factory=dict)  # override key -> the value that avoids a risk


def gate(
    est: Estimate, spec: ExperimentSpec, profile: ClusterProfile, *, mem_enforced: bool = True
) -> GateDecision:
    """Whether to ask first: a submission expensive enough (thresholds from the cluster profile), or one
    whose job would likely fail (risks). `mem_enforced`: the backend kills a job over resources.mem
    (SLURM does; this machine's local backend does not)."""
    risks, fixes = _risks(est, spec, mem_enforced)
    limits = profile.confirm_above
    wall = est.wall_seconds if est.wall_seconds is not None else spec.resources.time_seconds
    reasons = []
    if _above(wall / 60, limits.wall_minutes):
        reasons.append(
            f"wall time {format_seconds(wall)} per run > {limits.wall_minutes:g} min"
            if est.wall_seconds is not None
            else f"its run time is not estimated, so it may take its whole requested time, "
            f"{format_seconds(wall)} per run (> {limits.wall_minutes:g} min); a shorter resources.time, "
            "or estimate.steps_param, tells clusterrun more"
        )
    if _above(est.cpu_hours, limits.cpu_hours):
        reasons.append(f"{_beyond(est.cpu_hours, limits.cpu_hours)} CPU-hours > {limits.cpu_hours:g}")
    if _above(est.gpu_hours, limits.gpu_hours):
        reasons.append(f"{_beyond(est.gpu_hours, limits.gpu_hours)} GPU-hours > {limits.gpu_hours:g}")
    if limits.cost is not None and est.cost is not None and _above(est.cost, limits.cost):
        reasons.append(f"cost {_money(est.cost, limits.cost)} > {limits.cost:g}")
    return GateDecision(bool(reasons or risks), reasons, risks, fixes)


def _risks(est: Estimate, spec: ExperimentSpec, mem_enforced: bool) -> tuple[list[str], dict[str, str]]:
    """What makes the job fail as sure as anything is before it runs, and the fixes (override key ->
    value) they name:
    - even the smoke test (fewer steps, never more) used more memory than the job asks for, where the
      backend enforces it; not for a job with GPUs (a smoke test on a machine without one holds in memory
      what the job holds on its GPUs);
    - its estimated wall time is more than its time limit, and a time limit does not requeue it (both
      backends stop a job at its limit)."""
    res, peak, wall = spec.resources, est.peak_rss_mb, est.wall_seconds
    risks: list[str] = []
    fixes: dict[str, str] = {}
    if mem_enforced and peak is not None and res.mem_mb < peak and not (res.gpus or res.gpus_per_task):
        fixes["resources.mem"] = format_mem_mb(mem_with_margin(peak))
        risks.append(
            f"even the smoke test used {peak:.0f} MB, more than resources.mem={res.mem}: SLURM would kill "
            f"the job for memory (resources.mem={fixes['resources.mem']} asks for enough)"
        )
    if wall is not None and _above(wall, res.time_seconds) and "timeout" not in spec.requeue.on:
        fixes["resources.time"] = format_seconds(time_with_margin(wall))
        risks.append(
            f"its estimated {format_seconds(wall)} per run is more than resources.time={res.time}: it would "
            f"be stopped at its time limit (resources.time={fixes['resources.time']} asks for enough; or "
            "requeue.on=[timeout] for a job that resumes from its checkpoints)"
        )
    return risks, fixes


def _above(value: float, limit: float) -> bool:
    """Whether `value` is over `limit` beyond float rounding: 120 runs of 5 minutes are 10 CPU-hours,
    not 10.000000000000002, and asked '10 CPU-hours > 10'."""
    return round(value, 6) > limit


def _money(value: float, limit: float) -> str:
    """A cost over `limit` with two decimals, or the few more it takes to read as more (100.004, not
    100.00)."""
    return _beyond(value, limit, "f", 2)


def _beyond(value: float, limit: float, kind: str = "g", digits: int = 3) -> str:
    """`value`, over `limit`, formatted (`kind`) with `digits` or the more it takes to read as more than
    `limit` (10.0003, not 10)."""
    for shown in range(digits, 7):
        text = f"{value:.{shown}{kind}}"
        if float(text) > limit:
            return text
    return f"{value:.7{kind}}"
