"""A metrics file that is a table (.csv, .tsv: Lightning's and Keras' CSVLogger, a csv.DictWriter) is read
as rows, as a JSON-lines file is: by the summary's fold (continued as the file grows), the history and
the job wrapper's last step."""

from __future__ import annotations

import math
from pathlib import Path

from clusterrun.analysis import history, metric_fold, rowformat
from clusterrun.execution.attempts import last_step

# what Lightning's CSVLogger writes: a metric a row did not log is an empty cell
LIGHTNING = "epoch,step,train_loss,val_loss\n0,9,0.9,\n0,9,,0.8\n1,19,0.5,\n1,19,,0.45\n"


def test_a_tables_rows_are_its_headers_names_to_numbers_without_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(LIGHTNING)
    assert history.read_rows(path) == [
        {"epoch": 0, "step": 9, "train_loss": 0.9},
        {"epoch": 0, "step": 9, "val_loss": 0.8},
        {"epoch": 1, "step": 19, "train_loss": 0.5},
        {"epoch": 1, "step": 19, "val_loss": 0.45},
    ]
    fold = metric_fold.read(path)
    assert fold.last == {"epoch": 1, "step": 19, "train_loss": 0.5, "val_loss": 0.45}
    assert fold.series["val_loss"].low == 0.45 and fold.series["val_loss"].low_step == 19
    assert last_step(path, 0) == 19


def test_a_table_read_again_after_it_grew_continues_and_a_rewritten_one_is_read_anew(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    path.write_text("epoch\tloss\tnote\n0\t2.0\tstart\n")
    assert metric_fold.read(path).last == {"epoch": 0, "loss": 2.0}  # text cells are not metrics
    with path.open("a") as handle:
        handle.write("1\tnan\t\n2\t1.5\t\n")
    fold = metric_fold.read(path)
    assert fold.last == {"epoch": 2, "loss": 1.5} and fold.series["loss"].count == 2
    # a logger that rewrites its file whole, with a new column: the new header is the one read
    path.write_text("epoch\tloss\tacc\n0\t2.0\t0.1\n")
    assert metric_fold.read(path).last == {"epoch": 0, "loss": 2.0, "acc": 0.1}


def test_a_header_met_again_and_a_partial_last_line_are_not_rows(tmp_path: Path) -> None:
    rows = rowformat.table_rows("a,b\n1,2\na,b\n3,inf\n", ["a", "b"])
    assert rows[0] == {"a": 1, "b": 2} and rows[1]["a"] == 3 and math.isinf(rows[1]["b"])
    path = tmp_path / "m.csv"
    path.write_text("a,b")  # no whole header line yet
    assert rowformat.parser(path)("1,2\n") == []
    path.write_text("\ufeffstep,loss\n1,0.5\n2,0.4")  # a BOM (Excel), and a last line still being written
    assert history.read_rows(path)[-1] == {"step": 2, "loss": 0.4}
    assert metric_fold.read(path).last["step"] == 2  # the answer holds it; what is kept does not


def test_a_json_lines_file_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.5}\nnot json\n{"step": 2, "loss": 0.25}\n')
    assert [r["loss"] for r in history.read_rows(path)] == [0.5, 0.25]
    assert rowformat.parser(path) is rowformat.json_rows
    assert last_step(path, 0) == 2


def test_a_tables_header_is_never_read_through_a_symlink(tmp_path: Path) -> None:
    """A link planted in a run's directory in place of a table is not followed out of the registry."""
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("secret_loss,b\n1,2\n")
    link = tmp_path / "run" / "work" / "metrics.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    assert rowformat.header(outside) == ["secret_loss", "b"]
    assert rowformat.header(link) == []


def test_a_json_document_is_one_row_or_a_row_per_object_with_nested_names_joined() -> None:
    text = '\ufeff{\n  "loss": 0.5,\n  "test": {"acc": 0.9, "deep": {"er": {"x": 1}}},\n  "name": "a"\n}\n'
    assert rowformat.document_rows(text) == [{"loss": 0.5, "test_acc": 0.9, "name": "a"}]
    assert rowformat.document_rows('[{"step": 1, "loss": 2}, 3, {"step": 2, "loss": 1}]') == [
        {"step": 1, "loss": 2},
        {"step": 2, "loss": 1},
    ]
    assert rowformat.document_rows('{"loss": 0.5, "acc"') == []  # being rewritten: nothing yet
    assert rowformat.document_rows("3") == []


def test_a_json_document_is_folded_whole_each_time_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('[\n {"step": 1, "loss": 0.9},\n {"step": 2, "loss": 0.4}\n]\n')
    fold = metric_fold.read(path)
    assert fold.last == {"step": 2, "loss": 0.4} and fold.series["loss"].low_step == 2
    path.write_text('{"loss": 0.3,\n "acc": 0.8}')  # rewritten whole, shorter: read anew
    assert metric_fold.read(path).last == {"loss": 0.3, "acc": 0.8}
    assert [r for block in metric_fold.row_blocks(path) for r in block] == [{"loss": 0.3, "acc": 0.8}]
    assert history.read_rows(path) == [{"loss": 0.3, "acc": 0.8}]


def test_a_json_of_results_is_a_metrics_file_and_one_of_settings_is_not(tmp_path: Path) -> None:
    from clusterrun.analysis.metrics import metric_table, metrics_files_first

    (tmp_path / "results.json").write_text('{"val_acc": 0.9, "epochs": 3}')
    (tmp_path / "config.json").write_text('{"val_acc": 0.9}')  # named as settings
    (tmp_path / "dump.json").write_text('{"lr": 0.1, "batch_size": 32}')  # a learning rate is a setting
    (tmp_path / "broken.json").write_text('{"loss": ')
    assert metric_table(tmp_path / "results.json") == ["val_acc", "epochs"]
    assert [metric_table(tmp_path / n) for n in ("config.json", "dump.json", "broken.json")] == [[], [], []]
    assert metrics_files_first(["a/ckpt.json", "b/eval_results.json", "out/metrics.csv"]) == [
        "b/eval_results.json",
        "out/metrics.csv",
        "a/ckpt.json",
    ]
