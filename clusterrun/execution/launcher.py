"""Run a command and write its peak memory (rusage maxrss) to a file: the smoke test's first process.

Run as `python -S -E launcher.py PEAK_FILE COMMAND...` (no site, no clusterrun: a few MB of Python).
A process starts as a copy of the one that started it, and the kernel keeps that one's peak as the new
process's first maxrss: the command started straight from clusterrun (60 MB and more; a notebook's or
pytest's hundreds) had that as its peak, whatever it used itself. Started from this small process
instead, its maxrss is its own (with this process's few MB as a floor). The command's exit is this
process's: its exit code, or death by the same signal.
"""

from __future__ import annotations

import os
import signal
import sys

#: Signals passed on to the command rather than ending this process: had it died of the SIGTERM that
#: stops a test, the command would have ended with no parent to collect it (a zombie where init does not).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def _forward(pid: int, number: int) -> None:
    try:  # noqa: SIM105 (contextlib's import would be most of this process's start-up)
        os.kill(pid, number)
    except OSError:
        pass  # it has ended: wait4 returns at once


def main(argv: list[str]) -> None:
    peak_file, command = argv[0], argv[1:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"{command[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    for forwarded in FORWARDED:  # stopping the test stops the command first; this process waits for it
        signal.signal(forwarded, lambda received, _frame: _forward(pid, received))
    _pid, status, usage = os.wait4(pid, 0)  # (a forwarded signal interrupts it; Python retries)
    try:
        fd = os.open(peak_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, str(usage.ru_maxrss).encode())
        os.close(fd)
    except OSError:
        pass  # no peak to give: the sampled one stands
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal this process cannot die of: the shell's way of saying it
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
