"""records/summary.caught_error: the error a run that exited 0 caught and logged, from its stderr."""

from __future__ import annotations

from pathlib import Path

from clusterrun.records.summary import caught_error

CAUGHT = """\
INFO:train:epoch 0 done
ERROR:train:evaluation failed
Traceback (most recent call last):
  File "/x/runs/r/work/train.py", line 52, in main
    evaluate(model)
  File "/x/runs/r/work/train.py", line 58, in evaluate
    test = torch.load("data/test.pt")
  File "/usr/lib/python3.11/site-packages/torch/serialization.py", line 776, in __init__
    super().__init__(open(name, mode))
FileNotFoundError: [Errno 2] No such file or directory: 'data/test.pt'
"""

FINALIZER = """\
Exception ignored in: <function _ConnectionBase.__del__ at 0x7f>
Traceback (most recent call last):
  File "/usr/lib/python3.11/multiprocessing/connection.py", line 132, in __del__
    self._close()
OSError: [Errno 9] Bad file descriptor
"""


def _stderr(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stderr.log"
    path.write_text(text)
    return path


def test_a_caught_error_is_its_exception_and_where_the_users_code_raised_it(tmp_path: Path) -> None:
    exception = "FileNotFoundError: [Errno 2] No such file or directory: 'data/test.pt'"
    assert caught_error(_stderr(tmp_path, CAUGHT)) == f"{exception} (train.py line 58, in evaluate)"


def test_no_traceback_no_caught_error(tmp_path: Path) -> None:
    assert caught_error(_stderr(tmp_path, "INFO:train:done\nwarning: something\n")) == ""
    assert caught_error(tmp_path / "missing.log") == ""


def test_an_error_in_a_finalizer_at_exit_is_not_one_the_script_caught(tmp_path: Path) -> None:
    assert caught_error(_stderr(tmp_path, "INFO:train:done\n" + FINALIZER)) == ""
