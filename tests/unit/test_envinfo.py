"""env.json: allow-listed environment, secrets redacted by name and by value."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from clusterrun.execution import envinfo
from clusterrun.execution.envinfo import REDACTED, capture, redact_env

GH_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
HF_SECRET = "hf_" + "ZyXwVuTsRqPoNmLkJiHgFeDcBa1234"


def test_allow_listed_variables_are_kept_others_dropped() -> None:
    environ = {
        "PATH": "/usr/bin:/bin",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "SLURM_JOB_ID": "123",
        "NCCL_DEBUG": "INFO",
        "MY_PRIVATE_THING": "x",
        "EDITOR": "vim",
        "AWS_SECRET_ACCESS_KEY": "abc",
    }
    out = redact_env(environ)
    assert out == {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "NCCL_DEBUG": "INFO",
        "PATH": "/usr/bin:/bin",
        "SLURM_JOB_ID": "123",
    }
    assert list(out) == sorted(out)


@pytest.mark.parametrize(
    "name", ["HF_TOKEN", "WANDB_API_KEY", "CLUSTERRUN_PASSWORD", "MLFLOW_TRACKING_PASSWORD", "SLURM_AUTH_X"]
)
def test_secret_names_are_redacted(name: str) -> None:
    out = redact_env({name: "s3cr3t-value", "HF_HOME": "/data/hf"})
    assert out[name] == REDACTED
    assert out["HF_HOME"] == "/data/hf"  # same prefix, not a secret
    assert "s3cr3t-value" not in json.dumps(out)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PYTHONPATH", f"/opt/lib:{GH_TOKEN}"),
        ("HF_HOME", f"/cache/{HF_SECRET}"),
        ("CLUSTERRUN_REMOTE", "https://alice:hunter2@git.example.com/repo.git"),
        ("MLFLOW_TRACKING_URI", "postgresql://user:pa55word@db.example.com:5432/mlflow"),
        ("WANDB_BASE_URL", "https://api.example.com?t=sk-" + "a" * 30),
    ],
)
def test_secret_values_are_redacted_even_in_allowed_variables(name: str, value: str) -> None:
    out = redact_env({name: value})
    assert set(out) == {name} and REDACTED in out[name]
    for secret in (GH_TOKEN, HF_SECRET, "hunter2", "pa55word", "a" * 30):
        assert secret not in out[name]


def test_a_url_keeps_everything_but_its_password() -> None:
    out = redact_env({"MLFLOW_TRACKING_URI": "postgresql://user:pa55word@db.example.com:5432/mlflow"})
    assert out == {"MLFLOW_TRACKING_URI": f"postgresql://user:{REDACTED}@db.example.com:5432/mlflow"}


def test_harmless_names_that_contain_secret_words_are_kept() -> None:
    out = redact_env({"TOKENIZERS_PARALLELISM": "false", "HF_HOME": "/data/hf"}, ("TOKENIZERS_PARALLELISM",))
    assert out == {"HF_HOME": "/data/hf", "TOKENIZERS_PARALLELISM": "false"}


def test_url_without_password_is_kept() -> None:
    out = redact_env(
        {"MLFLOW_TRACKING_URI": "https://mlflow.example.com:5000/", "HF_ENDPOINT": "https://hf.co"}
    )
    assert out == {"HF_ENDPOINT": "https://hf.co", "MLFLOW_TRACKING_URI": "https://mlflow.example.com:5000/"}


def test_extra_names_are_recorded_and_still_redacted() -> None:
    out = redact_env({"MY_FLAG": "1", "MY_TOKEN": "abc", "OTHER": "x"}, extra_names=("MY_FLAG", "MY_TOKEN"))
    assert out == {"MY_FLAG": "1", "MY_TOKEN": REDACTED}


def test_capture_records_python_packages_host_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-0123456789abcdef")
    monkeypatch.setenv("CLUSTERRUN_PASSWORD", "clusterrun-pw-987654")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-zzzzzz")
    monkeypatch.setenv("CLUSTERRUN_GIT_URL", "https://bob:bobs-password@example.com/x.git")
    monkeypatch.setenv("PYTHONPATH", f"/opt/x:{GH_TOKEN}")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(envinfo, "_gpus", lambda: [])  # no nvidia-smi call

    info = capture()
    assert info["python"]["version"] == platform.python_version()
    assert {"version", "implementation", "executable"} <= set(info["python"])
    assert info["host"]
    assert info["packages"]["pyyaml"]
    assert "clusterrun" in info["packages"]
    assert info["environment"]["OMP_NUM_THREADS"] == "3"
    assert info["environment"]["HF_TOKEN"] == REDACTED
    assert "AWS_SECRET_ACCESS_KEY" not in info["environment"]

    text = json.dumps(info)
    for secret in (HF_SECRET, "wandb-secret", "clusterrun-pw", "aws-secret", "bobs-password", GH_TOKEN):
        assert secret not in text


def test_capture_records_config_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_EXPERIMENT_FLAG", "on")
    monkeypatch.setattr(envinfo, "_gpus", lambda: [])
    assert "MY_EXPERIMENT_FLAG" not in capture()["environment"]
    assert capture(("MY_EXPERIMENT_FLAG",))["environment"]["MY_EXPERIMENT_FLAG"] == "on"


def test_packages_read_from_headers_agree_with_importlib_metadata(tmp_path: Path) -> None:
    """envprobe reads only each METADATA's header: the same names and versions as importlib.metadata's
    full reading, for this interpreter's distributions and for awkward ones (a long description, CRLF,
    an empty METADATA beside a PKG-INFO, none at all)."""
    import importlib.metadata as metadata

    from clusterrun.execution import envprobe

    site = tmp_path / "site"
    long_text = "Metadata-Version: 2.1\nName: Long\nVersion: 1.0\n\n" + "x" * 100_000 + "\nVersion: 9\n"
    files = {
        "long-1.0.dist-info/METADATA": long_text,
        "crlf-2.0.dist-info/METADATA": "Name: CrLf\r\nVersion: 2.0\r\n\r\nVersion: 3\r\n",
        "late-3.0.dist-info/METADATA": "Summary: " + "y" * 10_000 + "\nName: late\nVersion: 3.0\n\nbody\n",
        "empty-4.0.egg-info/PKG-INFO": "Name: from-pkg-info\nVersion: 4.0\n",
        "empty-4.0.egg-info/METADATA": "",
        "none-5.0.dist-info/RECORD": "",
    }
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(text.encode())

    def full(paths: list[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for dist in metadata.distributions(path=paths):
            text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
            name, version = envprobe._name_version(text)
            if name:
                found[name.lower()] = version
        return dict(sorted(found.items()))

    def headers(paths: list[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for dist in metadata.distributions(path=paths):
            name, version = envprobe._name_version(envprobe._header(dist))
            if name:
                found[name.lower()] = version
        return dict(sorted(found.items()))

    awkward = headers([str(site)])
    assert awkward == full([str(site)])
    assert awkward == {"crlf": "2.0", "from-pkg-info": "4.0", "late": "3.0", "long": "1.0"}
    assert envprobe.packages() == full(sys.path)


def test_the_platform_is_platform_platform_without_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorded platform is the text platform.platform() gives (here the processor `uname -p` names is
    blank or the machine, as on Debian and RHEL), and no process is started to find it: every submit and
    every job start records it."""
    expected = platform.platform()
    if sys.platform == "linux":
        processor = subprocess.run(["uname", "-p"], capture_output=True, text=True).stdout.strip()
        assert processor in ("unknown", "", os.uname().machine), (
            "a Linux whose processor is kept: see envinfo"
        )

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    monkeypatch.setattr(envinfo, "_gpus", list)  # nvidia-smi, where there is one, is another matter
    assert envinfo.platform_text() == expected
    assert envinfo.job_side()["platform"] == expected
