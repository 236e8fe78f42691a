"""sacct/squeue output parsing into normalised JobStatus records."""

from __future__ import annotations

import pytest

from clusterrun.scheduler.base import ACTIVE, TERMINAL, SharedStrings
from clusterrun.scheduler.sacct import (
    SACCT_FIELDS,
    normalise_state,
    parse_exit_code,
    parse_reasons,
    parse_rss_mb,
    parse_sacct,
    parse_squeue,
)

# `sacct -n -P -o JobID,State,ExitCode,ElapsedRaw,NodeList,Start,End,MaxRSS`
SACCT_OUTPUT = """\
101|COMPLETED|0:0|125|node01|2026-01-01T10:00:00|2026-01-01T10:02:05||02:01.500
101.batch|COMPLETED|0:0|125|node01|2026-01-01T10:00:00|2026-01-01T10:02:05|123456K|
101.extern|COMPLETED|0:0|125|node01|2026-01-01T10:00:00|2026-01-01T10:02:05|1024K|
101.0|COMPLETED|0:0|120|node01|2026-01-01T10:00:01|2026-01-01T10:02:04|1.5G|
102|CANCELLED by 0|0:0|30|node02|2026-01-01T10:00:00|2026-01-01T10:00:30||00:00.010
102.batch|CANCELLED|0:15|30|node02|2026-01-01T10:00:00|2026-01-01T10:00:31|2048K|
103|FAILED|0:9|7|node[03-04]|2026-01-01T10:00:00|2026-01-01T10:00:07||1-00:00:01
104|OUT_OF_MEMORY|0:125|60|node01|2026-01-01T10:00:00|2026-01-01T10:01:00||
123_4|RUNNING|0:0|42|node05|2026-01-01T10:00:00|Unknown||
123_4.batch|RUNNING|0:0|42|node05|2026-01-01T10:00:00|Unknown||
124_[0-3%2]|PENDING|0:0|0|None assigned|Unknown|Unknown||
125|FLUMMOXED|0:0|0|node06|Unknown|Unknown||
126|TIMEOUT|0:15|600|node07|2026-01-01T10:00:00|2026-01-01T10:10:00||10:00
"""


@pytest.fixture
def jobs() -> dict:
    return parse_sacct(SACCT_OUTPUT)


def test_only_job_lines_become_jobs(jobs: dict) -> None:
    expanded = {"124_0", "124_1", "124_2", "124_3"}  # a pending array line stands for all its members
    assert set(jobs) == {"101", "102", "103", "104", "123_4", "125", "126"} | expanded
    assert all(status.source == "sacct" for status in jobs.values())


def test_completed_job(jobs: dict) -> None:
    done = jobs["101"]
    assert done.state == "completed"
    assert done.terminal
    assert done.exit_code == 0
    assert done.signal == 0
    assert done.elapsed_seconds == 125
    assert done.node == "node01"
    assert done.start == "2026-01-01T10:00:00"
    assert done.end == "2026-01-01T10:02:05"


def test_max_rss_is_the_largest_step_in_mb(jobs: dict) -> None:
    assert jobs["101"].max_rss_mb == 1536.0  # the .0 step's 1.5G beats .batch's 123456K
    assert jobs["102"].max_rss_mb == 2.0
    assert jobs["103"].max_rss_mb is None  # no step reported any


def test_cancelled_by_uid(jobs: dict) -> None:
    cancelled = jobs["102"]
    assert cancelled.state == "cancelled"
    assert cancelled.cancelled_by == "0"
    assert cancelled.raw_state == "CANCELLED by 0"
    # the job line's exit code wins over the step's
    assert (cancelled.exit_code, cancelled.signal) == (0, 0)


def test_failed_with_signal(jobs: dict) -> None:
    failed = jobs["103"]
    assert failed.state == "failed"
    assert (failed.exit_code, failed.signal) == (0, 9)
    assert failed.node == "node[03-04]"


def test_array_member_running(jobs: dict) -> None:
    member = jobs["123_4"]
    assert member.state == "running"
    assert not member.terminal
    assert member.end == ""  # 'Unknown'
    assert member.start == "2026-01-01T10:00:00"


def test_pending_array(jobs: dict) -> None:
    pending = jobs["124_2"]
    assert pending.state == "pending"
    assert pending.node == ""  # 'None assigned'
    assert pending.start == "" and pending.end == ""
    assert pending.elapsed_seconds == 0


def test_unknown_state_word_is_unknown_and_not_terminal(jobs: dict) -> None:
    odd = jobs["125"]
    assert odd.state == "unknown"
    assert odd.raw_state == "FLUMMOXED"
    assert "unknown" not in TERMINAL
    assert "unknown" in ACTIVE
    assert not odd.terminal


def test_oom_and_timeout_are_terminal(jobs: dict) -> None:
    assert jobs["104"].state == "out_of_memory" and jobs["104"].terminal
    assert jobs["126"].state == "timeout" and jobs["126"].terminal


def test_short_and_empty_lines_are_ignored() -> None:
    assert parse_sacct("") == {}
    assert parse_sacct("\n101|COMPLETED|0:0\ngarbage\n") == {}


def test_sacct_fields_match_the_parser() -> None:
    assert SACCT_FIELDS == (
        "JobID",
        "State",
        "ExitCode",
        "ElapsedRaw",
        "NodeList",
        "Start",
        "End",
        "MaxRSS",
        "TotalCPU",
        "Reason",
        "Submit",
        "Cluster",
        "JobName",
    )


def test_pending_reason_from_sacct_and_squeue() -> None:
    jobs = parse_sacct(
        "7|PENDING|0:0|0|None assigned|Unknown|Unknown|||Priority\n"
        "8|PENDING|0:0|0|None assigned|Unknown|Unknown|||None\n"
        "9|COMPLETED|0:0|5|n1|2026-01-01T10:00:00|2026-01-01T10:00:05||00:01|None\n"
    )
    assert (jobs["7"].reason, jobs["8"].reason, jobs["9"].reason) == ("Priority", "", "")
    queued = parse_squeue("301|PENDING|0:00||QOSMaxJobsPerUserLimit\n302|PENDING|0:00|(Resources)\n")
    assert (queued["301"].reason, queued["302"].reason) == ("QOSMaxJobsPerUserLimit", "Resources")
    assert parse_reasons("7_1|JobHeldUser\n7_2|None\n8|(Dependency)\njunk\n") == {
        "7_1": "JobHeldUser",
        "8": "Dependency",
    }


def test_non_numeric_elapsed_is_none() -> None:
    status = parse_sacct("7|RUNNING|0:0||node1|2026-01-01T10:00:00|Unknown||\n")["7"]
    assert status.elapsed_seconds is None


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("COMPLETING", "running"),
        ("REQUEUED", "pending"),
        ("OUT_OF_MEMORY", "out_of_memory"),
        ("NODE_FAIL", "node_fail"),
        ("PREEMPTED", "preempted"),
        ("TIMEOUT", "timeout"),
        ("PENDING", "pending"),
        ("RUNNING", "running"),
        ("SUSPENDED", "suspended"),
        ("BOOT_FAIL", "boot_fail"),
        ("DEADLINE", "deadline"),
        ("completed", "completed"),
        ("  FAILED  ", "failed"),
        ("CANCELLED+", "cancelled"),
        ("", "unknown"),
        ("WHATEVER", "unknown"),
    ],
)
def test_normalise_state(raw: str, state: str) -> None:
    assert normalise_state(raw)[0] == state


@pytest.mark.parametrize("raw", ["OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "TIMEOUT", "COMPLETED", "FAILED"])
def test_finished_states_are_terminal(raw: str) -> None:
    assert normalise_state(raw)[0] in TERMINAL


@pytest.mark.parametrize("raw", ["COMPLETING", "REQUEUED", "PENDING", "RUNNING", "SUSPENDED", "CONFIGURING"])
def test_unfinished_states_are_not_terminal(raw: str) -> None:
    assert normalise_state(raw)[0] not in TERMINAL
    assert normalise_state(raw)[0] in ACTIVE


def test_normalise_state_cancelled_by() -> None:
    assert normalise_state("CANCELLED by 1000") == ("cancelled", "1000")
    assert normalise_state("CANCELLED") == ("cancelled", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:0", (0, 0)),
        ("1:0", (1, 0)),
        ("0:9", (0, 9)),
        (" 137:15 ", (137, 15)),
        ("", (None, None)),
        ("x:y", (None, None)),
        ("1", (None, None)),
    ],
)
def test_parse_exit_code(text: str, expected: tuple) -> None:
    assert parse_exit_code(text) == expected


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("123456K", 120.6),
        ("1.5G", 1536.0),
        ("512M", 512.0),
        ("1T", 1048576.0),
        ("1048576", 1.0),
        ("", None),
        ("n/a", None),
    ],
)
def test_parse_rss_mb(text: str, mb: float | None) -> None:
    assert parse_rss_mb(text) == mb


SQUEUE_OUTPUT = """\
201|RUNNING|1:23|node01
202|PENDING|0:00|(Resources)
203|RUNNING|1-02:03:04|node[01-02]
204|COMPLETING|5:06:07|node03
205_[1-9%3]|PENDING|0:00|
206|CANCELLED by 42|INVALID|node04
"""


def test_parse_squeue() -> None:
    jobs = parse_squeue(SQUEUE_OUTPUT)
    assert set(jobs) == {"201", "202", "203", "204", "205_[1-9%3]", "206"}
    assert all(status.source == "squeue" for status in jobs.values())
    assert (jobs["201"].state, jobs["201"].elapsed_seconds, jobs["201"].node) == ("running", 83, "node01")
    assert (jobs["202"].state, jobs["202"].node) == ("pending", "")  # a reason, not a node
    assert jobs["203"].elapsed_seconds == ((24 + 2) * 60 + 3) * 60 + 4
    assert jobs["203"].node == "node[01-02]"
    assert (jobs["204"].state, jobs["204"].elapsed_seconds) == ("running", 5 * 3600 + 6 * 60 + 7)
    assert jobs["205_[1-9%3]"].state == "pending"
    assert jobs["206"].cancelled_by == "42"
    assert jobs["206"].elapsed_seconds is None


def test_parse_squeue_ignores_junk() -> None:
    assert parse_squeue("") == {}
    assert parse_squeue("slurm_load_jobs error: Unable to contact slurm controller\n") == {}


def test_total_cpu_is_parsed_into_seconds(jobs: dict) -> None:
    assert jobs["101"].extra["total_cpu_seconds"] == pytest.approx(121.5)
    assert jobs["103"].extra["total_cpu_seconds"] == pytest.approx(86401)
    assert jobs["126"].extra["total_cpu_seconds"] == pytest.approx(600)
    assert "total_cpu_seconds" not in jobs["104"].extra


def test_expand_array_id() -> None:
    from clusterrun.scheduler.sacct import expand_array_id

    assert expand_array_id("124_[0-3%2]") == ["124_0", "124_1", "124_2", "124_3"]
    assert expand_array_id("124_[1,5-6]") == ["124_1", "124_5", "124_6"]
    assert expand_array_id("124_7") == ["124_7"] and expand_array_id("99") == ["99"]


# What SLURM 22.05's accounting printed for a 6-member array in the middle of its run: the pending line
# keeps the range it had at submission ([1-5]) and comes after the members that started since.
STALE_RANGE = """\
1049_0|COMPLETED|0:0|4|vm|2026-12-03T13:56:02|2026-12-03T13:56:06||
1049_0.batch|COMPLETED|0:0|4|vm|2026-12-03T13:56:02|2026-12-03T13:56:06|1000K|
1049_1|COMPLETED|0:0|3|vm|2026-12-03T13:56:07|2026-12-03T13:56:10||
1049_2|COMPLETED|0:0|3|vm|2026-12-03T13:56:11|2026-12-03T13:56:14||
1049_3|COMPLETED|0:0|4|vm|2026-12-03T13:56:15|2026-12-03T13:56:19||
1049_4|RUNNING|0:0|1|vm|2026-12-03T13:56:20|Unknown||
1049_[1-5%6]|PENDING|0:0|0|None assigned|Unknown|Unknown||
"""


def test_a_member_with_its_own_line_is_not_pending_again_by_the_arrays_stale_range() -> None:
    jobs = parse_sacct(STALE_RANGE)
    assert [jobs[f"1049_{i}"].state for i in range(6)] == [
        "completed",
        "completed",
        "completed",
        "completed",
        "running",
        "pending",  # only the member that has not started is still in the pending line
    ]


def test_an_end_whose_command_step_has_no_usage_yet_is_marked_pending() -> None:
    """Seen on 22.05 right after a scancel: the job and its steps are CANCELLED, the shell's step has its
    12 MB, the command's (submitit's srun, `.0`) none yet; seconds later it has 800 MB."""
    from clusterrun.scheduler.sacct import parse_sacct_records

    early = (
        "8082|CANCELLED by 0|0:0|13|vm|2026-12-04T05:35:17|2026-12-04T05:35:30||00:00.004\n"
        "8082.batch|CANCELLED|0:15|13|vm|2026-12-04T05:35:17|2026-12-04T05:35:30|12460K|00:00.004\n"
        "8082.extern|COMPLETED|0:0|13|vm|2026-12-04T05:35:17|2026-12-04T05:35:30||00:00:00\n"
        "8082.0|CANCELLED|0:9|13|vm|2026-12-04T05:35:17|2026-12-04T05:35:30||00:00:00\n"
    )
    (record,) = parse_sacct_records(early)
    assert record.state == "cancelled" and record.max_rss_mb == 12.2 and record.extra["usage_pending"]
    late = early.replace(
        "8082.0|CANCELLED|0:9|13|vm|2026-12-04T05:35:17|2026-12-04T05:35:30||00:00:00",
        "8082.0|CANCELLED|0:9|17|vm|2026-12-04T05:35:17|2026-12-04T05:35:34|831312K|00:09.440",
    )
    (record,) = parse_sacct_records(late)
    assert record.max_rss_mb == 811.8 and "usage_pending" not in record.extra


def test_crlf_line_ends_and_a_missing_last_newline_parse_as_plain_lines() -> None:
    """The parse reads its text a line at a time (not a list of every line at once): a Windows line end
    or a last line without one is still a line, and its fields are whole."""
    lines = SACCT_OUTPUT.splitlines()
    crlf = parse_sacct("\r\n".join(lines))  # no newline after the last line either
    assert crlf == parse_sacct(SACCT_OUTPUT)
    assert crlf["126"].extra == {"total_cpu_seconds": 600.0}  # the last field of the last line, whole


def test_records_of_one_array_share_their_recurring_values() -> None:
    """A big answer's records share one string per recurring value (state, node, cluster, name, submit
    time), not one per line: 10,000 ended runs held eight strings each."""
    times = "2026-01-01T10:00:00|2026-01-01T10:00:01"
    line = "7_{i}|COMPLETED|0:0|1|node01|" + times + "||00:00.1|None|2026-01-01T09:59:00|c1|sweep"
    records = parse_sacct("\n".join(line.format(i=i) for i in range(3)))
    first, second = records["7_0"], records["7_1"]
    for name in ("raw_state", "node", "cluster", "name", "submit_time"):
        assert getattr(first, name) is getattr(second, name), name
    assert (first.raw_state, first.node, first.cluster, first.name) == ("COMPLETED", "node01", "c1", "sweep")
    assert first.submit_time == "2026-01-01T09:59:00" and first.job_id != second.job_id


def test_shared_strings_give_one_string_per_value_and_stay_within_their_bound() -> None:
    same = SharedStrings(at_most=3)
    first = "".join(["clu", "ster"])
    again = "".join(["clus", "ter"])
    assert first is not again and same(first) is first and same(again) is first
    for text in ("a", "b"):
        same(text)
    assert len(same) == 3
    same("c")  # the table was full: emptied, then this one kept
    assert dict(same) == {"c": "c"} and same(again) is again
    unbounded = SharedStrings()
    for n in range(5000):
        unbounded(str(n))
    assert len(unbounded) == 5000
