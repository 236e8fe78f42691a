"""The one error type of clusterrun: a one-line cause, a hint, and an exit code.

Library code raises; only the CLI turns an error into output and an exit status (see cli/app.py).
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILURE = 1  # the run itself failed (smoke test, job, divergence)
    USAGE = 2  # bad input: config, override, flag, run id
    ENVIRONMENT = 3  # git, scheduler or filesystem problem outside the user's input
    INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM/SIGHUP (128 + SIGINT, as shells report it)


class ClusterrunError(Exception):
    """An expected failure, reported as `error: <message>` and `hint: <hint>`."""

    exit_status: ExitStatus = ExitStatus.FAILURE

    def __init__(self, message: str, hint: str = "", exit_status: ExitStatus | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_status is not None:
            self.exit_status = exit_status


class UsageError(ClusterrunError):
    """Bad input from the user: config, overrides, flags, ids."""

    exit_status = ExitStatus.USAGE


class DoesNotFit(UsageError):
    """A request no partition of the cluster can ever run; `fixes` are the overrides that would fit
    (e.g. ('resources.cpus_per_task=2',)), for whoever can apply them (`clusterrun init`)."""

    def __init__(self, message: str, hint: str = "", fixes: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.fixes = fixes


class ConfigError(UsageError):
    """A config file that cannot be loaded or validated."""


class GitError(ClusterrunError):
    exit_status = ExitStatus.ENVIRONMENT


class SchedulerError(ClusterrunError):
    """The scheduler refused a request or could not be reached."""

    exit_status = ExitStatus.ENVIRONMENT


class SchedulerUnavailable(SchedulerError):
    """The scheduler did not answer (controller down, accounting off, command missing)."""


class RunNotFound(UsageError):
    """No run with that id in the registry."""


class DiskFull(ClusterrunError, OSError):
    """No space (or quota) left while writing: an environment failure, and still an OSError (ENOSPC), so
    code that tolerates unwritable files tolerates it too."""

    exit_status = ExitStatus.ENVIRONMENT

    def __init__(self, path: object, hint: str = "") -> None:
        ClusterrunError.__init__(
            self,
            f"disk full while writing {path}",
            hint
            or "free space on that filesystem (see 'df -h' and 'clusterrun gc'), or put the registry "
            "elsewhere with --runs-dir DIR; nothing half-made was kept",
        )
        self.errno = 28  # ENOSPC
        self.strerror = "No space left on device"
        self.filename = str(path)

    def __str__(self) -> str:
        return self.message


class Interrupted(ClusterrunError):
    """Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) at a point where what it left is recorded (a smoke
    test: stopped, and its runs marked `interrupted`)."""

    exit_status = ExitStatus.INTERRUPTED
