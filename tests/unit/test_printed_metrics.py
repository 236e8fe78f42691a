"""Metrics printed on stdout as one JSON object (or Python dict) a line: their names are found (read as
literals, never executed) and the suggested pattern reads each one, and not another that ends with it."""

from __future__ import annotations

import re

from clusterrun.analysis.metrics import printed_names, printed_pattern

STDOUT = """\
starting
{"step": 1, "loss": 0.9, "lr": 0.001, "tag": "a", "done": false}
{'eval_loss': 0.25, 'epoch': 3.0}
{__import__('os').system('touch /tmp/never')}
{"nested": {"loss": 1}}
{not json at all}
{"step": 2, "loss": 0.5}
"""


def test_the_names_of_printed_numbers_are_found_in_order() -> None:
    assert printed_names(STDOUT) == ["step", "loss", "lr", "eval_loss", "epoch"]
    assert printed_names("no metrics here\n{}\n[1, 2]\n") == []


def test_the_suggested_pattern_reads_the_last_value_of_its_own_name_only() -> None:
    loss = [float(m) for m in re.findall(printed_pattern("loss"), STDOUT)]
    assert loss[-1] == 0.5 and 0.25 not in loss  # eval_loss is not loss
    assert [float(m) for m in re.findall(printed_pattern("eval_loss"), STDOUT)] == [0.25]
    assert re.findall(printed_pattern("lr"), '{"lr": 1e-05}') == ["1e-05"]


TABLE = """\
Epoch 0 | loss 0.6311 | acc 0.677 | took 1.52 s
epoch 1 | loss: -0.4952 | val_acc=0.867 | error 404 | lr 1e-3 | step 7
resumed from epoch 2
GPU 0.0 MB used; run-0.5 tag; x.loss 9.5
"""


def test_measures_printed_in_text_lines_are_found_by_name_with_a_decimal_value() -> None:
    # took and GPU are not measures; error 404 has no decimal point; step and epoch count; run-0.5 and
    # x.loss are parts of other names
    assert printed_names(TABLE) == ["loss", "acc", "val_acc", "lr"]
    assert [float(m) for m in re.findall(printed_pattern("loss"), TABLE)] == [0.6311, -0.4952]
    assert [float(m) for m in re.findall(printed_pattern("acc"), TABLE)] == [0.677]  # not val_acc's
    assert re.findall(printed_pattern("lr"), TABLE) == ["1e-3"]


def test_counters_are_shown_after_the_measures() -> None:
    """The quickstart's first status read `final_loss=0.009271 loss=0.009271 step=200 time=0.017`: a
    counter took a measure's place in the four shown."""
    from clusterrun.analysis.metrics import format_metrics

    shown = format_metrics({"final_loss": 0.5, "step": 200, "loss": 0.25, "acc": 0.9, "time": 1.5})
    assert shown == "final_loss=0.5 loss=0.25 acc=0.9 time=1.5 (+1)"
    assert format_metrics({"step": 3, "loss": 0.1}) == "loss=0.1 step=3"


def test_transformers_5_logs_its_numbers_as_text_and_they_are_read() -> None:
    """transformers 5's Trainer prints `{'loss': '0.6931', 'epoch': '1'}`: the names were missed (only
    numbers counted), so its training loss was never suggested (a user trial)."""
    hf = (
        "{'loss': '0.6931', 'grad_norm': '1.2', 'learning_rate': '1e-05', 'epoch': '1'}\n"
        "{'eval_loss': '0.6668', 'eval_runtime': '0.0237', 'epoch': '1'}\n"
        "{'train_runtime': '0.354', 'train_loss': '0.662', 'epoch': '2', 'note': 'x', 'bad': 'nan'}\n"
    )
    assert printed_names(hf) == [
        "loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "eval_runtime", "train_runtime",
        "train_loss",
    ]  # fmt: skip
    assert re.findall(printed_pattern("loss"), hf) == ["0.6931"]
    assert re.findall(printed_pattern("eval_loss"), hf) == ["0.6668"]


def test_times_are_told_from_measures() -> None:
    from clusterrun.analysis.metrics import timing_names

    names = ["loss", "fit_seconds", "train_runtime", "eval_samples_per_second", "epoch_time", "latency"]
    names += ["val_acc", "timestep", "total_iters", "lr"]
    assert timing_names(names) == [
        "fit_seconds",
        "train_runtime",
        "eval_samples_per_second",
        "epoch_time",
        "latency",
    ]
