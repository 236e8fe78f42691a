"""Metrics from TensorBoard event files (analysis/tfevents.py): a user trial's script logged with
`SummaryWriter.add_scalar` and wandb and printed only its progress; its runs had no metrics, reproduce
had nothing to compare, and nothing said where its metrics were. `metrics.file: work/tb` now reads the
event files (any number, whatever their names), the smoke test and the results block say so when the
command wrote some, and compare pairs each run's event file (and wandb's run folder) despite the time,
host and id in their names.

The fixtures are event files written by real writers: tensorboardX's SummaryWriter (scalars as
`simple_value`, as PyTorch writes them; a histogram, a text summary, a NaN, `add_scalars` folders), and
tensorboard's own EventFileWriter with TensorFlow 2's tensor scalars (a float, a double in
`tensor_content`, the `scalars` plugin named once; a 2x3 tensor that is not a scalar)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from clusterrun.analysis import history, metric_fold, tfevents
from clusterrun.analysis.metrics import metrics_file_kind, unread_metrics_file
from clusterrun.records.outputs import timeless
from clusterrun.services.query import parse_where
from tests.helpers import cli, git, no_traceback

FIXTURES = Path(__file__).parent / "fixtures" / "tfevents"
PYTORCH = FIXTURES / "pytorch-style"
TF2 = FIXTURES / "tf2-style"


def rows(path: Path) -> list[dict[str, object]]:
    return [row for block in tfevents.row_blocks(path) for row in block]


def test_scalars_are_read_from_simple_values_and_the_rest_is_skipped() -> None:
    found = rows(PYTORCH)
    loss = [(r["step"], r["train/loss"]) for r in found if "train/loss" in r]
    assert loss[:5] == [(0, 1.0), (1, 0.5), (2, 0.33333334), (3, 0.25), (4, 0.2)]  # float32, shortest
    assert loss[5][0] == 5 and math.isnan(float(str(loss[5][1])))  # a NaN logged is a NaN read
    assert [r["val/acc"] for r in found if "val/acc" in r] == [0.5, 0.6, 0.7, 0.8, 0.9]
    # add_scalars' folders prefix their tags; the histogram and the text summary are not scalars
    assert {k for r in found for k in r} == {
        "step",
        "train/loss",
        "val/acc",
        "loss/train/loss",
        "loss/val/loss",
    }
    assert [r for r in found if "loss/val/loss" in r] == [{"step": 4, "loss/val/loss": 0.2}]


def test_tensorflow_2_tensor_scalars_are_read_and_other_tensors_are_not() -> None:
    found = rows(TF2)
    assert [r["train/loss"] for r in found if "train/loss" in r] == [1.0, 0.5, 0.33333334, 0.25, 0.2]
    assert [r["lr"] for r in found if "lr" in r] == [0.01] * 5  # a double, in tensor_content
    assert [r["step"] for r in found if "lr" in r] == [0, 1, 2, 3, 4]
    assert not any("hist" in r for r in found)


def test_a_file_being_written_or_damaged_gives_what_is_complete(tmp_path: Path) -> None:
    whole = next(TF2.glob("events.out.tfevents.*")).read_bytes()
    cut = tmp_path / "cut" / "events.out.tfevents.1.host"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) // 2])  # written up to the middle of a record
    assert 0 < len(rows(cut.parent)) < len(rows(TF2))
    junk = tmp_path / "junk" / "events.out.tfevents.2.host"
    junk.parent.mkdir()
    junk.write_bytes(b"\xff" * 12 + b"not an event file at all" * 100)
    assert rows(junk.parent) == []
    assert tfevents.is_events(junk.parent) and not tfevents.is_events(tmp_path / "nothing")


def test_a_folder_of_event_files_is_a_metrics_file_with_values_curves_and_a_signature(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(PYTORCH, run / "work" / "tb")
    fold = metric_fold.read(run / "work" / "tb")
    assert fold.last["val/acc"] == 0.9 and fold.last["loss/train/loss"] == 0.1
    assert fold.non_finite == {"train/loss": "nan"}  # its last value: said, not hidden
    sources = history.Sources(file="work/tb")
    curves = history.load(run, sources).series
    assert curves["val/acc"].values == [0.5, 0.6, 0.7, 0.8, 0.9] and curves["val/acc"].steps == [
        0,
        1,
        2,
        3,
        4,
    ]
    before = history._signature(run, sources)
    with open(next((run / "work" / "tb").glob("events.*")), "ab") as handle:
        handle.write(b"\0")  # an event file grows: the cached curves are read again
    assert history._signature(run, sources) != before


def test_where_an_unread_event_file_is_the_folder_metrics_file_names() -> None:
    written = [
        "work/tb/events.out.tfevents.1796689535.vm",
        "work/tb/loss/train/events.out.tfevents.1796689535.vm",
        "work/ckpt.pt",
    ]
    files = {
        written[0]: PYTORCH / "events.out.tfevents.1796689535.vm",
        written[1]: PYTORCH / "loss" / "train" / "events.out.tfevents.1796689535.vm",
    }
    folder, names, _ = unread_metrics_file(written, files.get, [])
    assert folder == "work/tb" and names == ["train/loss", "val/acc"]
    read = ["train/loss", "val/acc"]
    assert unread_metrics_file(written[:1], files.get, read)[0] == ""  # read already
    # a folder named for one run (by its time, its version) is not the next run's: the one above it is
    for per_run, above in (
        ("work/outputs/2026-12-08/00-21-33/tb", "work/outputs"),  # Hydra's
        ("work/runs/Dec08_00-27-15_node7", "work/runs"),  # SummaryWriter()'s
        ("work/lightning_logs/version_0", "work/lightning_logs"),  # Lightning's TensorBoardLogger's
    ):
        path = f"{per_run}/events.out.tfevents.1796689535.vm"
        assert unread_metrics_file([path], {path: files[written[0]]}.get, [])[0] == above


def test_each_runs_event_file_and_wandb_folder_pair_despite_their_names() -> None:
    assert timeless("work/tb/events.out.tfevents.1796689635.vm") == timeless(
        "work/tb/events.out.tfevents.1796689651.node7.4242.0"
    )
    one = "work/wandb/offline-run-20261208_002715-m8xmvrb3/run-m8xmvrb3.wandb"
    other = "work/wandb/offline-run-20261208_002731-gaaj1xfa/run-gaaj1xfa.wandb"
    assert timeless(one) == timeless(other)
    assert timeless("work/out/run-abcdefgh.txt") == "work/out/run-abcdefgh.txt"  # not wandb's: as named


def test_a_tag_with_a_slash_can_be_filtered_on() -> None:
    condition = parse_where("train/loss<1")
    assert (condition.key, condition.op, condition.value) == ("train/loss", "<", "1")


SCRIPT = """\
import shutil, sys
# the event files a SummaryWriter wrote (tensorboardX's, tests/fixtures/tfevents): a run's own logs
shutil.copytree("events", "tb")
print("epoch 5/5 done", flush=True)
"""


def test_a_run_that_logs_to_tensorboard_has_its_metrics_read_or_is_told_where_they_are(project: Path) -> None:
    shutil.copytree(PYTORCH, project / "events")
    (project / "log_tb.py").write_text(SCRIPT)
    base = "name: tb\ncommand: python log_tb.py\nsmoke: {timeout: 60}\nresources: {time: '00:05:00'}\n"
    (project / "configs" / "tb.yaml").write_text(base)
    (project / "configs" / "tb_read.yaml").write_text(base + "metrics: {file: work/tb}\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "tb")
    told = cli(["submit", "configs/tb.yaml", "--backend", "local", "--yes", "--wait"], project)
    assert told.returncode == 0, told.stderr
    no_traceback(told)
    assert (
        "the smoke test wrote TensorBoard event files, tb (train/loss, val/acc), which is not read as the "
        "run's metrics: set metrics.file: work/tb" in " ".join(told.stderr.split())
    )
    assert "Note: the command wrote TensorBoard event files, work/tb (train/loss, val/acc)" in " ".join(
        (told.stdout + told.stderr).split()
    )
    read = cli(["submit", "configs/tb_read.yaml", "--backend", "local", "--yes", "--wait", "--json"], project)
    assert read.returncode == 0, read.stderr
    record = json.loads(read.stdout)
    summary = json.loads((project / "runs" / record["run_id"] / "summary.json").read_text())
    assert summary["metrics"]["val/acc"] == 0.9 and summary["metrics"]["loss/val/loss"] == 0.2
    assert summary["metrics_non_finite"] == {"train/loss": "nan"}
    assert summary["metrics_best"]["val/acc"]["value"] == 0.9
    listed = cli(["status", "--where", "val/acc>0.5", "--format", "ids"], project)
    assert listed.returncode == 0 and listed.stdout.split() == [record["run_id"]], listed.stderr


def _records(data: bytes) -> list[bytes]:
    """An event file's TFRecords, each whole (length, its CRC, the event, its CRC)."""
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 8], "little")
        out.append(data[pos : pos + 16 + length])
        pos += 16 + length
    return out


def test_a_growing_event_file_is_read_on_from_where_the_last_read_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A status of a running job re-read every event file whole each refresh (3.5 us a scalar: a
    million scalars, 3.5 s a refresh); it reads on from the last complete record now, a record being
    written is left for the next read, and the answer is the same as a whole read's."""
    records = _records(next(PYTORCH.glob("events.*")).read_bytes())
    folder = tmp_path / "tb"
    folder.mkdir()
    events = folder / "events.out.tfevents.1.host"
    half = len(records) // 2
    events.write_bytes(b"".join(records[:half]))
    starts: list[int] = []
    chunks = tfevents.chunks

    def counted(handle, prefix=""):  # type: ignore[no-untyped-def]
        starts.append(handle.tell())
        return chunks(handle, prefix)

    monkeypatch.setattr(tfevents, "chunks", counted)
    metric_fold.forget()
    metric_fold.read(folder)
    written = events.stat().st_size
    with open(events, "ab") as handle:
        handle.write(b"".join(records[half:-1]) + records[-1][:10])  # the last one half-written
    metric_fold.read(folder)
    assert starts == [0, written]
    with open(events, "ab") as handle:
        handle.write(records[-1][10:])
    continued = metric_fold.read(folder)
    metric_fold.forget()
    whole = metric_fold.read(folder)
    assert starts[-1] == 0 and starts[-2] > written  # read on, then (forgotten) from the start
    assert (continued.last, continued.non_finite, continued.series) == (
        whole.last,
        whole.non_finite,
        whole.series,
    )
    assert whole.series["train/loss"].count == 5 and whole.non_finite == {"train/loss": "nan"}


def test_a_record_too_large_to_be_a_scalar_is_skipped_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image is a record of megabytes: skipped by its length, within a block and across blocks."""
    records = _records(next(TF2.glob("events.*")).read_bytes())
    image = (tfevents.MAX_RECORD + 10).to_bytes(8, "little") + b"\0" * (tfevents.MAX_RECORD + 18)
    folder = tmp_path / "tb"
    folder.mkdir()
    (folder / "events.out.tfevents.1.host").write_bytes(records[0] + image + b"".join(records[1:]) + image)
    expected = rows(TF2)
    assert rows(folder) == expected
    monkeypatch.setattr(tfevents, "READ_BLOCK", 1000)  # the image spans blocks
    assert rows(folder) == expected


def test_the_sites_curves_come_from_every_kind_of_metrics_file(tmp_path: Path) -> None:
    """The site's run page drew no curves for a run whose metrics file was TensorBoard's log folder, a
    table (metrics.csv) or a JSON document: it shipped the file's text to the browser, which parses
    JSON lines only. Their rows go as JSON lines now; and a log folder whose event file grows makes
    the run's pages again (the folder's own mtime does not change)."""
    from clusterrun.dashboard import records

    run = tmp_path / "run"
    shutil.copytree(TF2, run / "work" / "tb")
    (run / "work" / "out.csv").write_text("epoch,val_loss\n0,0.5\n1,0.25\n")
    (run / "work" / "res.json").write_text('{"test_acc": 0.9}')
    (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1}\n')
    for file, first in (
        ("work/tb", {"step": 0, "train/loss": 1.0}),
        ("work/out.csv", {"epoch": 0, "val_loss": 0.5}),
        ("work/res.json", {"test_acc": 0.9}),
        ("metrics.jsonl", {"step": 0, "loss": 1}),
    ):
        record = records.RunRecord("run", run, {"config": {"metrics": {"file": file}}}, None)
        texts = records.metrics_text(record, 1 << 20)
        assert texts is not None
        assert json.loads(texts[0].splitlines()[0]) == first, file
    before = records.signature(run, "work/tb")
    with open(next((run / "work" / "tb").glob("events.*")), "ab") as handle:
        handle.write(b"\0" * 8)
    assert records.signature(run, "work/tb") != before


def test_a_folder_of_tables_is_read_in_version_order_as_one_file(tmp_path: Path) -> None:
    """Lightning starts a new `version_N` for each process: a requeued run's CSVLogger tables are
    version_0/metrics.csv (its first attempt) and version_1/... Naming version_0's table read the first
    attempt's values as the run's final ones; `metrics.file: work/lightning_logs` reads them all, in
    order (version_2 before version_10), and the smoke test and results name that folder."""
    logs = tmp_path / "run" / "work" / "lightning_logs"
    for version, (step, loss) in {0: (0, 0.9), 1: (1, 0.5), 2: (2, 0.4), 10: (3, 0.1)}.items():
        (logs / f"version_{version}").mkdir(parents=True)
        (logs / f"version_{version}" / "metrics.csv").write_text(f"step,val_loss\n{step},{loss}\n")
        (logs / f"version_{version}" / "hparams.yaml").write_text("lr: 0.1\n")
    fold = metric_fold.read(logs)
    assert fold.last == {"step": 3, "val_loss": 0.1} and fold.series["val_loss"].count == 4
    assert fold.series["val_loss"].low_step == 3
    assert [r["val_loss"] for r in history.read_rows(logs)] == [0.9, 0.5, 0.4, 0.1]
    assert [r["val_loss"] for block in metric_fold.row_blocks(logs) for r in block] == [0.9, 0.5, 0.4, 0.1]
    written = [f"work/lightning_logs/version_{v}/metrics.csv" for v in (0, 1)]
    folder, names, _ = unread_metrics_file(written, lambda rel: tmp_path / "run" / rel, [])
    assert folder == "work/lightning_logs" and names == ["val_loss"]
    assert metrics_file_kind(folder, tmp_path / "run" / folder) == "tables of metrics"
    assert metrics_file_kind("work/tb", PYTORCH) == "TensorBoard event files"
