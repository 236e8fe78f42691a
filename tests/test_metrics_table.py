"""The promise: a script that logs its metrics to a table of its own (a csv.DictWriter, Lightning's or
Keras' CSVLogger) has them read as the run's metrics once metrics.file names the table, and a smoke
test that wrote such a table while no metrics file was read says so, with the setting (found by a user
trial: a PyTorch script's out/metrics.csv was listed as an artifact, and its metrics shown nowhere)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import cli, committed

TRAIN = """\
import csv, os, time
os.makedirs("out", exist_ok=True)
with open("out/metrics.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["epoch", "train_loss", "val_acc", "epoch_time"])
    w.writeheader()
    for epoch in range(3):
        w.writerow({"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "val_acc": [0.5, 0.9, 0.8][epoch],
                    "epoch_time": time.time() % 1})
"""
CONFIG = "name: tab\ncommand: python train.py\nresources: {time: '00:05:00', mem: 500M}\n"


def test_a_table_the_script_writes_is_found_by_the_smoke_test_and_read_as_the_runs_metrics(
    tmp_path: Path,
) -> None:
    root = committed(
        tmp_path / "proj", {"train.py": TRAIN, "configs/tab.yaml": CONFIG, ".gitignore": "out/\n"}
    )
    dry = cli(["submit", "configs/tab.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    said = " ".join(dry.stderr.split())
    assert "the smoke test wrote a table of metrics, out/metrics.csv (train_loss, val_acc)" in said, said
    assert "set metrics.file: work/out/metrics.csv" in said and "metrics.ignore: [epoch_time]" in said
    plain = cli(["submit", "configs/tab.yaml", "--backend", "local", "--wait", "--yes"], root)
    assert plain.returncode == 0, plain.stderr + plain.stdout
    shown = " ".join(plain.stdout.split())  # the results block says it too, for a table a whole run wrote
    assert "Note: the command wrote a table of metrics, work/out/metrics.csv (train_loss, val_acc)" in shown
    ran = cli(
        ["submit", "configs/tab.yaml", "--backend", "local", "--wait", "--yes", "--force",
         "metrics.file=work/out/metrics.csv", "metrics.ignore=[epoch_time]"],
        root,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "table of metrics" not in ran.stderr + ran.stdout  # read now: nothing to say
    ended = [
        p for p in (root / "runs").iterdir() if p.name.startswith("tab_") and (p / "summary.json").exists()
    ]
    run = next(p for p in ended if "work/out/metrics.csv" in (p / "config.yaml").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["val_acc"] == 0.8 and summary["metrics"]["train_loss"] == 1.0 / 3, summary
    assert summary["metrics_best"]["val_acc"]["value"] == 0.9, summary["metrics_best"]
    assert "val_acc=0.8" in ran.stdout
    shown = cli(["status", run.name, "--json"], root)
    assert json.loads(shown.stdout)["runs"][0]["metrics"]["val_acc"] == 0.8, shown.stdout


RESULTS = """\
import argparse, json, os
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
args = p.parse_args()
os.makedirs("out", exist_ok=True)
with open("out/args.json", "w") as f:  # the settings, with a learning rate: not results
    json.dump({"epochs": args.epochs, "lr": 0.1}, f)
for epoch in range(args.epochs):
    print(f"epoch {epoch} loss {1.0 / (epoch + 1):.4f}")
with open("out/results.json", "w") as f:  # indented, nested: what a script's final results look like
    json.dump({"final_loss": 1.0 / args.epochs, "test": {"acc": 0.75, "f1": 0.5}, "name": "x"}, f, indent=2)
"""
RESULTS_CONFIG = (
    "name: res\ncommand: python train.py --epochs {epochs}\nparams: {epochs: 3}\n"
    "metrics: {patterns: {loss: 'loss ([0-9.]+)'}}\nresources: {time: '00:05:00', mem: 500M}\n"
)


def test_a_results_document_the_script_writes_is_found_and_read_as_the_runs_final_metrics(
    tmp_path: Path,
) -> None:
    """A script that ends with `json.dump(results, f, indent=2)`: the smoke test names that file (not
    the settings it also dumped) and, once metrics.file names it, its numbers, nested ones flattened
    (test_acc), are the run's metrics beside the printed ones, and reproduce compares them."""
    root = committed(
        tmp_path / "proj", {"train.py": RESULTS, "configs/res.yaml": RESULTS_CONFIG, ".gitignore": "out/\n"}
    )
    dry = cli(["submit", "configs/res.yaml", "--backend", "local", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    said = " ".join(dry.stderr.split())
    assert "wrote a file of metrics, out/results.json (final_loss, test_acc, test_f1)" in said, said
    assert "set metrics.file: work/out/results.json" in said and "args.json" not in said
    ran = cli(
        ["submit", "configs/res.yaml", "--backend", "local", "--wait", "--yes",
         "metrics.file=work/out/results.json"],
        root,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "of metrics" not in ran.stderr + ran.stdout  # read now: nothing to say
    run = next(p for p in (root / "runs").iterdir() if (p / "summary.json").exists())
    metrics = json.loads((run / "summary.json").read_text())["metrics"]
    assert metrics == {"final_loss": 1.0 / 3, "test_acc": 0.75, "test_f1": 0.5, "loss": 0.3333}, metrics
    again = cli(["reproduce", run.name, "--backend", "local", "--wait", "--yes"], root)
    assert again.returncode == 0 and "REPRODUCED: 4 metric(s) match" in again.stdout, again.stdout


def test_a_results_file_holding_only_what_is_printed_and_read_already_is_not_mentioned(
    tmp_path: Path,
) -> None:
    """The script prints `train_loss=...` (read by its pattern) and also dumps it to outputs/final.json:
    the smoke test and the results block told the user to read the file instead (a user trial)."""
    script = (
        "import json, os\nos.makedirs('outputs', exist_ok=True)\nprint('train_loss=0.25')\n"
        "json.dump({'train_loss': 0.25}, open('outputs/final.json', 'w'))\n"
    )
    config = (
        "name: fin\ncommand: python train.py\nmetrics: {patterns: {train_loss: 'train_loss=([0-9.]+)'}}\n"
        "resources: {time: '00:05:00', mem: 500M}\n"
    )
    root = committed(
        tmp_path / "proj", {"train.py": script, "configs/fin.yaml": config, ".gitignore": "outputs/\n"}
    )
    ran = cli(["submit", "configs/fin.yaml", "--backend", "local", "--wait", "--yes"], root)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "train_loss=0.25" in ran.stdout and "of metrics" not in ran.stderr + ran.stdout
