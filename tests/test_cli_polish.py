"""Issue 11, polish and clean-up: usage errors in clusterrun's one-line form, closed choices typer shows
and checks, no `<bool>` on flags, a README and CLI reference without outside links or HTML entities;
`status --disk`; an identical finished run refused in single-run words (exit 2), but not across
backends."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clusterrun.cli.app import app
from tests.helpers import REPO, cli, manifest, no_traceback

DRY = ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"]
COMMANDS = [
    "submit",
    "status",
    "show",
    "logs",
    "cancel",
    "note",
    "reproduce",
    "compare",
    "doctor",
    "init",
    "site",
    "plot",
    "export",
    "gc",
    "rm",
]


def one_line_error(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The stderr of a usage error: exactly `error: ...` then `hint: ...`, exit 2, no usage block."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    assert "Usage:" not in result.stderr and "╭" not in result.stderr
    no_traceback(result)
    return lines[0], lines[1]


@pytest.mark.parametrize(
    ("args", "error", "hint"),
    [
        (["status", "--wach"], "clusterrun status has no option --wach", "did you mean --watch?"),
        # what status calls --watch is submit's --wait (spelling alone guessed --no-watch, the opposite)
        (["submit", "x.yaml", "--watch"], "clusterrun submit has no option --watch", "did you mean --wait "),
        (["stauts"], "clusterrun has no command 'stauts'", "did you mean status?"),
        # the names other tools give a command: the one to use, with what it takes
        (["wait", "r1"], "clusterrun has no command 'wait'", "use: clusterrun status --watch RUN_ID"),
        (["kill", "r1"], "clusterrun has no command 'kill'", "use: clusterrun cancel RUN_ID"),
        (["tail", "r1"], "clusterrun has no command 'tail'", "use: clusterrun logs RUN_ID --follow"),
        (["show"], "missing argument", "usage: clusterrun show"),
        (["submit", "--backend", "slurn", "x.yaml"], "'slurn' is not one of", "did you mean slurm?"),
        (["show", "x", "--format", "csv"], "'csv' is not one of 'text', 'json'", "see: clusterrun show -h"),
        (["status", "--limit", "many"], "invalid value for '--limit'", "see: clusterrun status -h"),
    ],
)
def test_usage_errors_are_one_error_and_one_hint(
    tmp_path: Path, args: list[str], error: str, hint: str
) -> None:
    message, advice = one_line_error(cli(args, tmp_path))
    assert error in message and hint in advice


def test_no_arguments_shows_the_help(tmp_path: Path) -> None:
    result = cli([], tmp_path)
    assert result.returncode == 2 and "Usage: clusterrun" in result.stdout and "submit" in result.stdout


def test_flags_show_no_type_and_closed_choices_are_listed() -> None:
    runner = CliRunner()
    shown = {}
    for command in COMMANDS:
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, command
        shown[command] = result.output
    assert "<auto|slurm|local>" in shown["submit"] and "<text|json|ids>" in shown["submit"]
    assert "<auto|slurm|local>" in shown["reproduce"] and "<auto|slurm|local>" in shown["doctor"]
    assert "<text|json|ids|csv>" in shown["status"]


def test_readme_links_stay_in_the_repository_and_the_cli_reference_has_no_entities() -> None:
    readme = (REPO / "README.md").read_text()
    assert not re.search(r"https?://", readme)
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        assert not target.startswith(("/", "..")), target
        assert (REPO / target.split("#")[0]).exists(), (
            f"README links {target}, which is not in the repository"
        )
    assert "../shared" not in readme
    reference = (REPO / "site" / "cli.md").read_text()
    assert not re.search(r"&(#x?[0-9a-fA-F]+|[a-z]+);", reference)
    assert "'resnet*'" in reference  # the quotes typer wrote as &#x27;


def test_status_disk_counts_each_file_once(project: Path) -> None:
    first = cli([*DRY, "--format", "ids"], project).stdout.strip()
    second = cli([*DRY, "--format", "ids", "params.steps=7"], project).stdout.strip()
    artifacts = project / "runs" / first / "artifacts"  # made by the job's command.sh when it starts
    artifacts.mkdir(exist_ok=True)
    (artifacts / "big.bin").write_bytes(b"x" * 100_000)
    text = cli(["status", "--disk"], project)
    assert text.returncode == 0, text.stderr
    header = text.stdout.splitlines()[0].split()
    assert header == ["RUN", "ID", "WORK", "ARTIFACTS", "LOGS", "RECORDS", "OWN", "SNAPSHOT"]
    assert "snapshot(s), each counted once" in text.stdout
    data = json.loads(cli(["status", "--disk", "--json"], project).stdout)
    runs = {r["run_id"]: r for r in data["runs"]}
    assert set(runs) == {first, second}
    assert runs[first]["artifacts"] >= 100_000 > runs[second]["artifacts"]
    assert all(r["own"] == r["work"] + r["artifacts"] + r["logs"] + r["records"] for r in runs.values())
    (snapshot,) = {r["snapshot"] for r in runs.values()}  # both runs share one snapshot: counted once
    assert data["snapshots"][snapshot] > 0
    assert data["total_bytes"] == sum(r["own"] for r in runs.values()) + data["snapshots"][snapshot]
    ids = cli(["status", "--disk", "--format", "ids"], project).stdout.split()
    assert sorted(ids) == sorted([first, second])
    refused = cli(["status", "--disk", "--watch"], project)
    assert refused.returncode == 2 and "--disk" in refused.stderr


def test_an_identical_finished_run_is_refused_in_single_run_words(project: Path) -> None:
    args = ["submit", "configs/quickstart.yaml", "--backend", "local", "params.steps=20"]
    first = cli([*args, "--wait"], project)
    assert first.returncode == 0, first.stderr
    original = manifest(next((project / "runs").glob("quickstart_*")))["run_id"]
    again = cli(args, project)
    message, hint = one_line_error(again)
    assert re.fullmatch(
        rf"error: this run is identical to {original} \(finished \d+ (s|min) ago\): the same code, config "
        "and seed on the same backend",
        message,
    ), message
    assert "pass --force to run it again" in hint
    forced = cli([*args, "--force", "--dry-run"], project)
    assert forced.returncode == 0, forced.stderr


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_finished_run_on_another_backend_does_not_block(project: Path) -> None:
    args = ["submit", "configs/quickstart.yaml", "params.steps=21"]
    assert cli([*args, "--backend", "local", "--wait"], project).returncode == 0
    assert cli([*args, "--backend", "local", "--dry-run"], project).returncode == 2
    on_slurm = cli([*args, "--backend", "slurm", "--dry-run"], project)
    assert on_slurm.returncode == 0, on_slurm.stderr
    assert "identical" not in on_slurm.stderr
