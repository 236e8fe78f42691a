"""Fixes for what the scheduler did to the job: out of memory, out of time, a failed node, preemption,
cancellation. Memory and time suggestions use the same margins as the estimate, so a suggestion taken
passes the next submission's checks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from clusterrun.analysis.estimate import MEM_MARGIN, TIME_MARGIN
from clusterrun.config.resources import (
    format_mem_mb,
    format_seconds,
    parse_mem_mb,
    parse_time_seconds,
    round_mem_mb,
    round_seconds,
)
from clusterrun.diagnose.model import Context, Fix, Found


def _requested(resources: Mapping[str, Any], key: str, parse: Callable[[Any], int]) -> int | None:
    """resources[key] parsed; None when it is missing or not valid."""
    try:
        return parse(resources[key])
    except (KeyError, ValueError, TypeError):
        return None


def user_name(who: str) -> str:
    """'1000' -> 'alice (uid 1000)' when the uid is known here; names are kept as they are."""
    if not who.isdigit():
        return who
    try:
        import pwd  # POSIX only: on Windows a uid stays a number

        return f"{pwd.getpwuid(int(who)).pw_name} (uid {who})"
    except (ImportError, KeyError, OverflowError):
        return f"uid {who}"


def smoke_smaller(ctx: Context) -> str:
    smoke_params = dict((ctx.smoke or {}).get("params") or {})
    if smoke_params:
        return "smaller smoke params (" + " ".join(f"smoke.params.{k}=..." for k in smoke_params) + ")"
    first = next(iter(ctx.params), "")
    return (
        f"smoke params that run one batch (e.g. smoke.params.{first}=1)" if first else "a smaller smoke run"
    )


def host_oom(ctx: Context, found: Found) -> Fix:
    requested = _requested(ctx.resources, "mem", parse_mem_mb)
    peaks = [ctx.max_rss_mb or 0.0]
    groups = found.groups()
    if "used" in groups and "limit" in groups:
        used, limit = int(groups["used"]), int(groups["limit"])
        # slurmstepd prints bytes (recent versions) or KB (older ones): the limit tells which
        per_mb = 1024 * 1024 if requested is None or limit >= requested * 1024 * 4 else 1024
        peaks.append(used / per_mb)
    peak = max(peaks)
    extra = f"(peak {peak:.0f} MB" + (f" > requested {format_mem_mb(requested)})" if requested else ")")
    if ctx.smoke is not None:
        fix = f"the smoke test ran out of this machine's memory: use {smoke_smaller(ctx)}"
        return Fix(fix, extra if peak else "", {"peak_mb": round(peak, 1)})
    # the smoke test's peak counts too: sacct's may miss the moment of the kill, and a suggestion under
    # what one batch already needed fails again
    smoke_peak = ctx.smoke_peak_mb or 0.0
    base = max(peak, float(requested or 0), smoke_peak)
    if base <= 0:
        return Fix("raise resources.mem (e.g. double it: resources.mem=2G if it was 1G) and check max RSS")
    suggested = format_mem_mb(round_mem_mb(base * MEM_MARGIN))
    smoke_part = f", smoke test's peak {smoke_peak:.0f} MB" if smoke_peak > peak else ""
    # killed at its peak: what it would have needed is more, by an amount nobody measured
    fix = (
        f"resources.mem={suggested} or more (max(peak {peak:.0f} MB{smoke_part}, requested) x {MEM_MARGIN}; "
        "it was killed at that peak, so it needed more), or use less memory"
    )
    details: dict[str, Any] = {"peak_mb": round(peak, 1), "suggested_mem": suggested}
    if smoke_peak:
        details["smoke_peak_mb"] = round(smoke_peak, 1)
    return Fix(fix, extra if peak else "", details)


def time_limit(ctx: Context, found: Found) -> Fix:
    if ctx.smoke is not None:
        timeout = float(ctx.smoke.get("timeout") or ctx.elapsed_seconds or 60)
        fix = f"smoke.timeout={math.ceil(timeout * 2)}, or {smoke_smaller(ctx)}"
        return Fix(fix, details={"suggested_timeout": math.ceil(timeout * 2)})
    limit = _requested(ctx.resources, "time", parse_time_seconds)
    elapsed = float(ctx.elapsed_seconds or limit or 0)
    extra = (found.note + " " if found.note else "") + f"after {format_seconds(elapsed)}"
    extra += f" (limit {format_seconds(limit)})" if limit else ""
    details: dict[str, Any] = {}
    fraction = 0.0
    if ctx.progress:
        value, total = ctx.progress.get("value"), ctx.progress.get("total")
        if isinstance(value, int | float) and isinstance(total, int | float) and total > 0:
            fraction = min(1.0, value / total)
            extra += f", reached {ctx.progress.get('metric', 'step')} {value:g} of {total:g}"
            details["progress"] = round(fraction, 4)
    if 0 < fraction < 1 and elapsed > 0:
        needed = elapsed / fraction * TIME_MARGIN
        how = f"elapsed / progress {fraction:.0%} x {TIME_MARGIN}"
    elif limit or elapsed:
        needed = 2.0 * (limit or elapsed)
        how = "2x the limit; progress unknown"
    else:
        return Fix("raise resources.time (e.g. resources.time=02:00:00)", extra)
    if limit:
        needed = max(needed, limit * 1.25)
    suggested = format_seconds(round_seconds(needed))
    fix = f"resources.time={suggested} ({how}), or checkpoint and resume"
    return Fix(fix, extra, {"suggested_time": suggested, **details})


def node_failure(ctx: Context, found: Found) -> Fix:
    where = f" ({ctx.node})" if ctx.node else ""
    return Fix(
        f"submit again: the node{where} failed, not the run; make it resume from checkpoints, or pick "
        "another partition (resources.partition=...) if that node keeps failing"
    )


def preempted(ctx: Context, found: Found) -> Fix:
    qos = ctx.resources.get("qos")
    now = f" (now qos={qos})" if qos else ""
    return Fix(
        "make the job checkpoint and resume, then requeue/submit again; or use a qos or partition that is "
        f"not preempted: resources.qos=<qos>{now} or resources.partition=<partition>"
    )


def cancelled(ctx: Context, found: Found) -> Fix:
    who = user_name(ctx.cancelled_by) if ctx.cancelled_by else ""
    extra = f"by {who}" if who else "(by whom: unknown)"
    if ctx.elapsed_seconds is not None:
        extra += f" after {format_seconds(ctx.elapsed_seconds)}"
    fix = "nothing in the run to fix" + (f": {who} cancelled it" if who else "")
    fix += "; if that was not intended, submit it again (same config and overrides)"
    return Fix(fix, extra, {"cancelled_by": who})
