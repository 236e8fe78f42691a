"""clusterrun.api.submit with a command instead of a config file, as `clusterrun submit -- python
train.py --lr 0.1` does it (services/adhoc.py): on the local backend, with real git, nothing printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clusterrun import api
from clusterrun.errors import ConfigError, UsageError

#: The local backend lets go of its job's Popen (the job outlives the call): see tests/test_api.py.
pytestmark = pytest.mark.filterwarnings(r"ignore:subprocess \d+ is still running:ResourceWarning")

TRAIN = ["python", "examples/quickstart/train.py", "--lr", "0.05", "--steps", "30"]


def test_a_command_is_submitted_like_the_cli_does(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes: list[str] = []
    result = api.submit(
        TRAIN,
        "resources.time=00:05:00",
        smoke=["steps=3"],
        backend="local",
        wait=True,
        cwd=project,
        notify=notes.append,
    )
    assert result.outcome == "submitted" and not result.failed
    assert result.report is not None
    (run,) = result.report.runs
    assert run.state == "completed" and run.metrics["step"] == 30  # the command ran as given
    manifest = result.manifest
    config = manifest.config
    assert config.name == "train" and config.params == {"lr": 0.05, "steps": 30}  # --key value: params
    assert manifest.argv == ["clusterrun.api.submit", "resources.time=00:05:00", "--", *TRAIN]
    assert manifest.resources["time"] == "00:05:00"
    written = Path(manifest.config_file)
    assert written.parent == project / "runs" / ".adhoc" and written.is_file()  # like the CLI's
    assert yaml.safe_load(written.read_text())["smoke"]["params"] == {"steps": 3}
    assert manifest.smoke is not None and manifest.smoke.ok
    assert capsys.readouterr() == ("", "")  # a library: notes go to notify, nothing printed
    assert "note: metrics from the script's prints: loss (metrics.patterns)" in notes  # as the CLI says
    # the same command again is the same config file (content-addressed), and --save writes one
    saved = api.submit(
        TRAIN, name="lr05", save="configs/lr05.yaml", backend="local", dry_run=True, cwd=project
    )
    assert saved.outcome == "dry_run" and saved.manifest.config.name == "lr05"
    assert (project / "configs" / "lr05.yaml").is_file()
    assert yaml.safe_load((project / "configs" / "lr05.yaml").read_text())["smoke"]["probe"] is True


def test_bad_commands_and_options_are_refused(project: Path) -> None:
    with pytest.raises(UsageError, match="nothing after --"):
        api.submit([], backend="local", cwd=project)
    with pytest.raises(UsageError, match="list of strings") as caught:
        api.submit(["python", "train.py", "--lr", 0.1], backend="local", cwd=project)  # type: ignore[list-item]
    assert "api.submit" in caught.value.hint
    with pytest.raises(UsageError, match="smoke_args: for a command") as caught:
        api.submit("configs/quickstart.yaml", smoke_args="--steps 2", backend="local", cwd=project)
    assert "smoke.params" in caught.value.hint
    with pytest.raises(UsageError, match="both say how"):
        api.submit(TRAIN, smoke=["steps=2"], smoke_args="--steps 2", backend="local", cwd=project)
    with pytest.raises(ConfigError):
        api.submit(TRAIN, "resources.time=forever", backend="local", dry_run=True, cwd=project)
    assert not (project / "runs").exists() or not [
        p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()
    ]  # nothing recorded for a refused submission
