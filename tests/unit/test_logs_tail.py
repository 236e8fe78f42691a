"""`clusterrun logs --tail N`: where the last N lines of a log begin, read from its end."""

from __future__ import annotations

from pathlib import Path

from clusterrun.cli.logs import tail_offset


def _tail(path: Path, lines: int, start: int = 0, end: int | None = None) -> bytes:
    data = path.read_bytes()
    return data[tail_offset(path, lines, start, end) : len(data) if end is None else end]


def test_the_last_lines_with_or_without_a_final_newline(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    log.write_bytes(b"a\nb\nc\n")
    assert _tail(log, 2) == b"b\nc\n" and _tail(log, 3) == b"a\nb\nc\n" and _tail(log, 9) == b"a\nb\nc\n"
    log.write_bytes(b"a\nb\nc")  # a last line still being written counts as a line
    assert _tail(log, 1) == b"c" and _tail(log, 2) == b"b\nc"
    log.write_bytes(b"")
    assert _tail(log, 5) == b""
    assert tail_offset(tmp_path / "missing.log", 5) == 0


def test_a_log_larger_than_a_block_and_a_span_of_it(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    lines = [f"epoch {i} loss {1 / (i + 1):.6f}\n".encode() for i in range(20_000)]  # ~500 KB
    log.write_bytes(b"".join(lines))
    assert _tail(log, 3) == b"".join(lines[-3:])
    assert _tail(log, 10_000) == b"".join(lines[-10_000:])
    start, end = sum(map(len, lines[:100])), sum(map(len, lines[:200]))  # an attempt's part
    assert _tail(log, 2, start, end) == b"".join(lines[198:200])
    assert _tail(log, 500, start, end) == b"".join(lines[100:200])  # no further back than its start
