"""Regexes for the metrics a script prints, guessed from its print templates the way a colleague would:
`f"epoch {e} loss={loss:.4f} val_acc: {acc}"` -> loss and val_acc, each `NAME=NUMBER` or `NAME: NUMBER`.

A value counts when its format is numeric (:.4f, %d, :g) or its name sounds like a metric (loss, acc,
f1, perplexity...); counters (step, epoch, iteration) are not metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

NUMBER = r"([0-9.eE+-]+)"
_NAME_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\s*)([=:])(\s*)$")
_NUMERIC_SPEC = re.compile(r"[dieEfFgGn%]$|^\?$")
_METRIC_WORDS = re.compile(
    r"(loss|acc|accuracy|f1|auc|bleu|rouge|ppl|perplexity|err|error|mse|mae|rmse|psnr|ssim|reward|return|"
    r"score|precision|recall|iou|map|top1|top5|wer|cer|lr|nll|kl|elbo)",
    re.I,
)
COUNTERS = {"step", "steps", "epoch", "epochs", "iter", "iteration", "it", "batch", "global_step", "i", "n"}


def _numeric(spec: str, name: str) -> bool:
    """A numeric format and a name longer than a letter (`b={b:.4f}` is a weight), or a metric's name."""
    if _METRIC_WORDS.search(name):
        return spec == "?" or not spec.endswith("s")
    return len(name) > 1 and spec != "?" and bool(_NUMERIC_SPEC.search(spec))


def patterns(templates: Iterable[list[tuple[str, str]]]) -> dict[str, str]:
    """metric name -> regex with one group around the number, in the order first printed."""
    found: dict[str, str] = {}
    for template in templates:
        literal = ""
        for text, spec in template:
            if not spec:
                literal += text
                continue
            match = _NAME_BEFORE.search(literal)
            literal = ""
            if not match:
                continue
            name, sep = match.group(1), match.group(3)
            if name.lower() in COUNTERS or not _numeric(spec, name):
                continue
            regex = rf"\b{re.escape(name)}\s*{re.escape(sep)}\s*{NUMBER}"
            found.setdefault(name, regex)
    return found
