"""Shell completion (issue 11, item 7): the completion functions themselves, and the shell protocol
(`_CLUSTERRUN_COMPLETE=complete_bash` / `complete_zsh`) through a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterrun.cli import complete
from tests.helpers import cli

DRY = ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"]


def complete_bash(project: Path, line: str) -> list[str]:
    """What bash would offer for `line` (the cursor at its end; a trailing space starts a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = cli(
        [],
        project,
        env={"_CLUSTERRUN_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.fixture
def registry_with_runs(project: Path) -> tuple[Path, list[str], str]:
    """Two runs and a sweep (its two members), made oldest first."""
    first = cli([*DRY, "--format", "ids"], project).stdout.strip()
    second = cli([*DRY, "--format", "ids", "params.steps=8"], project).stdout.strip()
    sweep = json.loads(cli([*DRY, "--json", "--sweep", "params.lr=0.1,0.05"], project).stdout)
    members = [m["run_id"] for m in sweep["members"]]
    return project, [first, second, *members], sweep["sweep_id"]


def test_run_and_sweep_ids_newest_first(
    registry_with_runs: tuple[Path, list[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, runs, sweep_id = registry_with_runs
    monkeypatch.chdir(project)
    offered = [value for value, _help in complete.complete_runs(None, "")]
    assert set(offered) == set(runs) and offered.index(runs[1]) < offered.index(runs[0])
    targets = dict(complete.complete_targets(None, "quickstart"))
    assert targets[sweep_id] == "sweep" and set(runs) <= set(targets)
    assert [v for v, _ in complete.complete_targets(None, "quickstart-sweep")] == [sweep_id]
    assert [v for v, _ in complete.complete_runs(None, "@")] == ["@latest", "@latest-failed"]
    assert complete.complete_runs(None, "nothing") == []

    assert complete_bash(project, "clusterrun show ") == offered
    assert complete_bash(project, f"clusterrun status {sweep_id[:-4]}") == [sweep_id]
    assert complete_bash(project, "clusterrun cancel quickstart-") == [sweep_id]
    assert set(complete_bash(project, "clusterrun reproduce quick")) == {*runs, sweep_id}
    other = project.parent / "elsewhere"
    other.mkdir()
    moved = cli(
        [],
        other,
        env={
            "_CLUSTERRUN_COMPLETE": "complete_bash",
            "COMP_WORDS": f"clusterrun --runs-dir {project / 'runs'} show ",
            "COMP_CWORD": "4",
        },
    )
    assert moved.stdout.split() == offered  # --runs-dir is honoured while completing
    zsh = cli(
        [],
        project,
        env={"_CLUSTERRUN_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "clusterrun show @latest-f"},
    )
    assert "@latest-failed" in zsh.stdout and "the newest run that did not succeed" in zsh.stdout


def test_configs_profiles_backends_states(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "configs" / "clusters").mkdir()
    (project / "configs" / "clusters" / "mylab.yaml").write_text("name: mylab\n")
    (project / "configs" / "more").mkdir()
    (project / "configs" / "more" / "big.yml").write_text("name: big\n")
    monkeypatch.chdir(project)
    assert complete.complete_configs("") == ["configs/more/big.yml", "configs/quickstart.yaml"]
    assert complete.complete_configs("configs/q") == ["configs/quickstart.yaml"]
    assert complete.complete_configs("ex") == ["examples/"]  # a path typed further: its folder
    assert complete.complete_states("fail") == ["failed"]
    assert complete.complete_states("failed,time") == ["failed,timeout"]

    assert complete_bash(project, "clusterrun submit configs/q") == ["configs/quickstart.yaml"]
    assert complete_bash(project, "clusterrun submit --cluster ") == ["mylab"]
    assert complete_bash(project, "clusterrun submit --backend ") == ["auto", "slurm", "local"]
    assert complete_bash(project, "clusterrun status --state pend") == ["pending"]
    assert complete_bash(project, "clusterrun status --format c") == ["csv"]
    assert "status" in complete_bash(project, "clusterrun st")
    assert complete_bash(project, "clusterrun status --wh") == ["--where"]


def test_completion_scripts_are_offered(project: Path) -> None:
    shown = cli(["--show-completion", "bash"], project)
    assert shown.returncode == 0, shown.stderr
    assert "_CLUSTERRUN_COMPLETE=complete_bash" in shown.stdout and "complete -o default" in shown.stdout
    assert "--install-completion" in cli(["--help"], project, env={"COLUMNS": "200"}).stdout
