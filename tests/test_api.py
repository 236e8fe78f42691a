"""clusterrun.api, as a notebook would use it: the commands as functions returning typed results, on the
local backend, with real git and nothing printed, prompted or exited."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrun import api
from clusterrun.analysis.compare import REPRODUCED
from clusterrun.analysis.estimate import GateDecision
from clusterrun.errors import UsageError
from clusterrun.services.submit import Answer
from tests.helpers import git

EXPENSIVE = "name: expensive\ncommand: python -c 'print(1)'\nresources: {time: '02:00:00'}\n"
BROKEN = "name: broken\ncommand: python -c 'import no_such_module_xyz'\n"

#: The local backend starts each job with submitit's Popen and lets go of it (the job outlives the call,
#: as a SLURM job does); in-process, Python reaps it later and says so with a ResourceWarning.
pytestmark = pytest.mark.filterwarnings(r"ignore:subprocess \d+ is still running:ResourceWarning")


def test_submit_wait_status_show_reproduce(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = project / "runs"
    result = api.submit("configs/quickstart.yaml", "params.steps=20", backend="local", wait=True, cwd=project)
    assert result.outcome == "submitted" and not result.failed
    assert result.confirmation is not None and result.confirmation.decision == "below the thresholds"
    assert result.report is not None
    (run,) = result.report.runs
    assert run.state == "completed" and run.metrics["step"] == 20
    record = result.as_record()  # what `submit --wait --json` prints
    assert record["run_id"] == run.run_id and record["summary"]["success"] is True

    view = api.status(run.run_id, runs_dir=runs)
    assert view.single and view.run_ids == [run.run_id] and view.sweep is None
    assert view.as_record()["runs"][0]["state"] == "completed"
    assert api.status(runs_dir=runs, state="failed").run_ids == []
    details = api.show(run.run_id, runs_dir=runs)
    assert details.manifest.state == "completed" and details.as_record()["summary"]["exit_code"] == 0

    again = api.reproduce(run.run_id, backend="local", wait=True, runs_dir=runs)
    assert again.submission.outcome == "submitted" and again.reproduced
    (verdict,) = again.verdicts
    assert verdict.verdict == REPRODUCED and again.pairs == [(run.run_id, again.run_ids[0])]
    report = api.compare(run.run_id, again.run_ids[0], runs_dir=runs)
    assert report.reproduced and report.as_record()["verdict"] == REPRODUCED
    with pytest.raises(UsageError, match="tolerances"):
        api.compare(run.run_id, run.run_id, rtol=-1, runs_dir=runs)
    assert capsys.readouterr() == ("", "")  # a library: nothing printed


def test_outcomes_that_submit_nothing(project: Path) -> None:
    (project / "configs" / "expensive.yaml").write_text(EXPENSIVE)
    (project / "configs" / "broken.yaml").write_text(BROKEN)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "more configs")

    dry = api.submit(
        "configs/quickstart.yaml", sweep=["params.lr=0.1,0.05"], backend="local", dry_run=True, cwd=project
    )
    assert dry.outcome == "dry_run" and dry.sweep is not None and len(dry.run_ids) == 2
    assert dry.as_record()["sweep_id"] == dry.sweep_id and "script" in dry.as_record()

    asked: list[GateDecision] = []

    def decline(decision: GateDecision) -> Answer:
        asked.append(decision)
        return Answer(False, "declined by the notebook")

    declined = api.submit("configs/expensive.yaml", backend="local", confirm=decline, cwd=project)
    assert declined.outcome == "declined" and declined.manifest.state == "not_submitted"
    assert any("per run (> 10 min)" in reason for reason in asked[0].reasons)
    assert declined.confirmation is not None and declined.confirmation.decision == "declined by the notebook"
    refused = api.submit("configs/expensive.yaml", backend="local", cwd=project, force=True)
    assert refused.outcome == "declined"  # nobody to ask: refused, as the CLI without a terminal

    broken = api.submit("configs/broken.yaml", backend="local", cwd=project)
    assert broken.outcome == "smoke_failed" and broken.failed and broken.manifest.job_id is None
    assert broken.as_record()["diagnosis"]["category"]
    assert "no_such_module_xyz" in broken.prepared.smoke_diagnosis.line()  # type: ignore[union-attr]
