"""The `requeue` section's reasons and bounds, and the policy as a run's record holds it.

config/sections.py validates the section when a run is submitted (pydantic, with these reasons and
bounds). What the job wrapper and status read back from a manifest is `RequeuePolicy`, plain data: a
job's start does not build the config's pydantic models for one small section (about 30 ms of every
job's start-up on a 2-core machine). `RequeuePolicy.from_record` accepts exactly what the section's
model accepts (tests/unit/test_requeue_policy.py compares the two on valid and damaged sections).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: What `requeue.on` may name: the ends of an attempt after which the run goes on in another attempt.
RequeueReason = Literal["preemption", "node_fail", "timeout"]
REQUEUE_REASONS: tuple[RequeueReason, ...] = ("preemption", "node_fail", "timeout")
DEFAULT_REQUEUE_ON: tuple[RequeueReason, ...] = ("preemption", "node_fail")
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_BOUNDS = (1, 100)
DEFAULT_SIGNAL_GRACE = 120  # seconds between SIGUSR2 and the time limit
SIGNAL_GRACE_BOUNDS = (10, 65535)
#: The signal the command is sent when the time limit nears: SIGUSR2 (what SLURM sends, --signal=USR2),
#: or SIGUSR1, which the job wrapper sends in its stead (PyTorch Lightning saves a checkpoint on SIGUSR1
#: and requeues the job itself: SLURMEnvironment's auto-requeue).
RequeueSignal = Literal["USR2", "USR1"]
REQUEUE_SIGNALS: tuple[RequeueSignal, ...] = ("USR2", "USR1")
DEFAULT_SIGNAL: RequeueSignal = "USR2"
FIELDS = ("on", "max_attempts", "signal_grace", "signal")


def signal_of(value: Any) -> str:
    """`signal` as USR1 or USR2 (SIGUSR1, usr1 too); ValueError with the fix otherwise."""
    text = value.strip().upper().removeprefix("SIG") if isinstance(value, str) else None
    if text not in REQUEUE_SIGNALS:
        raise ValueError(f"{value!r}: use {' or '.join(REQUEUE_SIGNALS)}")
    return text


def reasons_of(value: Any) -> list[str]:
    """`on` as a list of known reasons, duplicates dropped (one reason may be given as a string);
    ValueError with the fix otherwise."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"give a list of: {', '.join(REQUEUE_REASONS)} (or [] for never)")
    unknown = [str(item) for item in items if item not in REQUEUE_REASONS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a reason to requeue; use {', '.join(REQUEUE_REASONS)}")
    return list(dict.fromkeys(items))


def _bounded(value: Any, bounds: tuple[int, int]) -> int | None:
    """An integer within `bounds` as pydantic's lax mode reads one (an int or a bool, a whole float, a
    string of digits); None otherwise."""
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            return None
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            if not number.is_integer():
                return None
            value = int(number)
    if not isinstance(value, int):
        return None
    return value if bounds[0] <= value <= bounds[1] else None


def signal_lead(grace: int, time_seconds: int) -> int:
    """How long before the time limit the job is sent SIGUSR2: `requeue.signal_grace`, unless that is not
    below the limit (allowed when `timeout` is not in requeue.on: the default 120 s with a 2-minute job),
    when SLURM would send it as the job starts, before the job wrapper can take it, and its default
    action kills the job (CI: a sweep's members ended FAILED, 'died by signal: 12'): then half the limit."""
    return grace if grace < time_seconds else max(1, time_seconds // 2)


@dataclass(frozen=True)
class RequeuePolicy:
    """When a job runs again after its attempt was cut short (see sections.Requeue)."""

    on: tuple[str, ...] = DEFAULT_REQUEUE_ON
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    signal_grace: int = DEFAULT_SIGNAL_GRACE
    signal: str = DEFAULT_SIGNAL

    @property
    def enabled(self) -> bool:
        """Whether the job may run more than once (submitted requeueable)."""
        return bool(self.on) and self.max_attempts > 1

    def allows(self, reason: str) -> bool:
        """Whether an attempt that ended for `reason` (preemption, node_fail, timeout) may be followed."""
        return self.enabled and reason in self.on

    def as_dict(self) -> dict[str, Any]:
        """As the section is recorded (sections.Requeue.model_dump)."""
        data: dict[str, Any] = {
            "on": list(self.on),
            "max_attempts": self.max_attempts,
            "signal_grace": self.signal_grace,
        }
        if self.signal != DEFAULT_SIGNAL:  # recorded only when not the default, as the model writes it
            data["signal"] = self.signal
        return data

    @classmethod
    def from_record(cls, section: Mapping[str, Any]) -> RequeuePolicy | None:
        """The policy a recorded `requeue` section holds; None when the section's model would not
        accept it (an unknown key or reason, a count out of bounds: a damaged or hand-edited record)."""
        if not isinstance(section, Mapping) or set(section) - set(FIELDS):
            return None
        try:
            on = tuple(reasons_of(section["on"])) if "on" in section else DEFAULT_REQUEUE_ON
        except ValueError:
            return None
        attempts = _bounded(section.get("max_attempts", DEFAULT_MAX_ATTEMPTS), MAX_ATTEMPTS_BOUNDS)
        grace = _bounded(section.get("signal_grace", DEFAULT_SIGNAL_GRACE), SIGNAL_GRACE_BOUNDS)
        if attempts is None or grace is None:
            return None
        try:
            sent = signal_of(section.get("signal", DEFAULT_SIGNAL))
        except ValueError:
            return None
        return cls(on, attempts, grace, sent)


NEVER = RequeuePolicy(on=())  # records before requeues: their jobs ran once


def recorded_policy(section: Mapping[str, Any] | None) -> RequeuePolicy:
    """The policy of a run's recorded `requeue` section; NEVER without one (or with a damaged one)."""
    return (RequeuePolicy.from_record(section) or NEVER) if section else NEVER
