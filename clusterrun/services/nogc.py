"""Python's cyclic garbage collector paused while a submission writes its records.

A sweep's submission makes thousands of small acyclic objects (records as dicts and models, paths,
texts) while the tens of thousands of import-time objects stay alive; every automatic collection of the
oldest generation walks all of them again. With a 1,000-member sweep a third of the submission's CPU
time went to those collections (bench/run_all.py --only sweep, cProfile: time charged to whatever
allocation triggered them). Reference counting still frees everything as usual; only cycles wait for
the collector, which runs again as soon as the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block (left as it was when it was already off), on again after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
