"""A log read backwards in chunks (analysis/log_scan.py) gives each pattern the value the whole window's
scan gave (metrics.patterns_last as it was: every match over the last max_bytes), and stops reading
once every pattern has its value."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

from clusterrun.analysis import log_scan
from clusterrun.analysis.metrics import NUMBER, PLAIN_NUMBER, non_finite_word, patterns_last
from clusterrun.analysis.patterns import finditer

PATTERNS = {
    "loss": rf"\bloss={PLAIN_NUMBER}",
    "acc": rf"\bacc\s*:\s*{PLAIN_NUMBER}",
    "lr": rf"lr {PLAIN_NUMBER}",
    "never": rf"\bnever_printed={PLAIN_NUMBER}",
    "optional": r"\bgrad(?:=(\d+))?",  # a group that may not take part
    "first": r"^step (\d+)",  # anchored: the window's start only, as before
}


def _whole_window(
    log: Path, patterns: dict[str, str], max_bytes: int
) -> tuple[dict[str, float], dict[str, str]]:
    """patterns_last as it was before log_scan: the window decoded whole, every match walked."""
    data = log.read_bytes()
    text = data[max(0, len(data) - max_bytes) :].decode(errors="replace")
    found: dict[str, float] = {}
    non_finite: dict[str, str] = {}
    for name, pattern in patterns.items():
        for match in finditer(re.compile(pattern.replace(PLAIN_NUMBER, NUMBER)), text):
            try:
                value = float(match.group(1))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                found[name] = value
                non_finite.pop(name, None)
            else:
                non_finite[name] = non_finite_word(value) or "nan"
                found.pop(name, None)
    return found, non_finite


def _random_log(rng: random.Random) -> str:
    words = ["loss=", "val_loss=", "acc: ", "acc :", "lr ", "grad=", "grad", "step ", "é", "loss=x", "step "]
    numbers = ["0.5", "1e-3", "nan", "inf", "-inf", "7", "-", "e", "12.5.1", "3"]
    lines = []
    for _ in range(rng.randrange(0, 80)):
        parts = [rng.choice(words) + rng.choice(numbers) for _ in range(rng.randrange(0, 4))]
        if rng.random() < 0.05:
            parts.append("x" * rng.randrange(0, 300))  # a long line (a tqdm bar)
        lines.append(" | ".join(parts))
    return "\n".join(lines) + rng.choice(["", "\n"])


@pytest.mark.parametrize("seed", range(150))
def test_the_last_values_are_the_whole_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(log_scan, "FIRST_CHUNK", rng.choice([1, 8, 64, 16 * 1024]))
    monkeypatch.setattr(log_scan, "CHUNK_MAX", rng.choice([16, 256, 4 * 1024 * 1024]))
    log = tmp_path / "stdout.log"
    log.write_bytes(_random_log(rng).encode())
    max_bytes = rng.choice([10, 100, 1000, 64 * 1024 * 1024])
    found, non_finite = patterns_last(log, PATTERNS, max_bytes)
    assert (found, non_finite) == _whole_window(log, PATTERNS, max_bytes)


def test_a_log_of_a_million_matches_is_read_from_its_end_only(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    with log.open("w") as handle:
        for step in range(200_000):
            handle.write(f"step {step} loss={1 / (step + 1):.6f} acc: 0.5\n")
    reads: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        original = log_scan.open_nofollow

        def counting(path: Path):  # type: ignore[no-untyped-def]
            handle = original(path)
            read = handle.read
            handle.read = lambda n=-1: reads.append(len(data := read(n))) or data  # type: ignore[method-assign]
            return handle

        patch.setattr(log_scan, "open_nofollow", counting)
        found, _ = patterns_last(log, {"loss": PATTERNS["loss"], "acc": PATTERNS["acc"]})
    assert found == {"loss": pytest.approx(1 / 200_000, rel=1e-3), "acc": 0.5}
    assert sum(reads) <= log_scan.FIRST_CHUNK  # one chunk from the end, of a 7 MB log


@pytest.mark.parametrize(
    ("pattern", "whole"),
    [
        (r"\bloss=([0-9.eE+-]+)", False),
        (r"loss\s*[:=]\s*([^ ]+)", False),
        (r"\$([0-9]+) spent", False),
        (r"^loss=(\d+)", True),
        (r"loss=(\d+)$", True),
        (r"(?m)loss=(\d+)", True),
        (r"(?<=train )loss=(\d+)", True),
        (r"\Aloss=(\d+)", True),
    ],
)
def test_anchored_patterns_are_looked_for_over_the_whole_window(pattern: str, whole: bool) -> None:
    assert log_scan.whole_window(pattern) is whole
