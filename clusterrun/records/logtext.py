"""A log's text as a terminal shows it, or on one line."""

from __future__ import annotations


def terminal_lines(text: str) -> list[str]:
    """`text`'s lines as a terminal shows them: a line rewritten in place with carriage returns (a
    progress bar: tqdm, Keras, pip) is its last state, not each of the hundreds it went through. Lines
    end at newlines only (str.splitlines would also cut at every carriage return)."""
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]


def one_line(text: str, width: int) -> str:
    """`text` on one line, at most `width` characters (the end replaced by '...')."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


#: Python's words when a worker process is started at import (multiprocessing's spawn start method):
#: the diagnosis names the cause from them (diagnose/evidence.py), the smoke test stops a test that
#: prints them again and again instead of waiting for its timeout (execution/smoke.py)
SPAWN_AT_IMPORT_WORDS = "An attempt has been made to start a new process before the"
