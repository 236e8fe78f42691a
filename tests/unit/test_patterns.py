"""analysis/patterns.finditer: the matches of re.finditer, faster for a pattern that starts with `\\b`."""

from __future__ import annotations

import random
import re

import pytest

from clusterrun.analysis import patterns
from clusterrun.analysis.metrics import NUMBER

PATTERNS = [
    rf"\bloss\s*=\s*{NUMBER}",  # init's form, its number group read with nan and inf
    r"\bval_loss\s*[=:]\s*([0-9.eE+-]+)",
    r"\bloss=(?P<value>[0-9.]+)",
    r"\bloss|acc=([0-9.]+)",  # a top-level alternation: the \b is the first branch's only
    r"\ba?loss=([0-9.]+)",  # optional first character: matched as re does
    r"\b(?:step|epoch) (\d+)",
    r"\b[el]oss=([0-9.]+)",
    r"\bé=([0-9.]+)",  # a Unicode word character
    r"loss=([0-9.]+)",  # no \b: re's own
]
PIECES = ["loss=", "val_loss", "_loss=", "xloss=", " loss=", "acc=", "0.5", "nan", "-inf", "1e-3", "\r", "\n"]
PIECES += ["aloss=", "a", ":", "step 3 ", "epoch 12", "eoss=2", "é=1", "dé=2", "|", "  ", "[", "]"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_same_matches_as_re(pattern: str) -> None:
    compiled = re.compile(pattern)
    rng = random.Random(pattern)
    for _ in range(300):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        ours = [(m.span(), m.groups()) for m in patterns.finditer(compiled, text)]
        assert ours == [(m.span(), m.groups()) for m in compiled.finditer(text)], (pattern, text)


def test_which_patterns_take_the_fast_path() -> None:
    fast = [r"\bloss=(\d+)", rf"\bloss\s*=\s*{NUMBER}"]
    slow = [r"\bloss|acc", r"\ba?loss", r"\b\w+=(\d)", r"loss=(\d)", r"\b(a)", r"\bx{2}"]
    assert all(patterns._without_boundary(re.compile(p)) is not None for p in fast)
    assert all(patterns._without_boundary(re.compile(p)) is None for p in slow)
    assert not patterns._top_level_alternation(r"a(b|c)[|]\|d") and patterns._top_level_alternation("a|b")
