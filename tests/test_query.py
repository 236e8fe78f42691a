"""Querying the registry (issue 11, item 8): status --where on params, metrics and fields, --columns,
--sort (and -KEY, --desc); unknown states, keys and sort keys are errors with a did-you-mean, never an
empty result; cancel by --name and --state like scancel -n/-t, and a sweep id cancels its members."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path

import pytest

from clusterrun import api
from clusterrun.services.query import parse_where
from tests.helpers import cli, manifest, no_traceback

LOCAL = ["submit", "configs/quickstart.yaml", "--backend", "local"]


@pytest.fixture
def three_runs(project: Path) -> dict[str, dict[str, float]]:
    """Three finished local runs (lr 0.1, 0.05, 0.01) and a dry run: id -> {lr, loss}."""
    out: dict[str, dict[str, float]] = {}
    for lr in (0.1, 0.05, 0.01):
        result = cli([*LOCAL, "--wait", "--format", "json", f"params.lr={lr}", "params.steps=15"], project)
        assert result.returncode == 0, result.stderr
        record = json.loads(result.stdout)
        out[record["run_id"]] = {"lr": lr, "loss": record["summary"]["metrics"]["loss"]}
    assert cli([*LOCAL, "--dry-run", "params.steps=9", "--name", "probe"], project).returncode == 0
    return out


def ids(project: Path, *args: str) -> list[str]:
    result = cli(["status", *args, "--format", "ids"], project)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_where_columns_and_sort(project: Path, three_runs: dict[str, dict[str, float]]) -> None:
    by_lr = {v["lr"]: k for k, v in three_runs.items()}
    assert sorted(ids(project, "--where", "params.lr<0.06")) == sorted([by_lr[0.05], by_lr[0.01]])
    from_python = api.status(where=["params.lr<0.06"], sort="params.lr", runs_dir=project / "runs")
    assert from_python.run_ids == [by_lr[0.01], by_lr[0.05]]  # the same query from Python
    assert ids(project, "--where", "params.lr>=0.05", "--where", "params.lr!=0.1") == [by_lr[0.05]]
    assert ids(project, "--where", "lr == 0.01") == [by_lr[0.01]]  # a bare name: a metric, else a param
    worst = max(three_runs, key=lambda k: three_runs[k]["loss"])
    cut = sorted(v["loss"] for v in three_runs.values())[-1]
    assert ids(project, "--where", f"loss>={cut}") == [worst]  # metrics, by their bare name
    assert ids(project, "--where", f"metrics.loss>={cut}") == [worst]
    assert ids(project, "--where", "state==completed", "--where", "name~^quick") == list(three_runs)[::-1]
    (probe,) = ids(project, "--where", "name!~quick")  # the dry run
    assert ids(project, "--where", "resources.mem==500M", "--where", "state==dry_run") == [probe]
    assert ids(project, "--where", "resources.mem==1G") == []

    ascending = sorted(three_runs, key=lambda k: three_runs[k]["loss"])
    assert ids(project, "--sort", "loss")[:3] == ascending  # the dry run has no loss: last
    assert ids(project, "--sort", "-loss")[:3] == ascending[::-1]
    assert ids(project, "--sort", "loss", "--desc")[:3] == ascending[::-1]
    assert ids(project, "--sort", "params.lr", "--limit", "2") == [by_lr[0.01], by_lr[0.05]]

    table = cli(["status", "--columns", "params.lr,loss,state", "--sort", "params.lr"], project)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["RUN", "ID", "PARAMS.LR", "LOSS", "STATE"]
    assert lines[2].split()[:2] == [by_lr[0.01], "0.01"] and lines[2].split()[-1] == "COMPLETED"
    rows = list(
        csv.DictReader(
            io.StringIO(cli(["status", "--columns", "params.lr,loss", "--format", "csv"], project).stdout)
        )
    )
    assert set(rows[0]) == {"run_id", "params.lr", "loss"}
    assert {r["run_id"]: float(r["loss"]) for r in rows if r["loss"]} == {
        k: v["loss"] for k, v in three_runs.items()
    }
    record = json.loads(cli(["status", "--columns", "params.lr", "--json"], project).stdout)
    assert record["columns"] == ["params.lr"] and "columns" in record["runs"][0]


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--state", "runing"], "--state 'runing' is not a state", "did you mean running?"),
        (["--state", "failed,bogus"], "--state 'bogus' is not a state", "states: preparing, created"),
        (
            ["--sort", "batch_sise"],
            "--sort 'batch_sise': no run listed has it",
            "did you mean params.batch_size?",
        ),
        (
            ["--where", "params.lrr<1"],
            "--where 'params.lrr': no run listed has it",
            "did you mean params.lr?",
        ),
        (
            ["--columns", "params.lr,stps"],
            "--columns 'stps': no run listed has it",
            "did you mean params.steps?",
        ),
        (["--where", "lr"], "--where 'lr' is not KEY OP VALUE", "operators:"),
        (["--where", "name~(unclosed"], "is not a regular expression", "escape"),
        # a doubled operator was a value ('<0.1') that matched nothing, silently
        (["--where", "params.lr<<0.1"], "the value '<0.1' starts with an operator", "'params.lr<0.1'?"),
        (["--where", "params.lr=>0.1"], "starts with an operator", "did you mean --where 'params.lr>=0.1'?"),
    ],
)
def test_bad_queries_are_errors_not_empty_results(
    project: Path, args: list[str], message: str, hint: str
) -> None:
    assert cli([*LOCAL, "--dry-run"], project).returncode == 0
    result = cli(["status", *args], project)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and hint in result.stderr, result.stderr
    no_traceback(result)


def test_state_groups_and_the_where_parser(project: Path) -> None:
    run_id = cli([*LOCAL, "--dry-run", "--format", "ids"], project).stdout.strip()
    assert ids(project, "--state", "dry_run") == [run_id]
    assert ids(project, "--state", "active,ended") == []
    condition = parse_where("  params.lr <= '0.5' ")
    assert (condition.key, condition.op, condition.value) == ("params.lr", "<=", "0.5")
    assert condition.matches({"params.lr": 0.1}) and not condition.matches({"params.lr": 0.7})
    assert not condition.matches({"params.batch": 1})  # a run without the key never matches
    assert parse_where("tag==x").matches({"tag": ["y", "x"]})
    assert parse_where("created>=2026-01").matches({"created": "2026-11-30T10:00:00+00:00"})
    assert not parse_where("params.opt<1").matches({"params.opt": "adam"})  # text against a number
    assert parse_where("params.name=__import__('os')").matches({"params.name": "__import__('os')"})
    assert parse_where("note~<b>").value == "<b>"  # a pattern may start with anything
    assert parse_where("note=='<b>'").matches({"note": "<b>"})  # so may a quoted value


def test_an_empty_listing_says_which_filter_matched_nothing(project: Path) -> None:
    """Filters that match no run say so, by the options given; a registry without runs says how to
    start one (it said 'start one with: clusterrun submit configs/examples/quickstart.yaml', a file of
    clusterrun's own repository, also when filters had left out every run of a full registry)."""
    empty = cli(["status"], project)
    assert empty.returncode == 0 and "no runs yet; start one with: clusterrun submit" in empty.stdout
    assert "quickstart" not in empty.stdout
    assert cli([*LOCAL, "--dry-run"], project).returncode == 0
    for args, said in (
        (["--where", "params.lr>5"], "no run matches --where 'params.lr>5';"),
        (["--state", "failed", "--name", "nope*"], "no run matches --name 'nope*' and --state failed;"),
        (["--where", "seed<0", "--tag", "best"], "no run matches --where 'seed<0' and --tag best;"),
    ):
        result = cli(["status", *args], project)
        assert result.returncode == 0 and said in result.stdout, (args, result.stdout)
        assert "start one" not in result.stdout


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_cancel_by_name_by_state_and_by_sweep(project: Path, request: pytest.FixtureRequest) -> None:
    """Three members asking for every CPU of the node: at most one runs, the others wait (pending). The
    jobs are cancelled however the test ends: a failure once left a 10-minute job holding the node, and
    the tests after it waited for it."""
    cpus = max(
        int(c)
        for c in subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()
    )
    sleeper = ["python", "-c", "import time; time.sleep(600)"]
    submitted = cli(
        [
            "submit",
            "--backend",
            "slurm",
            "--skip-smoke",
            "sleeps ten minutes",
            "--name",
            "sleeper",
            "--cpus",
            str(cpus),
            "--yes",
            "--format",
            "json",
            "--sweep",
            "params.n=1,2,3",
            "--",
            *sleeper,
            "--n",
            "0",
        ],
        project,
    )
    assert submitted.returncode == 0, submitted.stderr
    record = json.loads(submitted.stdout)
    sweep_id, members = record["sweep_id"], [m["run_id"] for m in record["members"]]
    arrays = [a["job_id"] for a in record["arrays"]]
    request.addfinalizer(lambda: subprocess.run(["scancel", *arrays], check=False))
    other = cli(
        ["submit", "--backend", "slurm", "--skip-smoke", "x", "--name", "keeper", "--yes", "--", *sleeper],
        project,
    )
    assert other.returncode == 0, other.stderr
    keeper = next(p.name for p in (project / "runs").glob("keeper_*"))
    keeper_job = str(manifest(project / "runs" / keeper)["job_id"])
    request.addfinalizer(lambda: subprocess.run(["scancel", keeper_job], check=False))

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ids(project, "--state", "pending", "--name", "sleeper"):
        time.sleep(2)
    pending = ids(project, "--state", "pending", "--name", "sleeper")
    assert pending, "no member of the sweep is pending"

    refused = cli(["cancel", "--name", "sleeper", "--state", "pending"], project)  # no terminal, no --yes
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert all(manifest(project / "runs" / m).get("cancel_requested") is None for m in members)
    bad = cli(["cancel", "--state", "pendin"], project)
    assert bad.returncode == 2 and "did you mean pending?" in bad.stderr

    cancelled = cli(["cancel", "--name", "sleeper", "--state", "pending", "--yes"], project)
    assert cancelled.returncode == 0, cancelled.stderr
    hit = [m for m in members if manifest(project / "runs" / m).get("cancel_requested")]
    assert hit and manifest(project / "runs" / keeper).get("cancel_requested") is None
    # a member listed pending and not cancelled had started meanwhile (a busy cluster: CI's other suites)
    for missed in set(pending) - set(hit):
        history = [h["state"] for h in manifest(project / "runs" / missed)["state_history"]]
        assert "running" in history or "completed" in history, (missed, history)

    by_sweep = cli(["cancel", sweep_id], project)
    assert by_sweep.returncode in (0, 1), by_sweep.stderr  # members already cancelled say "not running"
    assert all(manifest(project / "runs" / m).get("cancel_requested") for m in members)
    assert cli(["cancel", "--name", "keeper", "--yes"], project).returncode == 0
    deadline = time.monotonic() + 120
    states: list[str] = []
    while time.monotonic() < deadline:
        rows = json.loads(cli(["status", "--json", "--limit", "10"], project).stdout)["runs"]
        states = [r["state"] for r in rows]
        if all(s == "cancelled" for s in states):
            break
        time.sleep(3)
    assert states and all(s == "cancelled" for s in states), states
