"""SLURM time limits and memory sizes: parsing, validation and canonical formatting."""

from __future__ import annotations

import pytest

from clusterrun.config.resources import (
    format_mem_mb,
    format_seconds,
    parse_mem_mb,
    parse_time_seconds,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30 * 60),  # MM
        ("90", 90 * 60),  # MM may exceed 59
        ("05:30", 5 * 60 + 30),  # MM:SS
        ("02:00:00", 2 * 3600),  # HH:MM:SS
        ("36:00:00", 36 * 3600),  # hours may exceed 23 without a day part
        ("1-12", 86400 + 12 * 3600),  # D-HH
        ("2-03:04", 2 * 86400 + 3 * 3600 + 4 * 60),  # D-HH:MM
        ("1-12:30:15", 86400 + 12 * 3600 + 30 * 60 + 15),  # D-HH:MM:SS
        ("0-00:00:01", 1),
        (" 10 ", 600),
        (45, 45 * 60),  # an int from YAML means minutes
        # with units, as people write a time ('90m' was refused as not a time limit)
        ("90m", 90 * 60),
        ("2h", 2 * 3600),
        ("1.5h", 5400),
        ("1d12h", 86400 + 12 * 3600),
        ("1h 30m", 5400),
        ("45s", 45),
        ("10min", 600),
        ("2H", 7200),
    ],
)
def test_parse_time_seconds_accepts_slurm_formats(text: str | int, seconds: int) -> None:
    assert parse_time_seconds(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "99:99",
        "lots",
        "25:61:00",
        "0",
        "",
        "1-25",
        "-5",
        "1:2:3:4",
        "00:00:00",
        "1-",
        "a-01",
        "1.5",
        "0m",
        "2x",
        "h",
        "m5",
        "1d-2h",
        "2ms",
        "UNLIMITED",
        True,
        0,
        -3,
    ],
)
def test_parse_time_seconds_rejects_invalid(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_time_seconds(bad)  # type: ignore[arg-type]


def test_time_error_message_lists_the_accepted_formats() -> None:
    with pytest.raises(ValueError, match="D-HH:MM:SS"):
        parse_time_seconds("lots")


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("4G", 4096),
        ("500M", 500),
        ("1.5G", 1536),
        ("100", 100),  # no unit means MB, like SLURM
        (100, 100),
        ("2GB", 2048),
        ("2GiB", 2048),
        ("1T", 1024 * 1024),
        ("4g", 4096),
        ("2048K", 2),
        ("1K", 1),  # rounded up, never to zero
    ],
)
def test_parse_mem_mb(text: str | int, mb: int) -> None:
    assert parse_mem_mb(text) == mb


@pytest.mark.parametrize("bad", ["lots", "0", "-1G", "", "0G", "4X", "G", "1.5.2G", True])
def test_parse_mem_mb_rejects_invalid(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_mem_mb(bad)  # type: ignore[arg-type]


def test_parse_mem_mb_rejects_a_bytes_suffix() -> None:
    with pytest.raises(ValueError):
        parse_mem_mb("100B")


@pytest.mark.parametrize(("mb", "text"), [(4096, "4G"), (500, "500M"), (1536, "1536M"), (1024 * 1024, "1T")])
def test_format_mem_mb_is_the_shortest_exact_spelling(mb: int, text: str) -> None:
    assert format_mem_mb(mb) == text


@pytest.mark.parametrize("mb", [1, 500, 1023, 1024, 1536, 4096, 10 * 1024 * 1024, 3 * 1024 * 1024 + 1])
def test_mem_round_trip(mb: int) -> None:
    assert parse_mem_mb(format_mem_mb(mb)) == mb


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "00:00:01"), (3600, "01:00:00"), (86399, "23:59:59"), (86400, "1-00:00:00"), (90061, "1-01:01:01")],
)
def test_format_seconds(seconds: int, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 3599, 3600, 86399, 86400, 90061, 7 * 86400 + 5])
def test_time_round_trip(seconds: int) -> None:
    assert parse_time_seconds(format_seconds(seconds)) == seconds


@pytest.mark.parametrize("text", ["30", "05:30", "1-12", "2-03:04", "36:00:00"])
def test_time_normalisation_is_idempotent(text: str) -> None:
    canonical = format_seconds(parse_time_seconds(text))
    assert format_seconds(parse_time_seconds(canonical)) == canonical
