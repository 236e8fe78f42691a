"""env.json: allow-listed environment, secrets redacted by name and by value."""

from __future__ import annotations

import json
import platform

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
