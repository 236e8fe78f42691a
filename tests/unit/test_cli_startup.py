"""cli/startup.py: the garbage collector is off while a command's modules are imported, the imports'
objects are frozen once it is loaded, and collection is on again for the command's own work."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from clusterrun.cli import startup

PROBE = """
import gc, io, contextlib, json, sys
seen = {}
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "clusterrun.cli.logs":
            seen["importing"] = gc.isenabled()
        return None
sys.meta_path.insert(0, Finder())
from clusterrun.cli.app import entry
before = gc.get_freeze_count()
sys.argv = ["clusterrun", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        entry()
    except SystemExit as exc:
        code = exc.code
seen.update(code=code, after=gc.isenabled(), frozen=gc.get_freeze_count() > before)
print(json.dumps(seen))
"""


def _probe(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_off_while_a_command_is_imported_then_frozen_and_on() -> None:
    seen = _probe("logs", "--help")
    assert seen["importing"] is False  # the command's module was imported with the collector off
    assert seen["after"] is True and seen["frozen"] is True and seen["code"] == 0


def test_a_command_that_loads_nothing_leaves_the_collector_as_it_was() -> None:
    seen = _probe("--help")
    assert "importing" not in seen and seen["after"] is True and seen["frozen"] is False
    seen = _probe("no-such-command")
    assert seen["after"] is True and seen["code"] == 2


def test_a_caller_that_turned_it_off_keeps_it_off() -> None:
    gc.disable()
    try:
        with startup.collection_paused():
            startup.imports_done()
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with startup.collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_main_called_in_another_process_leaves_its_collector_alone() -> None:
    """A test suite or a script calling main() keeps its own collector: nothing of it frozen for good
    (hypothesis, for one, no longer sees the referrers of frozen objects)."""
    from clusterrun.cli.app import main

    before = gc.get_freeze_count()
    assert main(["logs", "--help"]) == 0
    assert gc.get_freeze_count() == before and gc.isenabled()
