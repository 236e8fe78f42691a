"""--format: one render layer over the services' typed results (cli/render.py). --json is --format json;
ids are for piping; csv is one row per run. Dry runs only: nothing reaches a scheduler."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.helpers import cli, no_traceback

DRY = ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"]


def test_ids_and_csv_of_runs_and_of_a_sweep(project: Path) -> None:
    single = cli([*DRY, "--format", "ids", "params.steps=7"], project)
    assert single.returncode == 0, single.stderr
    (run_id,) = single.stdout.split()
    sweep = cli([*DRY, "--json", "--sweep", "params.lr=0.1,0.05"], project)
    record = json.loads(sweep.stdout)
    members = [m["run_id"] for m in record["members"]]

    ids = cli(["status", "--format", "ids"], project)
    assert ids.returncode == 0 and sorted(ids.stdout.split()) == sorted([run_id, *members])
    table = list(csv.DictReader(io.StringIO(cli(["status", "--format", "csv"], project).stdout)))
    assert {row["run_id"] for row in table} == {run_id, *members}
    assert {row["state"] for row in table} == {"dry_run"} and "elapsed_seconds" in table[0]

    by_sweep = cli(["status", record["sweep_id"], "--format", "csv"], project)
    rows = list(csv.DictReader(io.StringIO(by_sweep.stdout)))
    assert [row["run_id"] for row in rows] == members
    assert [row["params.lr"] for row in rows] == ["0.1", "0.05"]
    assert cli(["status", record["sweep_id"], "--format", "ids"], project).stdout.split() == members
    empty = cli(["status", "--format", "csv", "--name", "nothing*"], project)
    assert empty.stdout.splitlines() == ["run_id,name,state,elapsed_seconds,job_id,node,backend"]


def test_json_is_format_json_and_they_must_agree(project: Path) -> None:
    run_id = cli([*DRY, "--format", "ids"], project).stdout.strip()
    shown = cli(["show", run_id, "--json"], project).stdout
    assert shown == cli(["show", run_id, "--format", "json"], project).stdout
    both = cli(["status", "--json", "--format", "json"], project)
    assert both.returncode == 0 and json.loads(both.stdout)["runs"][0]["run_id"] == run_id
    clash = cli(["status", "--json", "--format", "csv"], project)
    assert clash.returncode == 2 and "--json and --format csv disagree" in clash.stderr
    no_traceback(clash)
    unknown = cli(["show", run_id, "--format", "csv"], project)  # show has no csv: typer's usage error
    assert unknown.returncode == 2 and "--format" in unknown.stderr
