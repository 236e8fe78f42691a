"""Requested versus used resources of a finished run, so the next submission can be right-sized."""

from __future__ import annotations

from typing import Any

from clusterrun.config.resources import parse_mem_mb, time_limit_seconds

#: A run shorter than this (in wall time) gets no CPU efficiency: sacct counts Elapsed in whole seconds
#: and TotalCPU with its own sampling, so a 0.1 s job can read "345%". Documented in site/records.md.
MIN_CPU_ELAPSED_SECONDS = 10.0


def _ratio(used: float | None, requested: float | None) -> float | None:
    if used is None or not requested:
        return None
    return round(used / requested, 3)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def cpu_time(status: dict[str, Any], exit_record: dict[str, Any]) -> tuple[float | None, float | None]:
    """(CPU seconds, the wall seconds they were spent in), both from ONE source: sacct's TotalCPU and
    Elapsed when sacct answered, else the job's own exit.json (its rusage and its timer); (None, None)
    when neither has both."""
    sacct_cpu = _number((status.get("extra") or {}).get("total_cpu_seconds"))
    sacct_elapsed = _number(status.get("elapsed_seconds"))
    if sacct_cpu is not None and sacct_elapsed is not None:
        return sacct_cpu, sacct_elapsed
    own_cpu, own_elapsed = _number(exit_record.get("cpu_seconds")), _number(exit_record.get("seconds"))
    if own_cpu is not None and own_elapsed is not None:
        return own_cpu, own_elapsed
    return None, None


def efficiency(
    resources: dict[str, Any],
    status: dict[str, Any],
    exit_record: dict[str, Any],
    longest_attempt: float | None = None,
) -> dict[str, Any]:
    """Elapsed vs time limit, peak memory vs mem, CPU time vs elapsed x CPUs.

    From sacct when it answered, else from the job's own exit.json; the CPU share takes its CPU time and
    its elapsed time from the same one, and is left out (None) for runs shorter than
    MIN_CPU_ELAPSED_SECONDS. A job that ran more than once (`longest_attempt`: its longest attempt's
    wall time): the time limit holds for each attempt, so the time share is the longest attempt's
    (two attempts of 90 s under a 90 s limit used 100% of it, not 200%); elapsed is their sum."""
    requested_seconds = time_limit_seconds(resources)
    try:
        requested_mb: float | None = parse_mem_mb(resources.get("mem", ""))
    except ValueError:
        requested_mb = None
    cpus = int(resources.get("cpus_per_task") or 1) * int(resources.get("nodes") or 1)
    elapsed = status.get("elapsed_seconds") or exit_record.get("seconds")
    peak = status.get("max_rss_mb") or exit_record.get("peak_rss_mb")
    cpu_seconds, cpu_elapsed = cpu_time(status, exit_record)
    measurable = cpu_elapsed is not None and cpu_elapsed >= MIN_CPU_ELAPSED_SECONDS
    return {
        "elapsed_seconds": elapsed,
        "requested_seconds": requested_seconds,
        "time_efficiency": _ratio(elapsed if longest_attempt is None else longest_attempt, requested_seconds),
        "max_rss_mb": peak,
        "requested_mem_mb": requested_mb,
        "mem_efficiency": _ratio(peak, requested_mb),
        "total_cpu_seconds": cpu_seconds,
        "cpus": cpus,
        "cpu_efficiency": _ratio(cpu_seconds, (cpu_elapsed or 0) * cpus) if measurable else None,
        "cpu_hours_used": round((elapsed or 0) * cpus / 3600, 4),
    } | ({"longest_attempt_seconds": longest_attempt} if longest_attempt is not None else {})
