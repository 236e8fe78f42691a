"""Nobody in (issue 9, items 12-16): reading the registry never executes anything from it and never
leaves it; records are private unless shared on purpose; nothing secret is written to a record; a
submission from inside an allocation does not inherit the allocation's scheduler variables.

The CLI runs as a real subprocess throughout; the scheduler parts run on the real local cluster.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from submitit.core.utils import JobPaths

from clusterrun.config import redact
from clusterrun.errors import ExitStatus
from clusterrun.inputs import snapshot
from clusterrun.records import paths, perms
from clusterrun.records.registry import Registry
from clusterrun.scheduler.environment import check_allocation, clean_environment, scheduler_variables
from tests.helpers import cli, git, manifest, no_traceback, only_run

SECRET = "TOPSECRET-3b1f9c"  # the content of a file outside the registry that must never be shown
PASSWORD = "hunter2-c0ffee"


# --------------------------------------------------------------------------------------------- helpers


def submit_local(project: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    result = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--wait", "-q", *extra], project, env
    )
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    return only_run(project)


def edit_manifest(run: Path, **fields: Any) -> None:
    data = manifest(run)
    for dotted, value in fields.items():
        target = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    (run / "manifest.json").write_text(json.dumps(data))


def reopen(run: Path) -> None:
    """As if the run had not been seen to end yet: status asks the scheduler about it again."""
    edit_manifest(run, state="running")
    (run / "summary.json").unlink(missing_ok=True)


class _Payload:
    """Unpickling it runs `touch MARKER`: what a hostile registry writer would plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def plant_pickles(folder: Path, job_id: str, marker: Path) -> list[Path]:
    """Malicious pickles where submitit keeps its result and submission pickles of the job."""
    data = pickle.dumps(("success", _Payload(marker)))
    pickle.loads(data)  # the payload is live: unpickling it does create the marker
    assert marker.exists()
    marker.unlink()
    job = JobPaths(folder, job_id=job_id, task_id=0)
    planted = [job.result_pickle, job.submitted_pickle]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return planted


READERS = [
    ["status"],
    ["status", "{run}"],
    ["show", "{run}"],
    ["logs", "{run}"],
    ["logs", "{run}", "--stderr"],
]
READERS += [["logs", "{run}", "--scheduler"], ["compare", "{run}", "{run}"], ["site", "{run}"]]
READERS += [["export", "{run}", "--to", "jsonl"], ["status", "--json"]]


def read_everything(project: Path, run: Path, env: dict[str, str] | None = None) -> list[str]:
    """Every read command on the run; their output (which must never hold the secret)."""
    outputs = []
    for args in READERS:
        result = cli(
            [a.format(run=run.name) for a in args], project, {"CLUSTERRUN_POLL_MAX_AGE": "0", **(env or {})}
        )
        no_traceback(result)
        outputs.append(result.stdout + result.stderr)
    return outputs


# ------------------------------------------------------------------------------ 12: no pickle is read


def test_no_read_path_unpickles_a_planted_result_pickle(project: Path, tmp_path: Path) -> None:
    run = submit_local(project)
    data = manifest(run)
    marker = tmp_path / "pwned-local"
    plant_pickles(Path(data["scheduler_folder"]), data["job_id"], marker)
    reopen(run)  # status must decide again: the job's process has ended, a result pickle lies there
    read_everything(project, run)
    assert not marker.exists()
    after = manifest(run)
    # decided by the job's JSON exit record instead: it exited 0
    assert after["state"] == "completed", after["state_history"]
    assert json.loads((run / "summary.json").read_text())["exit_code"] == 0


def test_without_an_exit_record_a_local_job_is_lost_and_nothing_is_unpickled(
    project: Path, tmp_path: Path
) -> None:
    run = submit_local(project)
    data = manifest(run)
    marker = tmp_path / "pwned-noexit"
    plant_pickles(Path(data["scheduler_folder"]), data["job_id"], marker)
    reopen(run)
    (run / "exit.json").unlink()
    result = cli(["status", run.name, "--json"], project, {"CLUSTERRUN_POLL_MAX_AGE": "0"})
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert manifest(run)["state"] == "lost"


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_no_read_path_unpickles_anything_of_a_slurm_run(project: Path, tmp_path: Path) -> None:
    result = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "slurm", "--wait", "-q"], project, timeout=300
    )
    assert result.returncode == 0, result.stderr
    run = only_run(project)
    data = manifest(run)
    marker = tmp_path / "pwned-slurm"
    plant_pickles(Path(data["scheduler_folder"]), data["job_id"], marker)
    reopen(run)
    read_everything(project, run)
    assert not marker.exists()
    assert manifest(run)["state"] == "completed"  # from sacct, not from the pickle


# ------------------------------------------------------------------ 13: paths from records stay inside


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(f'{{"step": 1, "loss": 0.5, "note": "{SECRET}"}}\n{SECRET}\n')
    return secret


def _link(path: Path, target: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def test_logs_refuses_a_symlink_out_of_the_registry(project: Path, outside: Path) -> None:
    run = submit_local(project)
    _link(run / "stdout.log", outside)
    _link(run / "stderr.log", outside)
    for args in (["logs", run.name], ["logs", run.name, "--stderr"], ["logs", run.name, "-f"]):
        result = cli(args, project)
        assert result.returncode == ExitStatus.ENVIRONMENT, result.stderr
        assert SECRET not in result.stdout + result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "leads out of the run registry" in errors[0], result.stderr
        assert "hint:" in result.stderr
        no_traceback(result)


def test_no_reader_shows_a_file_a_symlink_or_a_record_points_to(project: Path, outside: Path) -> None:
    run = submit_local(project)
    for name in ("stdout.log", "stderr.log", "metrics.jsonl", "config.yaml", "exit.json", "env.json"):
        _link(run / name, outside)
    edit_manifest(run, git__patch_file=str(outside), git__dirty=True)
    for output in read_everything(project, run):
        assert SECRET not in output
    site = project / "runs" / "site"
    pages = [p for p in site.rglob("*") if p.is_file()] if site.is_dir() else []
    assert all(SECRET not in p.read_text(errors="replace") for p in pages)
    compare = cli(["compare", run.name, run.name], project)
    assert compare.returncode == ExitStatus.ENVIRONMENT and "leads out of the run registry" in compare.stderr
    assert str(outside.read_text()) == f'{{"step": 1, "loss": 0.5, "note": "{SECRET}"}}\n{SECRET}\n'


def test_a_scheduler_folder_outside_the_registry_makes_the_run_damaged(project: Path, tmp_path: Path) -> None:
    run = submit_local(project)
    elsewhere = tmp_path / "elsewhere-folder"
    elsewhere.mkdir()
    (elsewhere / f"{manifest(run)['job_id']}_0_log.out").write_text(SECRET)
    edit_manifest(run, scheduler_folder=str(elsewhere), state="running")
    status = cli(["status"], project, {"CLUSTERRUN_POLL_MAX_AGE": "0"})
    assert status.returncode == 0, status.stderr
    assert "damaged" in status.stdout.lower() and "scheduler_folder" in status.stderr
    logs = cli(["logs", run.name, "--scheduler"], project)
    assert logs.returncode == ExitStatus.ENVIRONMENT and "leads out of the run registry" in logs.stderr
    assert SECRET not in status.stdout + status.stderr + logs.stdout + logs.stderr
    assert manifest(run)["state"] == "running"  # a damaged record is left as it is


def test_reproduce_never_runs_code_from_outside_the_snapshot_store(project: Path, tmp_path: Path) -> None:
    run = submit_local(project)
    fake = tmp_path / "fake-snapshot"
    fake.mkdir()
    edit_manifest(run, snapshot__path=str(fake))
    before = sorted(p.name for p in (project / "runs").iterdir())
    result = cli(["reproduce", run.name, "--backend", "local"], project)
    assert result.returncode == ExitStatus.ENVIRONMENT, result.stderr
    assert "leads out of the snapshot store" in result.stderr
    no_traceback(result)
    assert sorted(p.name for p in (project / "runs").iterdir()) == before


def test_inside_registry_resolves_and_refuses(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    (root / "a_20260101-000000").mkdir(parents=True)
    inner = root / "a_20260101-000000" / "stdout.log"
    inner.write_text("ok")
    assert paths.inside_registry(inner, root) == inner.resolve()
    (root / "a_20260101-000000" / "link").symlink_to(inner)  # a link that stays inside is fine
    assert paths.run_file(root / "a_20260101-000000", "link") == root / "a_20260101-000000" / "link"
    for escape in ("/etc/passwd", root / ".." / "x", root / "a_20260101-000000" / ".." / ".." / "y"):
        with pytest.raises(paths.OutsideRegistry):
            paths.inside_registry(escape, root)
    (root / "a_20260101-000000" / "out").symlink_to(tmp_path)
    with pytest.raises(paths.OutsideRegistry, match="leads out of the run registry"):
        paths.run_file(root / "a_20260101-000000", "out/secret")
    with pytest.raises(paths.OutsideRegistry, match="snapshot store"):
        paths.snapshot_path(root / "a_20260101-000000", root)
    assert paths.SNAPSHOT_STORE == snapshot.SNAPSHOT_DIR


# ------------------------------------------------------------------------------------ 14: permissions


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # inherited by the CLI subprocesses
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    out = {}
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode) | (
                path.lstat().st_mode & stat.S_ISGID
            )
    return out


def _dirty(project: Path) -> None:
    train = project / "examples" / "quickstart" / "train.py"
    train.write_text(train.read_text() + "\n# an uncommitted change\n")


@pytest.mark.usefixtures("umask_022")
def test_the_registry_is_private_whatever_the_umask(project: Path) -> None:
    _dirty(project)
    run = submit_local(project, "--allow-dirty")
    modes = _modes(project / "runs")
    assert modes["."] == 0o700
    open_to_others = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert not open_to_others
    names = {p.name: modes[str(p.relative_to(project / "runs"))] for p in run.iterdir() if not p.is_symlink()}
    for record in ("manifest.json", "summary.json", "config.yaml", "env.json", "git.patch", "events.jsonl"):
        assert names[record] == 0o600, (record, oct(names[record]))
    assert names["command.sh"] == 0o700 and names["scheduler"] == 0o700 and names["smoke"] == 0o700
    assert modes[".snapshots"] == 0o700 and modes[run.name] == 0o700


@pytest.mark.usefixtures("umask_022")
def test_an_old_open_registry_is_made_private(project: Path) -> None:
    (project / "runs").mkdir(mode=0o755)
    (project / "runs").chmod(0o755)
    submit_local(project)
    assert stat.S_IMODE((project / "runs").stat().st_mode) == 0o700


@pytest.mark.usefixtures("umask_022")
def test_a_group_shared_registry_is_group_writable_and_setgid(project: Path) -> None:
    _dirty(project)
    run = submit_local(project, "--allow-dirty", env={perms.SHARED_ENV: "group"})
    modes = _modes(project / "runs")
    assert modes["."] == 0o2770
    assert not {name: oct(mode) for name, mode in modes.items() if mode & 0o007}  # never others
    dirs = [name for name in modes if (project / "runs" / name).is_dir()]
    assert all(modes[name] & 0o2070 == 0o2070 for name in dirs), {n: oct(modes[n]) for n in dirs}
    for record in ("manifest.json", "summary.json", "config.yaml", "env.json", "git.patch", "events.jsonl"):
        assert modes[f"{run.name}/{record}"] == 0o660, record
    assert modes[f"{run.name}/command.sh"] == 0o770
    # once shared, it stays shared for everyone, without the variable
    (project / "examples" / "quickstart" / "train.py").write_text(
        (project / "examples" / "quickstart" / "train.py").read_text() + "# another change\n"
    )
    result = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--allow-dirty", "--dry-run", "-q"],
        project,
    )
    assert result.returncode == 0, result.stderr
    newest = max(
        (p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()), key=lambda p: p.name
    )
    assert stat.S_IMODE((newest / "manifest.json").stat().st_mode) == 0o660


def test_an_unknown_sharing_mode_is_a_usage_error(project: Path) -> None:
    result = cli(
        ["submit", "configs/quickstart.yaml", "--backend", "local", "--dry-run"],
        project,
        {perms.SHARED_ENV: "yes"},
    )
    assert result.returncode == ExitStatus.USAGE
    assert f"error: {perms.SHARED_ENV}='yes' is not a registry sharing mode" in result.stderr
    assert "hint:" in result.stderr
    no_traceback(result)


# ------------------------------------------------------------------------------------------ 15: secrets


@pytest.mark.parametrize(
    ("override", "where"),
    [
        (f"+params.db_url=postgres://alice:{PASSWORD}@db.example.com/exp", "db_url"),
        (f"+params.hf_token={PASSWORD}", "hf_token"),
        (f"+env.WANDB_API_KEY={PASSWORD}", "WANDB_API_KEY"),
        (f"+env.MY_REMOTE=https://bob:{PASSWORD}@git.example.com", "MY_REMOTE"),
        ("+setup=[export GH=ghp_" + "a" * 36 + "]", "setup line"),
    ],
)
def test_a_secret_in_the_config_is_refused_before_anything_is_written(
    project: Path, override: str, where: str
) -> None:
    result = cli(["submit", "configs/quickstart.yaml", override, "--backend", "local", "--dry-run"], project)
    assert result.returncode == ExitStatus.USAGE, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and where in errors[0] and "looks like a secret" in errors[0], result.stderr
    assert "export it in your shell" in errors[0] and "hint:" in result.stderr
    assert PASSWORD not in result.stderr and "ghp_aaaa" not in result.stderr
    assert not (project / "runs").exists() or not any((project / "runs").glob("quickstart_*"))
    no_traceback(result)


def test_harmless_names_with_secret_words_are_accepted(project: Path) -> None:
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "+params.pad_token=<pad>",
            "+params.max_tokens=512",
            "+env.TOKENIZERS_PARALLELISM=false",
            "--backend",
            "local",
            "--dry-run",
            "-q",
        ],
        project,
    )
    assert result.returncode == 0, result.stderr


def _grep(root: Path, text: str) -> list[str]:
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and text.encode() in p.read_bytes()
    ]


def test_no_record_holds_a_secret_from_the_environment_or_the_command_line(project: Path) -> None:
    env = {
        "MLFLOW_TRACKING_URI": f"postgresql://alice:{PASSWORD}@db.example.com:5432/mlflow",
        "HF_TOKEN": PASSWORD,
        "CLUSTERRUN_NOTE": f"https://bob:{PASSWORD}@wiki.example.com/page",
    }
    result = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--dry-run",
            "-q",
            "--skip-smoke",
            f"see https://bob:{PASSWORD}@wiki.example.com/page",
        ],
        project,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert _grep(project / "runs", PASSWORD) == []
    run = only_run(project)
    environment = json.loads((run / "env.json").read_text())["environment"]
    assert environment["MLFLOW_TRACKING_URI"] == "postgresql://alice:<redacted>@db.example.com:5432/mlflow"
    assert environment["HF_TOKEN"] == "<redacted>"
    assert "bob:<redacted>@wiki.example.com" in json.dumps(manifest(run)["argv"])


def test_the_shared_patterns() -> None:
    assert redact.redact_text("postgres://u:pw@h/db") == "postgres://u:<redacted>@h/db"
    assert redact.redact_data({"argv": ["x", "db=mysql://a:b@c"], "api_key": "k", "n": 3}) == {
        "argv": ["x", "db=mysql://a:<redacted>@c"],
        "api_key": "<redacted>",
        "n": 3,
    }
    for name in (
        "HF_TOKEN",
        "WANDB_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "db_password",
        "client_secret",
        "apiKey",
    ):
        assert redact.is_secret_name(name), name
    for name in (
        "TOKENIZERS_PARALLELISM",
        "max_tokens",
        "pad_token",
        "eos_token",
        "keypoints",
        "HF_HOME",
        "PWD",
    ):
        assert not redact.is_secret_name(name), name
    # the records' writer skips the walk only when no secret can be there
    secrets = ["HF_TOKEN", "WANDB_API_KEY", "db_password", "apiKey", "x-passphrase", "SLURM_AUTH_X"]
    secrets += ["postgres://u:p@h", "ghp_" + "a" * 36, "hf_" + "b" * 34, "AKIA" + "C" * 16]
    for text in [*secrets, "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0"]:
        assert redact.may_need_redaction(json.dumps({text: 1})), text
        assert redact.redact_data({text: "v", "k": text}) != {text: "v", "k": text}, text
    assert not redact.may_need_redaction(json.dumps({"lr": 0.1, "steps": 200, "path": "/data/x"}))


def test_events_and_records_are_redacted_when_written(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "runs")
    run = registry.create("x")
    run.event("note", text=f"see postgres://u:{PASSWORD}@h", token=PASSWORD)
    events = (run.path / "events.jsonl").read_text()
    assert PASSWORD not in events and "postgres://u:<redacted>@h" in events


# --------------------------------------------------------------------- 16: submitting from an allocation


ALLOCATION = {
    "SLURM_JOB_ID": "999999",
    "SLURM_JOBID": "999999",
    "SLURM_MEM_PER_CPU": "100",
    "SLURM_MEM_PER_NODE": "200",
    "SLURM_CPUS_PER_TASK": "2",
    "SLURM_NTASKS": "4",
    "SLURM_JOB_NUM_NODES": "1",
    "SLURM_NODELIST": "nowhere",
    "SRUN_DEBUG": "3",
    "SBATCH_PARTITION": "no-such-partition",
}


def test_clean_environment_takes_the_scheduler_variables_out_and_puts_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**ALLOCATION, "SLURM_CONF": "/etc/slurm/x.conf", "RANK": "3"}.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    with clean_environment() as taken:
        assert not scheduler_variables(os.environ)
        assert os.environ["SLURM_CONF"] == "/etc/slurm/x.conf"  # chooses the cluster: kept
        assert "SLURM_MEM_PER_CPU" in taken and "RANK" in taken and "SBATCH_PARTITION" in taken
    assert dict(os.environ) == before
    row = check_allocation(os.environ)
    assert row.status == "ok" and "you are inside an allocation (SLURM_JOB_ID=999999)" in row.detail
    assert "clusterrun submits with a clean scheduler environment" in row.detail


def test_doctor_says_it_is_inside_an_allocation(project: Path) -> None:
    result = cli(["doctor", "--backend", "local", "--json"], project, ALLOCATION)
    rows = {row["name"]: row for row in json.loads(result.stdout)["checks"]}
    assert "you are inside an allocation (SLURM_JOB_ID=999999)" in rows["allocation"]["detail"]
    assert rows["registry"]["status"] in ("ok", "warn")


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_submission_from_inside_an_allocation_runs(project: Path) -> None:
    """The allocation's SLURM_MEM_PER_CPU and SLURM_MEM_PER_NODE would make srun in the job fail
    ("mutually exclusive"), SBATCH_PARTITION would send it nowhere; the job must still succeed. It also
    gets the submitting shell's environment, secrets included, which no record holds."""
    (project / "configs" / "envsecret.yaml").write_text(
        "name: envsecret\n"
        'command: python -c "import hashlib, os; '
        "print('sha', hashlib.sha256(os.environ['DB_URL'].encode()).hexdigest(), "
        "os.environ.get('SLURM_MEM_PER_CPU'), os.environ.get('SLURM_MEM_PER_NODE') is not None)\"\n"
        "smoke: {timeout: 60}\n"
        "resources: {time: '00:05:00', mem: 300M}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "envsecret")
    db_url = f"postgresql://alice:{PASSWORD}@db.example.com/exp"
    env = {**ALLOCATION, "DB_URL": db_url}
    result = cli(
        ["submit", "configs/envsecret.yaml", "--backend", "slurm", "--wait", "-q"], project, env, timeout=300
    )
    assert result.returncode == 0, result.stderr + result.stdout
    run = only_run(project)
    assert manifest(run)["state"] == "completed"
    stdout = (run / "stdout.log").read_text()
    assert f"sha {hashlib.sha256(db_url.encode()).hexdigest()} None True" in stdout  # the job's own mem
    assert _grep(project / "runs", PASSWORD) == []
    # private on the cluster too: sbatch handed the submission's umask (077) on to the job
    assert not {name: oct(mode) for name, mode in _modes(project / "runs").items() if mode & 0o077}
    job = manifest(run)["job_id"]
    submit_line = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", job, "-o", "Partition"], capture_output=True, text=True, check=True
    ).stdout
    assert "no-such-partition" not in submit_line
