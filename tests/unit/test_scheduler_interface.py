"""The scheduler layer's own contracts: the registry, submitit's names and private renderer, the SLURM
backend's limits and log evidence, and the built-in backends' state vocabularies."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from clusterrun import scheduler
from clusterrun.errors import SchedulerError, SchedulerUnavailable, UsageError
from clusterrun.scheduler import _submitit, info, registry, slurm_logs
from clusterrun.scheduler import checks as host_checks
from clusterrun.scheduler.base import STATES, TERMINAL, JobSpec, JobStatus
from clusterrun.scheduler.local import STATE_MAP as LOCAL_STATES
from clusterrun.scheduler.local import LocalScheduler
from clusterrun.scheduler.slurm import SlurmScheduler, cluster_limits, executor_parameters

SPEC = JobSpec(
    run_dir="/runs/r",
    folder="/runs/r/scheduler",
    job_name="clusterrun:r",
    chdir="/runs/r/scheduler",
    time_seconds=60,
    mem_mb=100,
    gpus=1,
    partition="debug",
    account="lab",
    qos="normal",
    setup=("true",),
)


# --- submitit: its names and its private renderer ---------------------------------------------------


def test_submitits_private_sbatch_renderer_still_takes_what_clusterrun_passes() -> None:
    """clusterrun renders sbatch scripts with submitit's private _make_sbatch_string (no public way
    exists); pyproject pins the submitit releases it was written against. If this fails, submitit
    changed: adapt clusterrun/scheduler/_submitit.py (and the pin) before widening the range."""
    wanted = [*executor_parameters(SPEC), "array_parallelism", "map_count"]
    problems = _submitit.contract_problems(wanted)
    assert not problems, (
        f"submitit's private sbatch renderer changed: {problems}; clusterrun supports "
        f"submitit{_submitit.SUBMITIT_RANGE} (see clusterrun/scheduler/_submitit.py)"
    )
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'"submitit{_submitit.SUBMITIT_RANGE}"' in pyproject, (
        "pyproject's submitit pin and SUBMITIT_RANGE differ"
    )


def test_a_changed_renderer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(command: str, folder: str) -> str:
        return ""

    monkeypatch.setattr(_submitit, "_private_render", lambda: changed)
    with pytest.raises(SchedulerError, match="changed _make_sbatch_string") as raised:
        SlurmScheduler().render(SPEC)
    assert f"submitit{_submitit.SUBMITIT_RANGE}" in raised.value.hint
    assert _submitit.contract_problems(["mem"]) == ["_make_sbatch_string has no parameter 'mem'"]


@pytest.mark.parametrize(
    ("job_id", "array"),
    [("123", "123"), ("123_4", "123"), ("123_[0-3,7%2]", "123"), ("4242", "4242"), ("x_y", "x_y")],
)
def test_array_of(job_id: str, array: str) -> None:
    assert _submitit.array_of(job_id) == array


def test_array_of_reads_every_id_as_submitits_own_parser_does() -> None:
    """array_of reads a job id without importing submitit (a poll asks it of every job): what it reads
    is what submitit.slurm.slurm.read_job_id reads as the main id, for ids of every shape and odd ones;
    an id read_job_id cannot read is its own submission."""
    import random

    from submitit.slurm.slurm import read_job_id

    ids = ["4242", "123_4", "123_[0-3%2]", "7_[1,3-5]", "9_[2]", "x_[1-2]5_[3]", "", "_", "12_", "12_a"]
    ids += ["12_ 3", "12_3.batch", "12.batch", "12_3_4", "12+1", "abc", "1_[", "1_[1-]", "12_-3", "0012_07"]
    rng = random.Random(7)
    alphabet = "0123456789_[]-,%+. ab"
    ids += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    for job_id in ids:
        try:
            expected = str(read_job_id(job_id)[0][0])
        except (ValueError, IndexError):
            expected = job_id
        assert _submitit.array_of(job_id) == expected, job_id


def test_a_poll_imports_no_submitit_and_a_listing_no_diagnosis() -> None:
    """The backends, a SLURM poll and the id parsing every poll does import no submitit (~50 ms of
    every `status` of a running job), nor does finding a job's logs: only a submission needs it. A listing
    imports no diagnosis either (~10 ms): a summary collected for a run that failed does."""
    code = (
        "import sys\n"
        "from clusterrun.scheduler import _submitit, registry, slurm_poll, slurm_tags\n"
        "from clusterrun.services import listing, status\n"
        "registry.get_scheduler('slurm'), registry.get_scheduler('local')\n"
        "assert _submitit.array_of('12_[0-3%2]') == '12'\n"
        "import tempfile, pathlib\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        "(folder / '12_0_log.out').write_text('x')\n"
        "assert [p.name for p in _submitit.log_paths(folder, '12')] == ['12_0_log.out']\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'submitit' or 'diagnose' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_file_names_clusterrun_spells_are_submitits() -> None:
    """The names of a job's logs and submission pickle, spelled in _submitit.NAMES so that reading a
    job's logs imports no submitit, are the names submitit's JobPaths gives them."""
    assert _submitit.submitits_names() == _submitit.NAMES


def test_log_paths_and_submitted_ids_follow_submitits_names(tmp_path: Path) -> None:
    names = ["123_0_log.out", "123_0_log.err", "123_1_log.out", "123_4_0_log.out", "1234_0_log.out"]
    names += ["55_submitted.pkl", "56_3_submitted.pkl", "123_0_result.pkl", "notes.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    for backend in (SlurmScheduler(), LocalScheduler()):
        got = [p.name for p in backend.log_paths(tmp_path, "123")]
        assert got == ["123_0_log.err", "123_0_log.out", "123_1_log.out"]
        assert [p.name for p in backend.log_paths(tmp_path, "123_4")] == ["123_4_0_log.out"]
        assert backend.log_paths(tmp_path, "") == [] and backend.log_paths(tmp_path / "no", "1") == []
        assert backend.recover(tmp_path) == ["55", "56_3"]
        assert backend.recover(tmp_path / "no") == []


# --- the registry -----------------------------------------------------------------------------------


@pytest.fixture
def extra() -> Iterator[list[str]]:
    added: list[str] = []
    yield added
    for name in added:
        scheduler.unregister(name)


def test_builtins_and_auto_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert scheduler.names() == ("slurm", "local")
    assert list(scheduler.BACKENDS) == ["auto", "slurm", "local"] and "local" in scheduler.BACKENDS
    assert scheduler.backend_help() == "auto (slurm when sbatch is on PATH, else local), slurm or local."
    monkeypatch.setattr(host_checks, "_which", lambda name: f"/usr/bin/{name}")
    assert scheduler.resolve_backend("auto") == "slurm"
    monkeypatch.setattr(host_checks, "_which", lambda _name: None)
    assert scheduler.resolve_backend("auto") == "local"
    with pytest.raises(SchedulerUnavailable, match="--backend slurm, but 'sbatch' is not on PATH") as raised:
        scheduler.get_scheduler("slurm")
    assert "--backend local" in raised.value.hint
    assert isinstance(scheduler.scheduler_named("slurm"), SlurmScheduler)  # records are read without sbatch


def test_register_priority_and_errors(extra: list[str]) -> None:
    extra += ["first", "later"]
    scheduler.register("later", LocalScheduler, lambda: True, priority=100)  # after local (same priority)
    scheduler.register("first", LocalScheduler, lambda: True, priority=1)
    assert scheduler.names()[0] == "first" and scheduler.names()[-2:] == ("local", "later")
    assert scheduler.resolve_backend("auto") == "first"
    for bad in ("auto", "no spaces", ""):
        with pytest.raises(ValueError, match="identifier"):
            scheduler.register(bad, LocalScheduler, lambda: True)
    with pytest.raises(ValueError, match="already registered"):
        scheduler.register("first", LocalScheduler, lambda: True)
    scheduler.register("first", LocalScheduler, lambda: False, priority=1, replace=True)
    assert scheduler.resolve_backend("auto") != "first"
    with pytest.raises(UsageError, match="unknown backend 'pbs'"):
        scheduler.lookup("pbs")


def test_auto_with_nothing_available_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    only = registry.Backend("none", LocalScheduler, lambda: False, missing="'nonectl' is not on PATH")
    monkeypatch.setattr(registry, "_registered", {"none": only})
    with pytest.raises(SchedulerUnavailable, match="no backend is available") as raised:
        scheduler.resolve_backend("auto")
    assert raised.value.hint == "none: 'nonectl' is not on PATH"


# --- limits -----------------------------------------------------------------------------------------


def test_slurm_limits_are_asked_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    parts = "PartitionName=debug Default=YES State=UP\nPartitionName=gpu Default=NO State=UP\n"

    def config() -> dict[str, str]:
        calls.append("config")
        return {"MaxArraySize": "77"}

    def partitions() -> list[info.Partition]:
        calls.append("partitions")
        return info.parse_partitions(parts)

    monkeypatch.setattr(info, "cluster_config", config)
    monkeypatch.setattr(info, "partitions", partitions)
    cluster_limits.cache_clear()
    try:
        first = SlurmScheduler().limits()
        assert SlurmScheduler().limits() == first and calls == ["config", "partitions"]
        assert first.max_array_size == 77 and first.max_members is None
        assert first.partitions == ("debug", "gpu") and first.default_partition == "debug"
    finally:
        cluster_limits.cache_clear()


def test_slurm_limits_are_unknown_when_slurm_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> None:
        raise SchedulerUnavailable("'scontrol show config' failed")

    monkeypatch.setattr(info, "cluster_config", down)
    monkeypatch.setattr(info, "partitions", down)
    cluster_limits.cache_clear()
    try:
        limits = SlurmScheduler().limits()
        assert limits.max_array_size is None and limits.partitions == () and limits.default_partition is None
    finally:
        cluster_limits.cache_clear()


def test_local_limits_refuse_large_sweeps() -> None:
    assert LocalScheduler().limits().max_members == 64 and LocalScheduler().limits().max_array_size is None


# --- states and evidence ----------------------------------------------------------------------------


def test_every_backend_maps_into_clusterruns_vocabulary() -> None:
    for raw in ("PENDING", "RUNNING", "COMPLETED", "OUT_OF_MEMORY", "CANCELLED by 1000", "REQUEUED", "X"):
        assert SlurmScheduler().normalise_state(raw)[0] in STATES
    for raw, state in LOCAL_STATES.items():
        assert LocalScheduler().normalise_state(raw) == (state, "") and state in STATES
    assert LocalScheduler().normalise_state("COMPLETED") == ("unknown", "")
    assert scheduler.normalise_state("FINISHED") == ("completed", "")  # local's word, no backend named
    assert scheduler.normalise_state("NODE_FAIL") == ("node_fail", "")
    assert scheduler.normalise_state("lost") == ("lost", "") and "lost" in TERMINAL
    assert scheduler.normalise_state("gibberish") == ("unknown", "")


MEM_KILL = "slurmstepd: error: Job 42 exceeded memory limit (1200000 > 1048576), being killed"
TIME_KILL = "slurmstepd: error: *** JOB 42 ON vm CANCELLED AT 2026-01-01T00:10:00 DUE TO TIME LIMIT ***"


def test_slurm_log_evidence() -> None:
    logs = {"stderr.log": "Traceback ...\n", "scheduler/42_0_log.err": f"{MEM_KILL}\nstep 5\n"}
    (mem,) = SlurmScheduler().log_evidence(logs)
    assert mem.state == "out_of_memory" and mem.log == "scheduler/42_0_log.err" and mem.line == MEM_KILL
    assert mem.values == {"used": "1200000", "limit": "1048576"}
    found = slurm_logs.log_evidence({"a": TIME_KILL})
    assert [e.state for e in found] == ["timeout", "cancelled"]  # most decisive first
    assert slurm_logs.log_evidence({"a": "CANCELLED AT 2026-01-01T00:10:00 DUE TO JOB DEADLINE"})[
        0
    ].state == ("deadline")
    assert LocalScheduler().log_evidence({"a": MEM_KILL}) == []
    assert [e.state for e in scheduler.log_evidence({"a": MEM_KILL})] == ["out_of_memory"]


def test_the_first_log_with_a_match_wins_and_its_last_line() -> None:
    logs = {"first": "DUE TO TIME LIMIT one\nDUE TO TIME LIMIT two\n", "second": "DUE TO TIME LIMIT three"}
    (hit,) = slurm_logs.log_evidence(logs)
    assert hit.log == "first" and hit.line.endswith("two")


def test_protocol_docstrings_name_every_method() -> None:
    """site/backends.md documents each method of the protocol; keep them in step."""
    guide = (Path(__file__).resolve().parents[2] / "site" / "backends.md").read_text()
    methods = [
        n for n, v in vars(scheduler.Scheduler).items() if inspect.isfunction(v) and not n.startswith("_")
    ]
    assert len(methods) == 10
    for method in methods:
        assert f"`{method}(" in guide, f"site/backends.md does not document Scheduler.{method}"


def test_the_job_side_learns_its_id_from_the_backend_that_runs_it() -> None:
    """jobrun and job_env.json ask the scheduler layer, never name a scheduler's variables themselves."""
    from clusterrun.scheduler import job_variables

    slurm = {"SLURM_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "3", "HOME": "/root"}
    assert job_variables(slurm) == ("77", {"SLURM_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "3"})
    assert job_variables({"SUBMITIT_LOCAL_JOB_ID": "4242"}) == ("4242", {"SUBMITIT_LOCAL_JOB_ID": "4242"})
    assert job_variables({"HOME": "/root"}) == ("", {})


def test_a_backend_declares_at_registration_the_variable_its_scheduler_reads() -> None:
    for backend in registry.registered():
        assert backend.job_id_variable == getattr(backend.factory(), "job_id_variable", "")


def test_a_backend_registered_without_its_variable_is_still_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    class Marked(LocalScheduler):
        job_id_variable = "MARKED_JOB_ID"
        job_variables = ("MARKED_JOB_ID",)

    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    scheduler.register("marked", Marked, lambda: True, priority=1)  # nothing declared: made to be asked
    assert scheduler.job_variables({"MARKED_JOB_ID": "9"}) == ("9", {"MARKED_JOB_ID": "9"})
    assert scheduler.job_variables({"SUBMITIT_LOCAL_JOB_ID": "4"})[0] == "4"


LOCAL_JOB_SIDE = """
import sys
from clusterrun.scheduler import job_variables, task_layout
from clusterrun.scheduler.jobside import job_side
env = {"SUBMITIT_LOCAL_JOB_ID": "4242"}
assert job_side(env).backend == "local" and job_variables(env)[0] == "4242"
assert task_layout(env) is not None and task_layout(env).world_size == 1
print("clusterrun.scheduler.slurm" in sys.modules)
"""


def test_a_local_job_does_not_import_the_slurm_backend_to_learn_it_is_not_one() -> None:
    """A local job's wrapper (execution/jobrun.py) asks which backend runs it: the SLURM backend, made
    to be asked, was ~15 ms of every local job's start."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LOCAL_JOB_SIDE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


def test_a_job_status_record_is_its_asdict_and_a_copy() -> None:
    """JobStatus.as_record (built field by field for speed) says what dataclasses.asdict says, and a
    change to the record never reaches the status it came from."""
    status = JobStatus("7_1", "completed", "COMPLETED", 0, elapsed_seconds=3, extra={"a": [1, {"b": 2}]})
    record = status.as_record()
    assert (
        record == asdict(status)
        and asdict(JobStatus("8", "pending")) == JobStatus("8", "pending").as_record()
    )
    record["extra"]["a"][1]["b"] = 3
    assert status.extra == {"a": [1, {"b": 2}]}
