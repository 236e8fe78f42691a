"""Requested versus used resources of a finished run, so the next submission can be right-sized."""

from __future__ import annotations

from typing import Any

from clusterrun.config.resources import parse_mem_mb, parse_time_seconds


def _ratio(used: float | None, requested: float | None) -> float | None:
    if used is None or not requested:
        return None
    return round(used / requested, 3)


def efficiency(
    resources: dict[str, Any], status: dict[str, Any], exit_record: dict[str, Any]
) -> dict[str, Any]:
    """Elapsed vs time limit, peak memory vs mem, CPU time vs elapsed x CPUs.

    From sacct when it answered, else from the job's own exit.json."""
    try:
        requested_seconds: float | None = parse_time_seconds(resources.get("time", ""))
    except ValueError:
        requested_seconds = None
    try:
        requested_mb: float | None = parse_mem_mb(resources.get("mem", ""))
    except ValueError:
        requested_mb = None
    cpus = int(resources.get("cpus_per_task") or 1) * int(resources.get("nodes") or 1)
    elapsed = status.get("elapsed_seconds") or exit_record.get("seconds")
    peak = status.get("max_rss_mb") or exit_record.get("peak_rss_mb")
    cpu_seconds = (status.get("extra") or {}).get("total_cpu_seconds")
    return {
        "elapsed_seconds": elapsed,
        "requested_seconds": requested_seconds,
        "time_efficiency": _ratio(elapsed, requested_seconds),
        "max_rss_mb": peak,
        "requested_mem_mb": requested_mb,
        "mem_efficiency": _ratio(peak, requested_mb),
        "total_cpu_seconds": cpu_seconds,
        "cpus": cpus,
        "cpu_efficiency": _ratio(cpu_seconds, (elapsed or 0) * cpus) if elapsed else None,
        "cpu_hours_used": round((elapsed or 0) * cpus / 3600, 4),
    }
