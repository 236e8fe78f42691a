"""`init` guesses metrics from a script's print templates (init/metrics.py): a progress bar drawn by
hand is not one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from clusterrun.init.metrics import patterns
from clusterrun.init.pysource import read_script

SCRIPT = """\
import sys
steps = 40
for i in range(steps):
    sys.stderr.write(f"\\rtraining: {100 * i // steps:3d}%|{'#' * (i * 30 // steps):<30}| {i}/{steps}")
    acc = i / steps * 100
print(f"val_acc: {acc:.1f}% loss={1 / steps:.4f}")
"""


def test_a_progress_bars_percentage_is_not_a_metric_and_a_percent_metric_is(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    found = patterns(read_script(script).printed)
    # before, `training` was guessed from the bar, and every run reported training=97 as a metric
    assert set(found) == {"val_acc", "loss"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert re.search(found["val_acc"], out).group(1) == "97.5"  # type: ignore[union-attr]
