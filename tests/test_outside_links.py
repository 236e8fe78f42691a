"""The promise: a symlink committed in the repository means in a run's copy what it means in the
checkout. `data -> ../shared-data` (a folder beside the checkout, a common way to keep datasets out of
git) has a relative target that leaves the repository: recreated as committed in the run's copy under
the registry, it named nothing, and the job failed on a FileNotFoundError for data that was there (found
by a user trial). The copy now points it where the checkout does, says that what it reads there is not
recorded, and fingerprints it once named under data:. Links that stay inside the repository are kept as
committed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import cli, git, only_run

READ = """\
with open("data/train.txt") as f:
    rows = f.read().split()
with open("latest/weights.txt") as f:
    weights = f.read().strip()
print("loss=" + str(1.0 / len(rows)), "weights", weights)
"""


def _project(tmp_path: Path) -> Path:
    shared = tmp_path / "shared-data"
    shared.mkdir()
    (shared / "train.txt").write_text("a b c d\n")
    root = tmp_path / "repo"
    (root / "models" / "v2").mkdir(parents=True)
    (root / "models" / "v2" / "weights.txt").write_text("v2\n")
    (root / "train.py").write_text(READ)
    (root / "data").symlink_to("../shared-data")  # leaves the repository
    (root / "latest").symlink_to("models/v2")  # stays inside it
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_a_committed_symlink_leaving_the_repository_points_where_the_checkouts_does(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = cli(["submit", "--backend", "local", "--wait", "--yes", "--", "python", "train.py"], root)
    assert result.returncode == 0, result.stderr + result.stdout
    run = only_run(root)
    assert "loss=0.25 weights v2" in (run / "stdout.log").read_text()
    assert os.readlink(run / "work" / "data") == str(tmp_path / "shared-data")
    assert os.readlink(run / "work" / "latest") == "models/v2"  # as committed
    said = " ".join(result.stderr.split())
    assert f"data is a symlink in the commit to {tmp_path / 'shared-data'}, outside the repository" in said
    assert "name it under data: (data: {data: data}) to fingerprint it" in said
    assert "latest" not in said
    assert not json.loads((run / "summary.json").read_text())["artifacts"]  # the link is not an output


def test_named_under_data_it_is_fingerprinted_and_not_said_again(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = cli(
        ["submit", "--backend", "local", "--wait", "--yes", "+data.data=data", "--", "python", "train.py"],
        root,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "outside the repository" not in result.stderr
    run = only_run(root)
    fingerprint = json.loads((run / "manifest.json").read_text())["data_fingerprints"]["data"]
    assert fingerprint["path"] == str(tmp_path / "shared-data") and fingerprint["files"] == 1, fingerprint
