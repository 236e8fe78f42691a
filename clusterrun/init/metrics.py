"""Regexes for the metrics a script prints, guessed from its print templates the way a colleague would:
`f"epoch {e} loss={loss:.4f} val_acc: {acc}"` -> loss and val_acc, each `NAME=NUMBER` or `NAME: NUMBER`;
`f"epoch {e} | loss {loss:.4f}"` -> loss, `NAME NUMBER`, for a name that sounds like a metric only.

A value counts when its format is numeric (:.4f, %d, :g) or its name sounds like a metric (loss, acc,
f1, perplexity...); counters (step, epoch, iteration) and a progress bar's percentage (`training: {p}%|`)
are not metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

from clusterrun.analysis.metrics import COUNTERS as ANALYSIS_COUNTERS
from clusterrun.analysis.metrics import METRIC_WORDS, PLAIN_NUMBER, sounds_like_metric

#: a printed number; read as analysis.metrics.NUMBER (nan and inf too)
NUMBER = PLAIN_NUMBER
_NAME_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\"?)(\s*)([=:])(\s*)$")  # a JSON key's quote too
_NAME_SPACE_BEFORE = re.compile(r"(?:^|[^A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*) +$")
_NUMERIC_SPEC = re.compile(r"[dieEfFgGn%]$|^\?$")
#: progress counters (analysis.metrics.COUNTERS), and the short names loops print them by
COUNTERS = ANALYSIS_COUNTERS | {"epochs", "it", "batch", "i", "n"}


def _numeric(spec: str, name: str) -> bool:
    """A numeric format and a name longer than a letter (`b={b:.4f}` is a weight), or a metric's name."""
    if METRIC_WORDS.search(name):
        return spec == "?" or not spec.endswith("s")
    return len(name) > 1 and spec != "?" and bool(_NUMERIC_SPEC.search(spec))


def patterns(templates: Iterable[list[tuple[str, str]]]) -> dict[str, str]:
    """metric name -> regex with one group around the number, in the order first printed; a name printed
    in two forms (`val_mse {v:.4f}` each epoch, `val_mse={v:.5f}` at the end) is read in either."""
    separators: dict[str, list[str]] = {}
    for template in templates:
        literal = ""
        for index, (text, spec) in enumerate(template):
            if not spec:
                literal += text
                continue
            after = template[index + 1][0] if index + 1 < len(template) and not template[index + 1][1] else ""
            if after.startswith("%|"):  # a progress bar's percentage (`desc: 42%|####  |`), not a metric
                literal = ""
                continue
            match = _NAME_BEFORE.search(literal)
            spaced = None if match else _NAME_SPACE_BEFORE.search(literal)
            literal = ""
            if match:
                name, sep = match.group(1), rf"{match.group(2)}\s*{re.escape(match.group(4))}\s*"
            elif spaced and sounds_like_metric(spaced.group(1)):
                name, sep = spaced.group(1), r"\s+"  # `loss {x}`: a metric's name, not `took {t}`
            else:
                continue
            if name.lower() in COUNTERS or not _numeric(spec, name):
                continue
            if sep not in separators.setdefault(name, []):
                separators[name].append(sep)
    found: dict[str, str] = {}
    for name, seps in separators.items():
        sep = seps[0] if len(seps) == 1 else "(?:" + "|".join(seps) + ")"
        found[name] = rf"\b{re.escape(name)}{sep}{NUMBER}"
    return found


def wandb_patterns(keys: Iterable[str], found: Iterable[str] = ()) -> dict[str, str]:
    """A pattern for each name a script logs to wandb (and does not print, `found`): its line of the
    run summary wandb prints to stderr as the run finishes (`wandb:    train/loss 4.42184`)."""
    known = set(found)
    return {name: rf"wandb:[ \t]+{re.escape(name)}[ \t]+{PLAIN_NUMBER}" for name in keys if name not in known}
