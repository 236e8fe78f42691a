"""The cyclic garbage collector while a command starts: off until its modules are imported.

Importing a command (pydantic models, typer's parameters, the scheduler) allocates a few hundred
thousand objects that live as long as the process; the collector examined them 70-odd times during a
`submit` (~0.02 s) and freed next to nothing. `main` runs with it off (`collection_paused`); once the
command is loaded (`imports_done`, from cli/lazy.py) everything allocated so far is frozen (never examined
again, still freed by reference counting) and collection resumes as usual, so a long wait or watch
collects its garbage as ever. A command that never loads one (`--help`, a usage error) ends with the
collector as it found it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = False


@contextmanager
def collection_paused() -> Iterator[None]:
    global _paused
    if not gc.isenabled() or _paused:  # someone else's choice, or already paused: left alone
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        if _paused:
            _paused = False
            gc.enable()


def imports_done() -> None:
    """The command's modules are loaded: freeze what they made, and collect again from here on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
