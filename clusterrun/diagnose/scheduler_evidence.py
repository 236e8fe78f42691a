"""What the scheduler says about how a job ended: its final state (in the backend's words, normalised by
the scheduler layer) and the lines of its own logs that prove a verdict (the backend's log_evidence).
The only part of diagnose that asks the scheduler layer anything."""

from __future__ import annotations

import re
import signal as signals
from dataclasses import dataclass

from clusterrun.diagnose.model import Context, Found, Hit, Matcher, Strength
from clusterrun.scheduler import TERMINAL, log_evidence, normalise_state

#: clusterrun's own line for a smoke test it stopped (not the scheduler's: it has no smoke tests)
SMOKE_TIMEOUT = re.compile(r"smoke test killed after the .* timeout", re.IGNORECASE)


@dataclass(frozen=True)
class Event:
    """A cause the scheduler names: by the job's final state, or by a line of its own logs (the
    backend's log_evidence), or by clusterrun's own line."""

    states: frozenset[str]
    own_lines: tuple[re.Pattern[str], ...] = ()


MEMORY = Event(frozenset({"out_of_memory"}))
TIME = Event(frozenset({"timeout", "deadline"}), (SMOKE_TIMEOUT,))
NODE = Event(frozenset({"node_fail", "boot_fail"}))
PREEMPTION = Event(frozenset({"preempted"}))


def read_state(raw: str) -> tuple[str, str]:
    """clusterrun's normalised state and who cancelled: 'CANCELLED by 1000' -> ('cancelled', '1000')."""
    lowered = raw.strip().lower()
    return (lowered, "") if lowered in TERMINAL | {"unknown"} else normalise_state(raw)


def _scheduler_line(ctx: Context, states: frozenset[str]) -> Hit | None:
    """The most decisive line any backend's logs hold for one of these states."""
    found = next((e for e in log_evidence(ctx.logs) if e.state in states), None)
    return Hit(found.log, found.line, values=dict(found.values)) if found is not None else None


def _first_line(ctx: Context, event: Event) -> Hit | None:
    hit = _scheduler_line(ctx, event.states)
    return hit or next((h for p in event.own_lines if (h := ctx.find(p)) is not None), None)


def verdict(event: Event) -> Matcher:
    """The final state names the event (its line, when printed, is quoted)."""

    def find(ctx: Context) -> Found | None:
        return Found(_first_line(ctx, event)) if ctx.state in event.states else None

    return Matcher(Strength.VERDICT, find)


def scheduler_log(event: Event) -> Matcher:
    """slurmstepd printed the event's line (an OOM kill without cgroups ends FAILED 0:9, for one)."""

    def find(ctx: Context) -> Found | None:
        hit = _first_line(ctx, event)
        return Found(hit) if hit is not None else None

    return Matcher(Strength.SCHEDULER_LOG, find)


def cancellation() -> Matcher:
    """The state is CANCELLED (slurmstepd's 'CANCELLED AT' line quoted when printed)."""

    def find(ctx: Context) -> Found | None:
        return Found(_scheduler_line(ctx, frozenset({"cancelled"}))) if ctx.state == "cancelled" else None

    return Matcher(Strength.CANCELLATION, find)


def time_warning() -> Matcher:
    """submitit asks SLURM for --signal=USR2@90: a command that does not handle it dies before the limit."""

    def find(ctx: Context) -> Found | None:
        if not ctx.killed_by(signals.SIGUSR2):
            return None
        warning = "SLURM's warning that the time limit is near (submitit's --signal=USR2@90)"
        return Found(note=f"= {warning}," if (ctx.exit_code or 0) < 0 else f"(SIGUSR2 = {warning})")

    return Matcher(Strength.TIME_WARNING, find)
