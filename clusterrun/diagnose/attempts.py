"""How far a run got when it ran out of attempts (or of time, or was preempted): its last step and
metric, its last checkpoint, how many attempts it took and the override that lets it finish. Pure: the
diagnosis, the attempts and the requeue section come in as data."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from clusterrun.config.requeue import SIGNAL_GRACE_BOUNDS

#: The states whose diagnosis says how far the run got.
CUT_SHORT = frozenset({"timeout", "preempted", "node_fail"})
MARGIN = 1.2  # more attempts than the progress so far says are needed
#: A state cut short -> the requeue.on entry that runs it again.
KINDS = {"timeout": "timeout", "preempted": "preemption", "node_fail": "node_fail"}


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _how_far(attempts: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], step_key: str) -> str:
    steps = [a.get("last_step") for a in attempts if a.get("last_step") is not None]
    step = steps[-1] if steps else metrics.get(step_key)
    shown = [f"{k}={_value(v)}" for k, v in metrics.items() if k != step_key][:2]
    if step is None:
        return f"last metrics {' '.join(shown)}" if shown else ""
    return f"got to {step_key} {_value(step)}" + (f" ({' '.join(shown)})" if shown else "")


def _checkpoint(attempts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    found = [a.get("checkpoint") for a in attempts if isinstance(a.get("checkpoint"), Mapping)]
    return found[-1] if found else None


def how_far(
    diagnosis: Mapping[str, Any],
    state: str,
    attempts: Sequence[Mapping[str, Any]],
    requeue: Mapping[str, Any],
    metrics: Mapping[str, Any],
    progress: Mapping[str, Any] | None = None,
    step_key: str = "step",
    *,
    time_seconds: int | None = None,
) -> dict[str, Any]:
    """The diagnosis of a run cut short (CUT_SHORT) with what it got done and the attempts it used;
    any other diagnosis unchanged. `time_seconds`: its time limit (a requeue at the limit needs its
    warning to come within it)."""
    out = dict(diagnosis)
    if state not in CUT_SHORT or not attempts:
        return out
    on = list(requeue.get("on") or [])
    limit = int(requeue.get("max_attempts") or 1)
    used = len(attempts)
    checkpoint = _checkpoint(attempts)
    notes = []
    if used > 1 or (KINDS[state] in on and limit > 1):  # a requeue policy for other ends is beside the point
        all_used = " (requeue.max_attempts: all used)" if used >= limit else ""
        notes.append(f"attempt {used} of {limit}{all_used}")
    far = _how_far(attempts, metrics, step_key)
    if far:
        notes.append(far)
    if checkpoint is not None:
        notes.append(f"last checkpoint {checkpoint.get('path')} at {checkpoint.get('at')}")
    elif used > 1:
        notes.append("no checkpoint in $CLUSTERRUN_CHECKPOINT_DIR: each attempt started over")
    steps = [a["last_step"] for a in attempts if a.get("last_step") is not None]
    details = dict(out.get("details") or {})
    details.update(
        attempts=used,
        max_attempts=limit,
        last_step=steps[-1] if steps else None,
        last_checkpoint=checkpoint.get("path") if checkpoint else None,
        last_checkpoint_at=checkpoint.get("at") if checkpoint else None,
    )
    out["evidence"] = "; ".join([str(out.get("evidence") or state), *notes])
    fix = str(out.get("fix") or "")
    grace = _grace_within(requeue, time_seconds) if state == "timeout" else ""
    out["fix"] = _fix(state, fix, on, used, checkpoint is not None, _fraction(progress), details, grace)
    out["details"] = details
    return out


def _fix(
    state: str,
    fix: str,
    on: list[str],
    used: int,
    checkpointed: bool,
    fraction: float,
    details: dict[str, Any],
    grace: str = "",
) -> str:
    """The override that lets the run finish: requeue on this kind of end, or more attempts; `grace`:
    the signal_grace a requeue at the time limit needs as well ("" when it has one that fits)."""
    kind = KINDS[state]
    if checkpointed:  # it does: the generic advice to checkpoint is moot
        fix = fix.replace(", or checkpoint and resume", "")
    if kind not in on:
        if not checkpointed and kind == "timeout":
            return fix  # nothing to resume from: more time is the fix
        more = f"requeue.on=[{','.join([*on, kind])}]{grace} (the next attempt resumes from its checkpoint)"
        return f"{more}, or {fix}" if fix else more
    needed = used + 2
    if 0 < fraction < 1:
        needed = max(used + 1, math.ceil(used / fraction * MARGIN))
    details["suggested_max_attempts"] = needed
    more = f"requeue.max_attempts={needed}"
    if not checkpointed:
        more += " once the job checkpoints to $CLUSTERRUN_CHECKPOINT_DIR and resumes when CLUSTERRUN_RESUME=1"
    return f"{more}, or {fix}" if fix else more


def _grace_within(requeue: Mapping[str, Any], time_seconds: int | None) -> str:
    """' requeue.signal_grace=N' when the run's grace (the warning before the time limit) is not below
    its limit, which a requeue at the limit needs (config/models.py refuses it otherwise); else ""."""
    grace = requeue.get("signal_grace")
    if not time_seconds or not isinstance(grace, int) or grace < time_seconds:
        return ""
    return f" requeue.signal_grace={max(SIGNAL_GRACE_BOUNDS[0], min(60, time_seconds // 4))}"


def _fraction(progress: Mapping[str, Any] | None) -> float:
    """How much of the run was done (progress_from's value / total); 0 when unknown."""
    value, total = (progress or {}).get("value"), (progress or {}).get("total")
    if isinstance(value, int | float) and isinstance(total, int | float) and total > 0:
        return float(value) / float(total)
    return 0.0
