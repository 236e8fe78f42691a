"""The interpreter of a local job's task: submitit's own `python -u -m submitit.core._submit FOLDER`,
started by submitit's local controller, without importing numpy first.

submitit.core.submission imports numpy, when it can, before it loads the job's pickle (in case the
pickle holds arrays). A clusterrun job's pickle is a reference to clusterrun.execution.jobrun.run_job
and a run directory's path, and the user's command runs in a process of its own (command.sh): numpy
was a third of the task's start-up, ~0.1 s of every local job for nothing. The local backend passes
`PYTHON` as LocalExecutor's `python` (a documented parameter of submitit), so the task runs
`python -u -m clusterrun.scheduler.local_task -u -m submitit.core._submit FOLDER`: numpy is hidden
while submitit's submission module is imported, then submitit's module runs as `python -m` runs it.
"""

from __future__ import annotations

import importlib
import runpy
import shlex
import sys

#: LocalExecutor's `python`: submitit appends `-u -m submitit.core._submit FOLDER`.
PYTHON = f"{shlex.quote(sys.executable)} -u -m {__name__}"
#: The modules submitit imports only in case the pickle needs them.
UNNEEDED = ("numpy",)


def run(argv: list[str]) -> None:
    """`argv`: what submitit put after PYTHON, `-u -m MODULE ARGS...` (-u is already in effect)."""
    args = list(argv)
    if args[:1] == ["-u"]:
        args.pop(0)
    if len(args) < 2 or args[0] != "-m":
        raise SystemExit(f"usage: python -m {__name__} [-u] -m MODULE [ARGS...]")
    module, rest = args[1], args[2:]
    hidden = [name for name in UNNEEDED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
    try:
        importlib.import_module("submitit.core.submission")
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]  # a later import finds the real one
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run(sys.argv[1:])
