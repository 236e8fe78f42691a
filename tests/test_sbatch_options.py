"""GPUs with a type and the rest of sbatch: constraint, exclusive, reservation, dependencies on other runs
(--after/--afterok), mail, and `resources.extra`: validated, quoted, rendered through submitit, shown in
the manifest, taken by the real cluster, and kept by `reproduce`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from clusterrun.config.models import spec_from_data
from clusterrun.config.sections import Resources
from clusterrun.errors import ConfigError
from clusterrun.scheduler.base import JobSpec
from clusterrun.scheduler.slurm import SlurmScheduler
from clusterrun.services.job_request import job_resources
from tests.helpers import cli, make_project, manifest, no_traceback

BASE = {"name": "opts", "command": "python -c pass"}


def spec(**resources: object) -> Resources:
    return spec_from_data({**BASE, "resources": resources}, "opts.yaml").resources


def test_gpus_with_a_type_and_every_option_are_normalised() -> None:
    res = spec(gpus="a100:2", mail_type=["end", "fail"], after="a_1,b_2", extra={"--mem_bind": "local"})
    assert (res.gpus, res.gpu_type, res.total_gpus) == (2, "a100", 2)
    assert res.mail_type == "END,FAIL" and res.after == ["a_1", "b_2"]
    assert res.extra == {"mem-bind": "local"}
    same = spec(gpus_per_node=2, gpu_type="a100")
    assert same == spec(gpus="a100:2")
    per_task = spec(gpus_per_task="h100:1", tasks_per_node=4, nodes=2)
    assert (per_task.gpus_per_node, per_task.total_gpus, per_task.world_size) == (4, 8, 8)


@pytest.mark.parametrize(
    ("resources", "words"),
    [
        ({"extra": {"output": "x.log"}}, "'output' is not passed through: clusterrun writes the job's logs"),
        ({"extra": {"array": "0-3"}}, "sweeps are job arrays"),
        ({"extra": {"partition": "gpu"}}, "use resources.partition"),
        (
            {"extra": {"exlude": "n1"}},
            "'exlude' is not an sbatch option clusterrun knows; did you mean 'exclude'?",
        ),
        ({"extra": {"exclude": False}}, "leave the option out"),
        ({"gpus": "a100:two"}, "is not a GPU request; use a count (2) or a type and a count (a100:2)"),
        ({"gpus": "a100:1", "gpu_type": "v100"}, "names type 'a100' but gpu_type is 'v100'"),
        ({"gpus": 1, "gpus_per_task": 1}, "give gpus (per node) or gpus_per_task, not both"),
        ({"gpu_type": "a100"}, "no GPU is requested"),
        ({"mail_type": "SOMETIMES"}, "SOMETIMES is not a mail type"),
        ({"mail_user": "me; rm -rf /"}, "give a user name or an e-mail address"),
        ({"constraint": "a100 $(id)"}, "feature names"),
        ({"after": ["../x"]}, "is not a run id"),
    ],
)
def test_bad_options_are_refused_with_what_is_valid(resources: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        spec(**resources)
    assert words in caught.value.message


def test_torchrun_needs_a_torchrun_command() -> None:
    with pytest.raises(ConfigError, match="the command must start with torchrun"):
        spec_from_data({**BASE, "resources": {"launcher": "torchrun"}}, "opts.yaml")
    ok = spec_from_data(
        {**BASE, "command": "python -m torch.distributed.run t.py", "resources": {"launcher": "torchrun"}},
        "x",
    )
    assert ok.resources.launcher == "torchrun"


def render(**resources: object) -> str:
    res = spec_from_data({**BASE, "resources": resources}, "opts.yaml").resources
    job = JobSpec(
        run_dir="/r",
        folder="/r/scheduler",
        job_name="opts_1",
        chdir="/r/scheduler",
        dependency="afterok:12:13",
        **job_resources(res),
    )
    return SlurmScheduler().render(job)


def test_every_option_reaches_the_sbatch_script_quoted() -> None:
    script = render(
        gpus="a100:2",
        constraint="a100|h100",
        exclusive=True,
        reservation="maint",
        mail_type="END,FAIL",
        mail_user="me@example.org",
        extra={"exclude": "n[1-2]", "hint": "nomultithread", "contiguous": True},
    )
    for line in [
        "#SBATCH --gpus-per-node=a100:2",
        "#SBATCH --constraint='a100|h100'",
        "#SBATCH --exclusive",
        "#SBATCH --reservation=maint",
        "#SBATCH --dependency=afterok:12:13",
        "#SBATCH --mail-type=END,FAIL",
        "#SBATCH --mail-user=me@example.org",
        "#SBATCH --exclude='n[1-2]'",
        "#SBATCH --hint=nomultithread",
        "#SBATCH --contiguous",
    ]:
        assert line in script.splitlines(), line
    # torchrun: one task per node, holding what its processes need
    torchrun = spec_from_data(
        {
            **BASE,
            "command": "torchrun t.py",
            "resources": {
                "launcher": "torchrun",
                "tasks_per_node": 4,
                "cpus_per_task": 2,
                "gpus_per_task": "a100:1",
            },
        },
        "x",
    ).resources
    job = JobSpec(
        run_dir="/r",
        folder="/r/s",
        job_name="t",
        chdir="/r/s",
        **{**job_resources(torchrun), "time_seconds": 60, "mem_mb": 100},
    )
    text = SlurmScheduler().render(job)
    assert "#SBATCH --ntasks-per-node=1" in text and "#SBATCH --cpus-per-task=8" in text
    assert "#SBATCH --gpus-per-node=a100:4" in text


# --- on the real cluster ----------------------------------------------------------------------------

SLEEPER = "import sys, time; time.sleep(float(sys.argv[1])); sys.exit(int(sys.argv[2]))\n"


@pytest.fixture
def options_project(tmp_path: Path) -> Path:
    config = {
        "name": "opts",
        "command": "python sleeper.py {seconds} {code}",
        "params": {"seconds": 0, "code": 0},
        "smoke": {"params": {"seconds": 0, "code": 0}, "timeout": 30},
        "resources": {
            "time": "00:02:00",
            "mem": "100M",
            "exclusive": True,
            "mail_type": ["END", "FAIL"],
            "mail_user": "root",
            "extra": {"nice": 7, "contiguous": True},
        },
    }
    files = {"sleeper.py": SLEEPER, "configs/opts.yaml": yaml.safe_dump(config, sort_keys=False)}
    return make_project(tmp_path / "proj", files)


def _scontrol(job_id: str) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True
    ).stdout


def _submit(project: Path, *args: str, code: int = 0) -> dict[str, object]:
    result = cli(["submit", "configs/opts.yaml", "--backend", "slurm", "--json", *args], project)
    no_traceback(result)
    assert result.returncode == code, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_options_reach_the_cluster_are_shown_and_kept_by_reproduce(options_project: Path) -> None:
    data = _submit(options_project, "--wait")
    run_id, job_id = str(data["run_id"]), str(data["job_id"])
    assert data["summary"]["state"] == "completed"  # type: ignore[index]
    job = _scontrol(job_id)
    assert "OverSubscribe=NO" in job  # --exclusive
    assert re.search(r"\bNice=7\b", job) and "Contiguous=1" in job
    assert "MailUser=root" in job and "MailType=END,FAIL" in job
    shown = cli(["show", run_id], options_project)
    assert "exclusive=True" in shown.stdout and "mail_type=END,FAIL" in shown.stdout
    assert "extra.nice=7" in shown.stdout

    again = cli(["reproduce", run_id, "--backend", "slurm", "--json"], options_project)
    no_traceback(again)
    copy = json.loads(again.stdout)
    assert copy["config"]["resources"] == manifest(options_project / "runs" / run_id)["config"]["resources"]
    sbatch = Path(str(copy["run_dir"]), "sbatch.sh").read_text()
    assert "#SBATCH --exclusive" in sbatch and "#SBATCH --nice=7" in sbatch


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_run_waits_for_another_through_after_and_afterok(options_project: Path) -> None:
    first = _submit(options_project, "params.seconds=8", "resources.exclusive=false")
    first_id, first_job = str(first["run_id"]), str(first["job_id"])
    second = _submit(options_project, "--after", first_id[:-2], "resources.exclusive=false", "--wait")
    assert second["config"]["resources"]["after"] == [first_id]  # type: ignore[index]
    sbatch = Path(str(second["run_dir"]), "sbatch.sh").read_text()
    assert f"#SBATCH --dependency=afterany:{first_job}" in sbatch
    assert second["summary"]["state"] == "completed"  # type: ignore[index]
    times = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-o", "JobID,Start,End", "-j", f"{first_job},{second['job_id']}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {line.split("|")[0]: line.split("|")[1:] for line in times.splitlines()}
    assert rows[str(second["job_id"])][0] >= rows[first_job][1]  # it started once the first had ended

    # afterok on a run that failed could never start: refused before anything is created or run
    failed = _submit(options_project, "params.code=3", "resources.exclusive=false", "--wait", code=1)
    before = sorted(p.name for p in (options_project / "runs").iterdir())
    refused = cli(
        ["submit", "configs/opts.yaml", "--backend", "slurm", "--afterok", str(failed["run_id"])],
        options_project,
    )
    no_traceback(refused)
    assert refused.returncode == 2
    assert f"error: resources.afterok: run {failed['run_id']} ended FAILED" in refused.stderr
    assert "hint: use --after" in refused.stderr
    assert sorted(p.name for p in (options_project / "runs").iterdir()) == before

    # reproduce keeps the dependency in the config; the run it names has ended: nothing to wait for
    again = cli(["reproduce", str(second["run_id"]), "--backend", "slurm", "--json"], options_project)
    no_traceback(again)
    copy = json.loads(again.stdout)
    assert copy["config"]["resources"]["after"] == [first_id]
    assert "--dependency" not in Path(copy["run_dir"], "sbatch.sh").read_text()
    assert f"after {first_id}: it already ended (completed)" in again.stderr


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_pending_dependency_is_visible_to_the_scheduler(options_project: Path) -> None:
    first = _submit(options_project, "params.seconds=20", "resources.exclusive=false")
    second = _submit(options_project, "--afterok", str(first["run_id"]), "resources.exclusive=false")
    deadline = time.monotonic() + 30
    while (
        "Dependency=afterok:" not in (job := _scontrol(str(second["job_id"]))) and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert f"Dependency=afterok:{first['job_id']}" in job and "JobState=PENDING" in job
    subprocess.run(["scancel", str(first["job_id"]), str(second["job_id"])], check=True)
