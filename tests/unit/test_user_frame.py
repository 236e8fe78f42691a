"""Where a failed run's diagnosis says the user's code raised: a path the user can open in the checkout.
A module imported through the run's .imports/ links (execution/codepath.py: an editable install's
package, run from the run's copy) was shown as `<run>/smoke/.imports/mlp/train.py` (a user trial); it is
the copy's path within the repository now, `src/mlp/train.py`."""

from __future__ import annotations

import os
from pathlib import Path

from clusterrun.diagnose.tracebacks import user_frame

TRACEBACK = """Traceback (most recent call last):
  File "{main}", line 12, in <module>
    main()
  File "{module}", line 40, in main
    cv = cross_val_score(model, X, y, cv=3)
  File "/venv/lib/python3.11/site-packages/sklearn/model_selection/_split.py", line 404, in split
    raise ValueError(
ValueError: Cannot have number of splits n_splits=3 greater than the number of samples: n_samples=1.
"""


def test_a_frame_through_the_runs_import_links_is_shown_as_the_copys_path_in_the_repository(
    tmp_path: Path,
) -> None:
    run = tmp_path / "runs" / "train_1"
    (run / "smoke" / "work" / "src" / "mlp").mkdir(parents=True)
    (run / "smoke" / "work" / "src" / "mlp" / "train.py").write_text("def main(): ...\n")
    (run / "smoke" / ".imports").mkdir()
    os.symlink("../work/src/mlp", run / "smoke" / ".imports" / "mlp")
    text = TRACEBACK.format(
        main=run / "smoke" / "work" / "run.py", module=run / "smoke" / ".imports" / "mlp" / "train.py"
    )
    assert user_frame(text) == "src/mlp/train.py line 40, in main"


def test_a_frame_in_the_working_copy_is_shown_from_it_and_a_library_frame_never() -> None:
    text = TRACEBACK.format(main="/r/runs/a/work/run.py", module="/r/runs/a/work/pkg/train.py")
    assert user_frame(text) == "pkg/train.py line 40, in main"
