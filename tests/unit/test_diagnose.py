"""Failure diagnosis: every category from realistic log snippets, the precedence rules, and the wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusterrun.config.models import ExperimentSpec
from clusterrun.config.resources import parse_mem_mb, parse_time_seconds, round_mem_mb, round_seconds
from clusterrun.diagnose.model import Strength
from clusterrun.diagnose.rules import (
    CATEGORIES,
    ORDER,
    RULES,
    Diagnosis,
    diagnose,
    progress_from,
    user_name,
)
from clusterrun.diagnose.tracebacks import final_exception, find_traceback, last_traceback
from clusterrun.execution.smoke import SmokeResult
from clusterrun.records.registry import Run
from clusterrun.records.summary import build, smoke_diagnosis

RES = {"time": "00:10:00", "mem": "2G", "gpus": 1, "cpus_per_task": 4, "partition": "gpu", "qos": "normal"}
SCHED = "scheduler/4242_0_log.err"

# --- what slurmstepd writes (Slurm 22.05 here, without cgroups; the last one is a cgroup cluster) ------
MEM_KILL = """\
slurmstepd-vm: error: StepId=4242.batch exceeded memory limit (644497408 > 209715200), being killed
slurmstepd-vm: error: Exceeded job memory limit
slurmstepd-vm: error: *** JOB 4242 ON vm CANCELLED AT 2026-11-29T16:36:41 ***
"""
MEM_KILL_KB = "slurmstepd: error: Job 4242 exceeded memory limit (2150400 > 2097152), being killed\n"
OOM_CGROUP = (
    "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=4242.batch. Some of your processes may have "
    "been killed by the cgroup out-of-memory handler.\n"
)
TIME_KILL = (
    "slurmstepd-vm: error: *** JOB 4242 ON vm CANCELLED AT 2026-11-29T16:38:00 DUE TO TIME LIMIT ***\n"
)
CANCEL = "slurmstepd-vm: error: *** JOB 4242 ON vm CANCELLED AT 2026-11-29T16:38:27 ***\n"
NODE = "slurmstepd: error: *** JOB 4242 ON node03 CANCELLED AT 2026-03-01T10:00:00 DUE TO NODE FAILURE ***\n"
PREEMPTION = (
    "slurmstepd: error: *** JOB 4242 ON gpu12 CANCELLED AT 2026-03-01T10:00:00 DUE TO PREEMPTION ***\n"
)

# --- what the user's program writes ---------------------------------------------------------------------


def tb(*frames_and_exception: str) -> str:
    *frames, exc = frames_and_exception
    body = "".join(f'  File "{f}", line 10, in main\n    do_it()\n' for f in frames)
    return f"Traceback (most recent call last):\n{body}{exc}\n"


CUDA_OOM = tb(
    "/snap/train.py",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "15.77 GiB of which 1.19 GiB is free. Including non-PyTorch memory, this process has 14.57 GiB in use.",
)
CUBLAS = tb(
    "/snap/model.py",
    "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
)
NO_CV2 = tb("/snap/data.py", "ModuleNotFoundError: No module named 'cv2'")
NO_SKLEARN = tb("/snap/eval.py", "ModuleNotFoundError: No module named 'sklearn.metrics'")
CANNOT_IMPORT = tb(
    "/snap/train.py",
    "ImportError: cannot import name 'LlamaForCausalLM' from 'transformers' (/venv/transformers/__init__.py)",
)
NO_LIB = tb(
    "/snap/train.py",
    "ImportError: libcudart.so.11.0: cannot open shared object file: No such file or directory",
)
NO_DATA = tb("/snap/train.py", "FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'")
NO_ABS = tb(
    "/snap/train.py", "FileNotFoundError: [Errno 2] No such file or directory: '/datasets/imagenet/train'"
)
QUOTA = tb("/snap/train.py", "OSError: [Errno 122] Disk quota exceeded: '/home/alice/ckpt/last.pt'")
NOSPACE = tb("/snap/train.py", "OSError: [Errno 28] No space left on device")
NCCL = (
    "gpu3:1234:1290 [0] NCCL INFO Bootstrap : Using eth0:10.0.0.3<0>\n"
    "gpu3:1234:1290 [0] misc/socket.cc:484 NCCL WARN Net : Call to connect returned Connection refused\n"
    + tb(
        "/snap/train.py",
        "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL"
        ".cpp:1275, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.18.1",
    )
)
ARGPARSE = (
    "usage: train.py [-h] [--lr LR] [--steps STEPS]\ntrain.py: error: unrecognized arguments: --dropout 0.1\n"
)
ARGPARSE_VALUE = (
    "usage: train.py [-h] [--lr LR]\ntrain.py: error: argument --lr: invalid float value: 'fast'\n"
)
HYDRA = (
    "Could not override 'optimizer.lrr'.\nTo append to your config use +optimizer.lrr=0.1\n"
    "Key 'lrr' is not in struct\n    full_key: optimizer.lrr\n    object_type=dict\n"
    "\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
)
COMMAND_FAILED = "submitit ERROR (2026-11-29 16:40:00,000) - Submitted job triggered an exception\n" + tb(
    "/venv/submitit/core/_submit.py",
    "clusterrun.execution.jobrun.CommandFailed: the command exited with code 1",
)


def d(state: str = "failed", exit_code: int | None = 1, **kw: Any) -> Diagnosis:
    kw.setdefault("resources", RES)
    return diagnose(state, exit_code, **kw)


# ------------------------------------------------------------------------------------------- host_oom


def test_host_oom_from_a_memory_kill_without_cgroups_failed_0_9() -> None:
    got = d("failed", 0, signal=9, logs={"stderr.log": "", SCHED: MEM_KILL}, resources={"mem": "200M"})
    assert got.category == "host_oom"
    assert (
        "state FAILED, exit code 0:9" in got.evidence and "exceeded memory limit (644497408" in got.evidence
    )
    assert got.fix.startswith("resources.mem=800M or more")  # peak 615 MB (from slurmstepd's bytes) x 1.3
    assert "killed at that peak, so it needed more" in got.fix  # a floor, not a measure of its need
    assert got.details["suggested_mem"] == "800M" and got.details["log"] == SCHED


def test_host_oom_from_the_state_uses_the_measured_peak() -> None:
    got = d("out_of_memory", 0, signal=125, logs={SCHED: OOM_CGROUP}, max_rss_mb=3000.0)
    assert got.category == "host_oom" and "oom-kill event" in got.evidence
    assert "resources.mem=4G" in got.fix  # max(3000, 2048) x 1.3 = 3900 MB -> 4G
    assert "state OUT_OF_MEMORY" in got.evidence


def test_host_oom_old_slurm_prints_kilobytes() -> None:
    got = d("failed", 0, signal=9, logs={SCHED: MEM_KILL_KB}, resources={"mem": "2G"})
    assert got.details["peak_mb"] == pytest.approx(2100, abs=1)
    assert got.details["suggested_mem"] == "3G"


def test_host_oom_from_the_kernel_killer_needs_exit_137_and_a_killed_line() -> None:
    line = "/var/spool/slurmd/job4242/slurm_script: line 12:  4321 Killed                  python train.py\n"
    got = d("failed", 137, logs={"stderr.log": line})
    assert got.category == "host_oom" and "Killed" in got.evidence
    assert d("failed", 1, logs={"stderr.log": line}).category == "unknown"


def test_host_oom_without_any_number_still_names_the_key() -> None:
    got = diagnose("out_of_memory", None)
    assert got.category == "host_oom" and "resources.mem=" in got.fix


# ------------------------------------------------------------------------------------------- cuda_oom


def test_cuda_oom_halves_the_batch_size_param() -> None:
    got = d(logs={"stderr.log": "epoch 1\n" + CUDA_OOM}, params={"lr": 0.1, "batch_size": 64})
    assert got.category == "cuda_oom" and "CUDA out of memory" in got.evidence
    assert got.fix.startswith("params.batch_size=32 (half of 64)") and "resources.gpus=2" in got.fix


def test_cublas_alloc_failure_is_cuda_oom() -> None:
    got = d(logs={"stderr.log": CUBLAS})
    assert got.category == "cuda_oom" and "batch size" in got.fix


# ------------------------------------------------------------------------------- no_gpu and cuda_error
NO_GPUS = tb(
    "/snap/train.py",
    "/venv/torch/cuda/__init__.py",
    "RuntimeError: No CUDA GPUs are available",
)
NO_DRIVER = tb(
    "/snap/train.py",
    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
    "installed a driver from http://www.nvidia.com/Download/index.aspx",
)
GPU_CHECKPOINT = tb(
    "/snap/eval.py",
    "RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
    "If you are running on a CPU-only machine, please use torch.load with map_location=torch.device('cpu') "
    "to map your storages to the CPU.",
)
CPU_BUILD = tb("/snap/train.py", "AssertionError: Torch not compiled with CUDA enabled")
DEVICE_ASSERT = (
    "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], "
    "thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.\n"
    + tb("/snap/train.py", "RuntimeError: CUDA error: device-side assert triggered")
    + "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
    "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n"
)
NO_KERNEL = tb(
    "/snap/train.py", "RuntimeError: CUDA error: no kernel image is available for execution on the device"
)


@pytest.mark.parametrize("text", [NO_GPUS, NO_DRIVER, GPU_CHECKPOINT])
def test_a_job_without_a_gpu_is_told_to_request_one(text: str) -> None:
    got = d(logs={"stderr.log": text}, resources={**RES, "gpus": 0})
    assert (
        got.category == "no_gpu" and "resources.gpus=1" in got.fix and "torch.cuda.is_available()" in got.fix
    )


def test_a_job_that_asked_for_a_gpu_and_saw_none_is_told_where_to_look() -> None:
    got = d(logs={"stderr.log": NO_GPUS}, resources={**RES, "gpus": 2})
    assert got.category == "no_gpu" and "resources.gpus=2" in got.fix and "CUDA_VISIBLE_DEVICES" in got.fix


def test_a_smoke_test_on_a_machine_without_a_gpu_is_told_how_to_run_anyway() -> None:
    """A GPU job's smoke test runs on the submitting machine (a login node without GPUs, often): asking
    for a GPU would be wrong advice there."""
    smoke = {"timeout": 300, "params": {"epochs": 1}}
    got = d(logs={"smoke/stderr.log": NO_GPUS}, resources={**RES, "gpus": 1}, smoke=smoke)
    assert got.category == "no_gpu" and "--skip-smoke" in got.fix and "no GPU" in got.fix
    assert "resources.gpus" not in got.fix


def test_a_cpu_only_torch_is_told_to_install_a_cuda_build() -> None:
    got = d(logs={"stderr.log": CPU_BUILD})
    assert got.category == "no_gpu" and "CPU-only build" in got.fix and "download.pytorch.org" in got.fix


def test_a_device_side_assert_points_at_an_index_and_at_cuda_launch_blocking() -> None:
    got = d(logs={"stderr.log": DEVICE_ASSERT})
    assert got.category == "cuda_error" and "device-side assert triggered" in got.evidence
    assert "index out of range" in got.fix and "env.CUDA_LAUNCH_BLOCKING=1" in got.fix


def test_a_gpu_the_torch_build_does_not_support_is_said() -> None:
    got = d(logs={"stderr.log": NO_KERNEL})
    assert got.category == "cuda_error" and "architecture" in got.fix and "resources.gpu_type" in got.fix


def test_a_cuda_out_of_memory_is_still_cuda_oom() -> None:
    assert d(logs={"stderr.log": CUDA_OOM + DEVICE_ASSERT}).category == "cuda_error"  # the last traceback
    assert d(logs={"stderr.log": DEVICE_ASSERT + CUDA_OOM}).category == "cuda_oom"


# ------------------------------------------------------------------------- shared_memory and open_files
LOADER_EXITED = tb(
    "/snap/train.py",
    "/venv/torch/utils/data/dataloader.py",
    "RuntimeError: DataLoader worker (pid(s) 4242) exited unexpectedly",
)
BUS_ERROR = (
    "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory "
    "(shm).\n"
    + tb(
        "/venv/torch/utils/data/_utils/signal_handling.py",
        "RuntimeError: DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible that "
        "dataloader's workers are out of shared memory. Please try to raise your shared memory limit.",
    )
    + "\nThe above exception was the direct cause of the following exception:\n\n"
    + LOADER_EXITED
)
SHM_FULL = tb("/snap/train.py", "OSError: [Errno 28] No space left on device: '/dev/shm/torch_4242_123'")
OPEN_FILES = tb("/snap/train.py", "OSError: [Errno 24] Too many open files")


def test_a_dataloader_out_of_shared_memory_halves_its_workers() -> None:
    got = d(logs={"stderr.log": BUS_ERROR}, params={"num_workers": 8})
    assert got.category == "shared_memory" and "Bus error" in got.evidence
    assert "params.num_workers=4 (half of 8)" in got.fix and "resources.mem=" in got.fix


def test_a_full_dev_shm_is_not_a_full_disk() -> None:
    got = d(logs={"stderr.log": SHM_FULL})
    assert got.category == "shared_memory" and "/scratch" not in got.fix
    assert d(logs={"stderr.log": QUOTA}).category == "disk_quota"  # another path's full disk still is


def test_a_worker_that_exited_without_a_word_of_shared_memory_is_not_guessed() -> None:
    # a worker killed by the OOM killer or a crash ends the same way: nothing here says which
    assert d(logs={"stderr.log": LOADER_EXITED}).category == "unknown"


def test_too_many_open_files_names_the_sharing_strategy_and_the_limit() -> None:
    got = d(logs={"stderr.log": OPEN_FILES}, params={"workers": 6})
    assert got.category == "open_files" and "set_sharing_strategy('file_system')" in got.fix
    assert "ulimit -n" in got.fix and "params.workers=3 (half of 6)" in got.fix


# ----------------------------------------------------------------------------------------- time_limit


def test_time_limit_without_progress_doubles_the_limit() -> None:
    got = d("timeout", 0, logs={SCHED: TIME_KILL}, resources={"time": "00:01:00"}, elapsed_seconds=80)
    assert got.category == "time_limit"
    assert (
        "state TIMEOUT" in got.evidence and "DUE TO TIME LIMIT" in got.evidence and "00:01:20" in got.evidence
    )
    assert got.fix.startswith("resources.time=00:02:00")


def test_time_limit_with_progress_projects_the_run() -> None:
    progress = {"metric": "step", "value": 120, "param": "steps", "total": 500}
    got = d("timeout", 0, logs={SCHED: TIME_KILL}, elapsed_seconds=600, progress=progress)
    # 600 s for 24 % -> 2500 s x 1.2 = 3000 s = 50 min
    assert got.fix.startswith("resources.time=00:50:00") and "step 120 of 500" in got.evidence
    assert parse_time_seconds(got.details["suggested_time"]) > 600


def test_time_limit_suggestion_always_exceeds_the_limit() -> None:
    progress = {"metric": "step", "value": 99, "total": 100}
    got = d("deadline", 0, elapsed_seconds=100, progress=progress, resources={"time": "01:00:00"})
    assert got.category == "time_limit" and parse_time_seconds(got.details["suggested_time"]) > 3600


def test_killed_by_sigusr2_is_the_time_limit_warning() -> None:
    # submitit's --signal=USR2@90 reaches a command that does not handle it: it dies before the limit
    for code in (-12, 140):
        got = d(
            "failed", code, logs={SCHED: COMMAND_FAILED}, elapsed_seconds=30, resources={"time": "00:01:00"}
        )
        assert got.category == "time_limit" and "SIGUSR2" in got.evidence
        assert got.fix.startswith("resources.time=00:02:00")
    assert "(killed by SIGUSR2)" in d("failed", -12).evidence


def test_smoke_timeout_suggests_smoke_timeout_or_smaller_params() -> None:
    err = "step 1\n\nclusterrun: smoke test killed after the 60 s timeout (smoke.timeout)\n"
    got = diagnose(
        "timeout", -15, logs={"smoke/stderr.log": err}, smoke={"timeout": 60, "params": {"steps": 1}}
    )
    assert got.category == "time_limit" and got.evidence.startswith("smoke test timed out after 60 s")
    assert got.fix.startswith("smoke.timeout=120") and "smoke.params.steps" in got.fix


# --------------------------------------------------------------------------- node, preemption, cancel


def test_node_failure() -> None:
    assert d("node_fail", 0, logs={SCHED: NODE}, node="node03").category == "node_failure"
    got = d("boot_fail", None)
    assert got.category == "node_failure" and "submit again" in got.fix


def test_preempted_suggests_another_qos() -> None:
    got = d("preempted", 0, logs={SCHED: PREEMPTION})
    assert got.category == "preempted" and "resources.qos=" in got.fix and "now qos=normal" in got.fix
    assert "checkpoint" in got.fix


def test_cancelled_names_who_from_a_raw_sacct_state() -> None:
    got = d("CANCELLED by 0", 0, signal=0, logs={SCHED: CANCEL}, elapsed_seconds=3)
    assert got.category == "cancelled"
    assert "by root (uid 0)" in got.evidence and "CANCELLED AT 2026-11-29T16:38:27" in got.evidence
    assert got.details["cancelled_by"] == "root (uid 0)"


def test_cancelled_by_a_name_or_an_unknown_uid() -> None:
    assert "by alice" in d("cancelled", 0, cancelled_by="alice").evidence
    assert user_name("4000000000") == "uid 4000000000"
    assert "(by whom: unknown)" in d("cancelled", 0).evidence


# ------------------------------------------------------------------------------- application errors


@pytest.mark.parametrize(
    ("text", "module", "package"),
    [
        (NO_CV2, "cv2", "opencv-python"),
        (NO_SKLEARN, "sklearn.metrics", "scikit-learn"),
        (tb("/s.py", "ModuleNotFoundError: No module named 'PIL'"), "PIL", "Pillow"),
        (tb("/s.py", "ModuleNotFoundError: No module named 'yaml'"), "yaml", "PyYAML"),
        (tb("/s.py", "ModuleNotFoundError: No module named 'wandb'"), "wandb", "wandb"),
    ],
)
def test_missing_module_names_the_pip_package(text: str, module: str, package: str) -> None:
    got = d(logs={"stderr.log": text})
    assert got.category == "missing_module" and f"No module named '{module}'" in got.evidence
    assert (
        f"pip install {package}" in got.fix
        and "setup=['source \"$CLUSTERRUN_REPO_ROOT/.venv/bin/activate\"']" in got.fix
    )
    assert got.details["module"] == module


def test_missing_module_version_mismatch_and_shared_library() -> None:
    got = d(logs={"stderr.log": CANNOT_IMPORT})
    assert got.category == "missing_module" and "pip install -U transformers" in got.fix
    got = d(logs={"stderr.log": NO_LIB})
    assert got.category == "missing_module" and "setup=['module load cuda']" in got.fix


def _checkout_and_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout whose src/pkg has _gen.py (ignored by git) and a run whose copy of src/pkg lacks it."""
    repo, run = tmp_path / "repo", tmp_path / "repo" / "runs" / "r_1"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "_gen.py").write_text("X = 1\n")
    (repo / "src" / "pkg" / "_ops.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (run / "work" / "src" / "pkg").mkdir(parents=True)
    (run / "work" / "src" / "pkg" / "__init__.py").write_text("")
    (run / "command.sh").write_text("")
    return repo, run


def test_a_module_git_does_not_track_is_named_as_missing_from_the_runs_copy(tmp_path: Path) -> None:
    """An editable install found src/pkg/_gen.py in the checkout; the run imports its copy, which holds
    tracked files only: the fix is to commit it or build it in the job, not to reinstall a package."""
    repo, run = _checkout_and_copy(tmp_path)
    init = run / "work" / "src" / "pkg" / "__init__.py"
    text = tb(str(run / "work" / "train.py"), f"ImportError: cannot import name '_gen' from 'pkg' ({init})")
    got = d(logs={"stderr.log": text}, repo_root=str(repo))
    assert got.category == "missing_module" and got.details["untracked"] == "src/pkg/_gen.py"
    assert "git add -f src/pkg/_gen.py" in got.fix and "pip install" not in got.fix
    # imported through the run's .imports/ links to its copy (execution/codepath.py), as a job does
    (run / ".imports").mkdir()
    (run / ".imports" / "pkg").symlink_to(run / "work" / "src" / "pkg")
    linked = run / ".imports" / "pkg" / "__init__.py"
    text = tb(str(run / "work" / "train.py"), f"ImportError: cannot import name '_gen' from 'pkg' ({linked})")
    assert d(logs={"stderr.log": text}, repo_root=str(repo)).details["untracked"] == "src/pkg/_gen.py"
    text = tb(str(run / "work" / "train.py"), "ModuleNotFoundError: No module named 'pkg._ops'")
    got = d(logs={"stderr.log": text}, repo_root=str(repo))
    assert got.details["untracked"] == "src/pkg/_ops.cpython-311-x86_64-linux-gnu.so"
    assert "build_ext --inplace" in got.fix
    # the copy has it (the import failed for another reason), or the checkout lacks it: a package's fix
    (run / "work" / "src" / "pkg" / "_gen.py").write_text("X = 1\n")
    text = tb(str(run / "work" / "train.py"), f"ImportError: cannot import name '_gen' from 'pkg' ({init})")
    got = d(logs={"stderr.log": text}, repo_root=str(repo))
    assert "untracked" not in got.details and "pip install -U pkg" in got.fix
    text = tb(str(run / "work" / "train.py"), "ModuleNotFoundError: No module named 'pkg._other'")
    assert "untracked" not in d(logs={"stderr.log": text}, repo_root=str(repo)).details
    # a traceback from outside any run's working directory tells nothing about the copy
    text = tb(str(tmp_path / "train.py"), "ModuleNotFoundError: No module named 'pkg._ops'")
    assert "untracked" not in d(logs={"stderr.log": text}, repo_root=str(repo)).details


@pytest.mark.parametrize(
    ("line", "command", "advice"),
    [
        ("/work/runs/x_1/command.sh: line 9: torchrun: command not found", "torchrun", "setup=["),
        ("/bin/sh: 1: nvidia-smi: not found", "nvidia-smi", "setup=["),
        (
            "/work/runs/x_1/command.sh: line 9: ./run.sh: No such file or directory",
            "./run.sh",
            "git add ./run.sh",
        ),
    ],
)
def test_command_not_found(line: str, command: str, advice: str) -> None:
    got = d("failed", 127, logs={"stderr.log": line + "\n"})
    assert got.category == "command_not_found" and got.details["command"] == command
    assert advice in got.fix


def test_exit_127_alone_is_command_not_found() -> None:
    assert d("failed", 127, logs={}).category == "command_not_found"


def test_missing_python_means_activate_the_environment() -> None:
    got = d("failed", 127, logs={"stderr.log": "command.sh: line 3: python: command not found\n"})
    assert 'source "$CLUSTERRUN_REPO_ROOT/.venv/bin/activate"' in got.fix


@pytest.mark.parametrize(
    ("line", "advice"),
    [
        (
            "command.sh: line 20: .venv/bin/activate: No such file or directory",
            "setup=['source \"$CLUSTERRUN_REPO_ROOT/.venv/bin/activate\"']",
        ),
        (
            "command.sh: line 22: env/bin/python: No such file or directory",
            "setup=['source \"$CLUSTERRUN_REPO_ROOT/env/bin/activate\"']",
        ),
    ],
)
def test_a_venv_path_relative_to_the_checkout_is_reached_through_the_repo_root(
    line: str, advice: str
) -> None:
    """The working directory holds tracked files only: a relative venv is never there, and the advice
    is one that works (never 'module load .venv/bin/activate')."""
    got = d("failed", 127, logs={"stderr.log": line + "\n"})
    assert got.category == "command_not_found" and advice in got.fix
    assert "module load" not in got.fix


def test_missing_file_relative_points_at_the_snapshot_and_the_param() -> None:
    got = d(logs={"stderr.log": NO_DATA}, params={"data": "data/train.csv", "lr": 0.1})
    assert got.category == "missing_file" and got.details == {
        "log": "stderr.log",
        "line": "FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'",
        "path": "data/train.csv",
        "relative": True,
    }
    assert "relative" in got.fix and "snapshot" in got.fix
    assert "params.data=/absolute/path/to/train.csv" in got.fix


def test_missing_file_untracked_in_the_checkout_names_the_mechanism_and_the_config_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x,y\n")  # in the checkout, not in the snapshot
    got = d(logs={"stderr.log": NO_DATA}, params={"lr": 0.1}, repo_root=str(tmp_path))
    assert got.category == "missing_file"
    assert got.fix.startswith(
        "data/train.csv exists in your checkout but is not tracked by git, so it is not in the run's snapshot"
    )
    assert (
        "`data: {train_csv: data/train.csv}`" in got.fix
        and "linked into the run's working directory" in got.fix
    )
    assert (
        got.details["untracked"] is True and got.details["config_line"] == "data: {train_csv: data/train.csv}"
    )
    # not in the checkout either: the general advice about relative paths
    (tmp_path / "data" / "train.csv").unlink()
    got = d(logs={"stderr.log": NO_DATA}, params={"lr": 0.1}, repo_root=str(tmp_path))
    assert "untracked" not in got.details and "relative" in got.fix


@pytest.mark.parametrize(
    "line",
    [
        "FileNotFoundError: data/train.csv not found.",  # numpy's loadtxt and genfromtxt
        "FileNotFoundError: data/train.csv",  # raise FileNotFoundError(path)
        "FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'",
    ],
)
def test_missing_file_names_the_path_however_the_reader_words_it(tmp_path: Path, line: str) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x,y\n")
    logs = {"stderr.log": f'Traceback (most recent call last):\n  File "train.py", line 3\n{line}\n'}
    got = d(logs=logs, params={"lr": 0.1}, repo_root=str(tmp_path))
    assert got.category == "missing_file" and got.details["path"] == "data/train.csv"
    assert got.details["config_line"] == "data: {train_csv: data/train.csv}"


def test_smoke_diagnosis_knows_the_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "train.csv").write_text("x,y\n")
    (tmp_path / "stderr.log").write_text(NO_DATA)
    (tmp_path / "stdout.log").write_text("")
    spec = ExperimentSpec.model_validate({"name": "x", "command": "python train.py"})
    smoke = SmokeResult(
        False, 1, 0.5, 20.0, False, str(tmp_path / "stdout.log"), str(tmp_path / "stderr.log")
    )
    got = smoke_diagnosis(smoke, spec, str(repo))
    assert (
        got.category == "missing_file" and got.details["config_line"] == "data: {train_csv: data/train.csv}"
    )
    assert "untracked" not in smoke_diagnosis(smoke, spec).details


def test_missing_file_absolute_and_not_in_the_snapshot() -> None:
    got = d(logs={"stderr.log": NO_ABS})
    assert got.category == "missing_file" and got.details["relative"] is False
    assert "shared filesystem" in got.fix and "+params.data=" in got.fix
    line = "python: can't open file '/w/runs/.snapshots/ab12/train.py': [Errno 2] No such file or directory"
    got = d("failed", 2, logs={"stderr.log": line})
    assert got.category == "missing_file" and "commit it" in got.fix
    got = d("failed", 1, logs={"stderr.log": "cat: data/labels.txt: No such file or directory"})
    assert got.category == "missing_file" and got.details["path"] == "data/labels.txt"


@pytest.mark.parametrize("text", [QUOTA, NOSPACE])
def test_disk_quota(text: str) -> None:
    got = d(logs={"stderr.log": text}, params={"output_dir": "/home/alice/ckpt"})
    assert got.category == "disk_quota" and "params.output_dir=/scratch" in got.fix


def test_nccl() -> None:
    got = d(logs={"stderr.log": NCCL})
    assert got.category == "nccl" and "NCCL error in" in got.evidence and "env.NCCL_DEBUG=INFO" in got.fix
    warn_only = NCCL.splitlines()[1] + "\n"
    assert d(logs={"stderr.log": warn_only}).category == "nccl"


BREAKPOINT = """\
Traceback (most recent call last):
  File "/tmp/work/train.py", line 8, in <module>
    print(f"step {s} loss={1/(s+1):.3f}", flush=True)
  File "/usr/lib/python3.11/bdb.py", line 90, in trace_dispatch
    return self.dispatch_line(frame)
  File "/usr/lib/python3.11/bdb.py", line 115, in dispatch_line
    if self.quitting: raise BdbQuit
bdb.BdbQuit
"""


def test_a_breakpoint_left_in_the_code_is_named_with_where_it_stopped() -> None:
    got = d(logs={"stderr.log": BREAKPOINT})
    assert got.category == "interactive" and got.evidence.endswith("bdb.BdbQuit")
    assert "breakpoint()" in got.fix and "train.py line 8" in got.fix and "PYTHONBREAKPOINT=0" in got.fix
    assert d(logs={"stderr.log": "BdbQuit\n"}).category == "interactive"
    assert d(logs={"stderr.log": "class MyBdbQuitter: pass\n"}).category == "unknown"


def test_a_program_that_asks_for_input_or_a_login_is_named_with_the_way_out() -> None:
    asked = d(logs={"stderr.log": INPUT})
    assert asked.category == "interactive" and "input() at ask.py line 3" in asked.fix
    assert "PYTHONBREAKPOINT" not in asked.fix
    login = d(
        logs={"stderr.log": "wandb: ERROR api_key not configured (no-tty). call wandb.login(key=...)\n"}
    )
    assert (
        login.category == "interactive" and "WANDB_API_KEY" in login.fix and "WANDB_MODE=offline" in login.fix
    )


DIVERGED_TRACEBACK = """\
epoch 0:  43%|####3     | 27/63 [00:00<00:00, 304.05it/s, loss=68410695827777684844998431111905280.0000]
Traceback (most recent call last):
  File "/tmp/work/train.py", line 40, in main
    assert np.isfinite(loss), f"loss diverged at epoch {epoch}"
AssertionError: loss diverged at epoch 0
"""


@pytest.mark.parametrize(
    "said",
    [
        "AssertionError: loss diverged at epoch 0",
        "FloatingPointError: overflow encountered in multiply",
        "RuntimeError: Function 'MseLossBackward0' returned nan values in its 0th output.",
        "ValueError: loss is nan, stopping training",
        "RuntimeError: Loss became NaN at step 120",
        "ValueError: The loss is NaN or Inf.",
        "RuntimeError: NaN or Inf found in input tensor.",
        "Exception: Training diverged: loss=inf",
        "AssertionError: gradients are not finite",
    ],
)
def test_a_training_that_diverged_is_named_with_a_lower_learning_rate(said: str) -> None:
    got = d(logs={"stderr.log": f"Traceback (most recent call last):\n  File \"t.py\", line 1\n{said}\n"},
            params={"epochs": 5, "lr": 5.0})  # fmt: skip
    assert got.category == "diverged", got.line()
    assert "params.lr=0.5 (a tenth of 5)" in got.fix


def test_a_divergence_names_the_run_s_own_learning_rate_param_or_none() -> None:
    got = d(logs={"stderr.log": DIVERGED_TRACEBACK}, params={"learning_rate": 0.003, "bs": 8})
    assert got.category == "diverged" and "params.learning_rate=0.0003 (a tenth of 0.003)" in got.fix
    got = d(logs={"stderr.log": DIVERGED_TRACEBACK}, params={"epochs": 5})
    assert got.category == "diverged" and "a lower learning rate;" in got.fix and "params." not in got.fix
    got = d(logs={"stderr.log": "ValueError: Input contains NaN.\n"}, params={"lr": 0.1})
    assert got.category == "diverged" and "the data holds them" in got.fix


@pytest.mark.parametrize(
    "said",
    [
        "RuntimeWarning: invalid value encountered in divide\nKeyError: 'label'",
        "ValueError: could not convert string to float: 'nan'",
        "AssertionError: loss is 3.2",
        "ModuleNotFoundError: No module named 'infinite_loader'",
    ],
)
def test_words_near_nan_or_inf_are_not_a_divergence(said: str) -> None:
    assert d(logs={"stderr.log": f"Traceback (most recent call last):\n{said}\n"}).category != "diverged"


def test_a_divergence_warned_of_before_another_error_is_that_error() -> None:
    # an overflow warning, then the program died of something else: what it died of decides
    logs = "training diverged, lowering lr\nTraceback (most recent call last):\nKeyError: 'label'\n"
    assert d(logs={"stderr.log": logs}).category == "unknown"


INPUT = """\
Traceback (most recent call last):
  File "/tmp/work/ask.py", line 3, in <module>
    ans = input("outputs/ exists, overwrite? [y/N] ")
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
EOFError: EOF when reading a line
"""


def test_config_error_argparse() -> None:
    got = d("failed", 2, logs={"stderr.log": ARGPARSE})
    assert got.category == "config_error" and "--dropout 0.1" in got.evidence and "command=" in got.fix
    got = d("failed", 2, logs={"stderr.log": ARGPARSE_VALUE}, params={"lr": "fast"})
    assert got.category == "config_error" and "params.lr=" in got.fix
    got = d("failed", 2, logs={"stderr.log": "usage: train.py [-h] --data DATA\n"})
    assert got.category == "config_error"


def test_config_error_argparse_says_what_value_it_wants() -> None:
    """argparse's message names the type or the choices: the fix gives a value of that kind."""
    usage = "usage: train.py [-h] [--hidden HIDDEN]\ntrain.py: error: argument --hidden: "
    got = d("failed", 2, logs={"stderr.log": usage + "invalid int value: '32.5'\n"}, params={"hidden": 32.5})
    assert got.category == "config_error" and "set params.hidden=32 (an integer)" in got.fix
    choice = "--optim: invalid choice: 'adamw' (choose from 'sgd', 'adam')\n"
    got = d(
        "failed", 2, logs={"stderr.log": usage.replace("--hidden: ", "") + choice}, params={"optim": "adamw"}
    )
    assert "set params.optim=sgd (one of sgd, adam)" in got.fix, got.fix
    got = d(
        "failed", 2, logs={"stderr.log": usage + "invalid float value: 'fast'\n"}, params={"hidden": "fast"}
    )
    assert "set params.hidden=<a number>" in got.fix


SPAWN_LOOP = """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/usr/lib/python3.11/multiprocessing/spawn.py", line 131, in _main
    prepare(preparation_data)
  File "/work/train.py", line 58, in main
    with mp.get_context("spawn").Pool(args.workers) as pool:
RuntimeError:
        An attempt has been made to start a new process before the
        current process has finished its bootstrapping phase.
"""


def test_workers_started_at_import_explain_the_time_limit_they_lead_to() -> None:
    """A pool started at import hangs until the time limit: the limit is the consequence, the words are
    the cause (and the fix is the main guard, not more time)."""
    got = d("timeout", 0, signal=15, logs={"stderr.log": SPAWN_LOOP})
    assert got.category == "spawn_at_import", got
    assert "(train.py line 58, in main)" in got.fix and 'if __name__ == "__main__":' in got.fix
    assert d("timeout", 0, signal=15, logs={"stderr.log": "epoch 3\n"}).category == "time_limit"


def test_config_error_hydra() -> None:
    got = d(logs={"stderr.log": HYDRA})
    assert got.category == "config_error" and "lrr" in got.fix
    omega = tb("/s.py", "omegaconf.errors.ConfigAttributeError: Key 'lrr' is not in struct")
    assert d(logs={"stderr.log": omega}).category == "config_error"


def test_unknown_quotes_the_last_exception_and_skips_clusterrun_s_own() -> None:
    text = (
        "step 1\n"
        + tb("/snap/train.py", "ValueError: shapes do not align at step 17")
        + "some cleanup line\n"
    )
    got = d(logs={"stderr.log": text, SCHED: COMMAND_FAILED}, run_id="r_20260101-000000")
    assert got.category == "unknown" and got.evidence.endswith(
        "stderr.log: ValueError: shapes do not align at step 17"
    )
    assert "traceback.txt" in got.fix and "clusterrun logs r_20260101-000000 --stderr" in got.fix


def test_unknown_without_traceback_quotes_the_last_stderr_line() -> None:
    got = d("failed", 3, logs={"stderr.log": "loading\nfatal: giving up\n\n", SCHED: COMMAND_FAILED})
    assert (
        got.category == "unknown"
        and got.evidence == "state FAILED, exit code 3; stderr.log: fatal: giving up"
    )
    got = d("failed", None, signal=11, logs={})
    assert got.category == "unknown" and "signal 11" in got.fix


# ------------------------------------------------------------------------------------------ precedence


def test_memory_kill_beats_cancelled_lines_and_a_cancelled_state() -> None:
    assert d("failed", 0, signal=9, logs={SCHED: MEM_KILL}).category == "host_oom"
    assert d("cancelled", 0, signal=9, logs={SCHED: MEM_KILL}).category == "host_oom"


def test_time_limit_beats_cancelled() -> None:
    assert d("cancelled", 0, logs={SCHED: TIME_KILL}).category == "time_limit"
    assert d("timeout", 0, logs={SCHED: CANCEL}).category == "time_limit"


def test_preemption_and_node_failure_lines_beat_cancelled() -> None:
    assert d("cancelled", 0, logs={SCHED: PREEMPTION}).category == "preempted"
    assert d("cancelled", 0, logs={SCHED: NODE}).category == "node_failure"


def test_scheduler_verdict_beats_the_program_s_errors() -> None:
    assert d("out_of_memory", 0, logs={"stderr.log": NO_DATA}).category == "host_oom"
    assert d("timeout", 0, logs={"stderr.log": CUDA_OOM}).category == "time_limit"


def test_cancelled_beats_the_traceback_the_kill_caused() -> None:
    text = tb("/snap/train.py", "KeyboardInterrupt") + "/bin/sh: 1: x: not found\n"
    assert d("cancelled", 0, logs={"stderr.log": text}).category == "cancelled"


def test_the_final_exception_decides_among_program_errors() -> None:
    # a harmless NCCL warning earlier; the run died of a missing file
    text = NCCL.splitlines()[1] + "\n" + NO_DATA
    assert d(logs={"stderr.log": text}).category == "missing_file"
    # chained: the import failed while handling a missing file; the last exception is the import
    chained = NO_DATA + "\nDuring handling of the above exception, another exception occurred:\n\n" + NO_CV2
    assert d(logs={"stderr.log": chained}).category == "missing_module"


def test_without_a_deciding_exception_cuda_oom_beats_nccl() -> None:
    text = NCCL.splitlines()[1] + "\nRuntimeError: CUDA error: out of memory\n"
    assert d(logs={"stderr.log": text}).category == "cuda_oom"


def test_command_not_found_beats_missing_file_and_a_library_beats_both() -> None:
    line = "command.sh: line 9: ./run.sh: No such file or directory\n"
    assert d("failed", 127, logs={"stderr.log": line}).category == "command_not_found"
    assert d(logs={"stderr.log": NO_LIB}).category == "missing_module"


def test_missing_script_with_exit_2_is_missing_file_not_config_error() -> None:
    line = "python: can't open file '/w/runs/.snapshots/ab/train.py': [Errno 2] No such file or directory\n"
    assert d("failed", 2, logs={"stderr.log": line}).category == "missing_file"


def test_an_oom_kill_line_beats_the_python_traceback_it_caused() -> None:
    """slurmstepd's line is the scheduler's own word on why it killed the job; the traceback is the program
    reacting to the kill (a DataLoader worker killed, or a CUDA error while dying): the scheduler wins."""
    worker = tb("/snap/train.py", "RuntimeError: DataLoader worker (pid 4321) is killed by signal: Killed.")
    for text in (worker, CUDA_OOM):
        got = d("failed", 0, signal=9, logs={"stderr.log": text, SCHED: OOM_CGROUP}, resources={"mem": "2G"})
        assert got.category == "host_oom" and got.details["log"] == SCHED


def test_the_scheduler_s_state_beats_its_own_log_lines() -> None:
    # TIMEOUT is decisive, even when a memory line was also printed
    assert d("timeout", 0, logs={SCHED: MEM_KILL}).category == "time_limit"
    # without a deciding state, the lines go in rule order: memory before time
    assert d("failed", 0, signal=9, logs={SCHED: TIME_KILL + MEM_KILL}).category == "host_oom"


def test_a_cancellation_explains_a_sigkill_and_sigusr2_beats_sigkill() -> None:
    killed = "/var/spool/slurmd/job4242/slurm_script: line 12:  4321 Killed   python train.py\n"
    # scancel ends with SIGKILL: the 'Killed' line is the cancellation, not the kernel's OOM killer
    assert d("cancelled", 137, logs={"stderr.log": killed}).category == "cancelled"
    # SIGUSR2 has one meaning (the time limit is near); SIGKILL + 'Killed' is only an inference
    assert d("failed", 140, signal=9, logs={"stderr.log": killed}).category == "time_limit"
    assert d("failed", 137, logs={"stderr.log": killed}).category == "host_oom"


def test_the_final_exception_beats_lines_of_an_earlier_rule_and_an_exit_code_is_weakest() -> None:
    # disk_quota comes before missing_file in the list, but only as a line: the final exception decides
    text = "warning: [Errno 28] No space left on device (cache)\n" + NO_DATA
    assert d(logs={"stderr.log": text}).category == "missing_file"
    # an exit code alone is the weakest evidence: 127 with a missing file's traceback is missing_file
    assert d("failed", 127, logs={"stderr.log": NO_DATA}).category == "missing_file"
    # a usage line decides only with exit code 2, and after every other line
    usage = "usage: train.py [-h]\n"
    assert d("failed", 2, logs={"stderr.log": usage + NCCL.splitlines()[1]}).category == "nccl"
    assert d("failed", 1, logs={"stderr.log": usage}).category == "unknown"


def test_every_category_is_produced_and_records_keep_the_keys() -> None:
    got = {
        d("out_of_memory", 0).category,
        d(logs={"e": CUDA_OOM}).category,
        d("timeout", 0).category,
        d("node_fail", 0).category,
        d("preempted", 0).category,
        d("cancelled", 0).category,
        d(logs={"e": NO_CV2}).category,
        d("failed", 127).category,
        d(logs={"e": NO_DATA}).category,
        d(logs={"e": QUOTA}).category,
        d(logs={"e": NCCL}).category,
        d("failed", 2, logs={"e": ARGPARSE}).category,
        d(logs={"e": BREAKPOINT}).category,
        d(logs={"e": DIVERGED_TRACEBACK}).category,
        d(logs={"e": SPAWN_LOOP}).category,
        d(logs={"e": NO_GPUS}).category,
        d(logs={"e": DEVICE_ASSERT}).category,
        d(logs={"e": BUS_ERROR}).category,
        d(logs={"e": OPEN_FILES}).category,
        d("failed", 127, logs={"e": INCOMPLETE}).category,
        d().category,
    }
    assert got == set(CATEGORIES)
    assert {"category", "evidence", "fix", "details"} <= set(d().as_record())


def test_the_rule_list_is_the_single_source_of_truth() -> None:
    """One entry per category in RULES, with its own fix; CATEGORIES is read from it."""
    categories = [rule.category for rule in RULES]
    assert len(categories) == len(set(categories)) and tuple(categories) == CATEGORIES
    assert set(CATEGORIES) == {
        "host_oom", "cuda_oom", "time_limit", "node_failure", "preempted", "cancelled", "missing_module",
        "command_not_found", "missing_file", "disk_quota", "nccl", "config_error", "interactive", "diverged",
        "spawn_at_import", "no_gpu", "cuda_error", "shared_memory", "open_files", "incomplete_run", "unknown",
    }  # fmt: skip
    assert len({rule.fix for rule in RULES}) == len(RULES)
    for rule in RULES:  # one matcher per kind of evidence, so a category's place in the walk is unambiguous
        assert len({m.strength for m in rule.evidence}) == len(rule.evidence), rule.category
    # the fallback matches always, so it is the last step of the walk and the only one of its kind
    assert RULES[-1].category == "unknown" and [m.strength for m in RULES[-1].evidence] == [Strength.FALLBACK]
    assert [m.strength for m, _ in ORDER].count(Strength.FALLBACK) == 1


def test_the_walk_takes_the_strongest_evidence_first_then_the_list_order() -> None:
    """The whole evaluation order, as documented in rules.py: change it there and here together."""
    steps: dict[str, list[str]] = {}
    for matcher, rule in ORDER:
        steps.setdefault(matcher.strength.name, []).append(rule.category)
    program = [
        "incomplete_run",
        "cuda_oom",
        "no_gpu",
        "cuda_error",
        "shared_memory",
        "open_files",
        "disk_quota",
    ]
    program += ["missing_module", "command_not_found", "missing_file"]
    program += ["config_error", "nccl", "interactive", "diverged"]
    assert steps == {
        "VERDICT": ["host_oom", "spawn_at_import", "time_limit", "node_failure", "preempted"],
        "SCHEDULER_LOG": ["host_oom", "time_limit", "node_failure", "preempted"],
        "CANCELLATION": ["cancelled"],
        "TIME_WARNING": ["time_limit"],
        "KILLED": ["host_oom"],
        "EXCEPTION": program,
        "LOG_LINE": program,
        "EXIT_CODE": ["command_not_found", "config_error"],
        "FALLBACK": ["unknown"],
    }
    assert list(steps) == [s.name for s in Strength]


def test_only_scheduler_evidence_knows_the_scheduler() -> None:
    """SLURM's words (sacct's states, slurmstepd's lines) live in one module, so a new state vocabulary
    is a one-file change."""
    root = Path(__file__).parents[2] / "clusterrun" / "diagnose"
    knowing = sorted(p.name for p in root.rglob("*.py") if "clusterrun.scheduler" in p.read_text())
    assert knowing == ["scheduler_evidence.py"]


# --------------------------------------------------------------------------------- helpers and parts


def test_last_traceback_keeps_the_chain_and_stops_at_the_next_record() -> None:
    chained = NO_DATA + "\nDuring handling of the above exception, another exception occurred:\n\n" + NO_CV2
    text = "noise\n" + tb("/old.py", "KeyError: 'x'") + "\nmore noise\n" + chained + "2026-01-01 INFO bye\n"
    got = last_traceback(text)
    assert got.startswith("Traceback") and "FileNotFoundError" in got and got.rstrip().endswith("'cv2'")
    assert "KeyError" not in got and "INFO bye" not in got
    assert final_exception(got) == "ModuleNotFoundError: No module named 'cv2'"
    assert last_traceback("no traceback here\n") == ""
    assert find_traceback({SCHED: COMMAND_FAILED}) == ("", "")


def test_rounding_and_progress() -> None:
    assert [round_mem_mb(x) for x in (50, 780, 1001, 3900, 70000)] == [100, 800, 1024, 4096, 73728]
    assert [round_seconds(x) for x in (10, 61, 601, 7201)] == [60, 120, 900, 9000]
    assert progress_from({"step": 120, "loss": 0.1}, {"steps": 500}) == {
        "metric": "step",
        "value": 120,
        "param": "steps",
        "total": 500,
    }
    assert progress_from({"epoch": 3}, {"max_epochs": 10})["param"] == "max_epochs"  # type: ignore[index]
    assert progress_from({"loss": 1.0}, {"steps": 5}) is None
    assert progress_from({"step": 5}, {"lr": 0.1}) is None


# ------------------------------------------------------------------------------------------ the wiring


def _run(tmp_path: Path, **files: str) -> Run:
    run = Run(tmp_path / "r_20260101-000000")
    (run.path / "scheduler").mkdir(parents=True)
    for name, text in files.items():
        (run.path / name.replace("__", "/")).write_text(text)
    return run


def _manifest(**params: Any) -> dict[str, Any]:
    resources = {"time": "00:01:00", "mem": "200M", "gpus": 0}
    return {"job_id": "4242", "resources": resources, "config": {"params": params, "resources": resources}}


def test_summary_build_diagnoses_from_the_scheduler_log_and_keeps_the_traceback(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        **{
            "stderr.log": "x\n" + NO_DATA,
            "stdout.log": "step 1\n",
            "scheduler__4242_0_log.err": COMMAND_FAILED,
        },
    )
    summary = build(run, _manifest(data="data/train.csv"), {"state": "failed", "exit_code": 1, "signal": 0})
    assert summary["diagnosis"]["category"] == "missing_file"
    assert "params.data=" in summary["diagnosis"]["fix"]
    assert (run.path / "traceback.txt").read_text() == NO_DATA
    assert summary["logs"]["traceback"] == str(run.path / "traceback.txt")
    json.dumps(summary)


def test_summary_build_time_limit_with_progress_from_metrics(tmp_path: Path) -> None:
    metrics = "".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 51))
    run = _run(tmp_path, **{"metrics.jsonl": metrics, "scheduler__4242_0_log.err": TIME_KILL})
    summary = build(run, _manifest(steps=200), {"state": "timeout", "exit_code": 0, "elapsed_seconds": 75})
    diag = summary["diagnosis"]
    assert diag["category"] == "time_limit" and "step 50 of 200" in diag["evidence"]
    assert diag["fix"].startswith("resources.time=00:06:00")  # 75 s / 25 % x 1.2 = 360 s
    assert not (run.path / "traceback.txt").exists()


def test_summary_build_memory_kill_without_exit_json(tmp_path: Path) -> None:
    run = _run(tmp_path, **{"scheduler__4242_0_log.err": MEM_KILL})
    status = {"state": "failed", "exit_code": 0, "signal": 9, "max_rss_mb": 614.6}
    diag = build(run, _manifest(), status)["diagnosis"]
    assert diag["category"] == "host_oom" and parse_mem_mb(diag["details"]["suggested_mem"]) > 615


def test_summary_of_a_success_has_no_diagnosis(tmp_path: Path) -> None:
    run = _run(tmp_path, **{"stderr.log": NO_DATA})
    assert "diagnosis" not in build(run, _manifest(), {"state": "completed", "exit_code": 0})


def test_smoke_diagnosis_reads_the_smoke_logs(tmp_path: Path) -> None:
    (tmp_path / "stderr.log").write_text(NO_CV2)
    (tmp_path / "stdout.log").write_text("")
    spec = ExperimentSpec.model_validate(
        {
            "name": "x",
            "command": "python t.py --steps {steps}",
            "params": {"steps": 100},
            "smoke": {"timeout": 30},
        }
    )
    smoke = SmokeResult(
        False, 1, 0.5, 20.0, False, str(tmp_path / "stdout.log"), str(tmp_path / "stderr.log")
    )
    got = smoke_diagnosis(smoke, spec)
    assert got.category == "missing_module" and got.evidence.startswith("smoke test exited with code 1")
    timed_out = SmokeResult(False, -15, 30.2, 20.0, True, smoke.stdout_path, smoke.stderr_path)
    (tmp_path / "stderr.log").write_text(
        "clusterrun: smoke test killed after the 30 s timeout (smoke.timeout)\n"
    )
    got = smoke_diagnosis(timed_out, spec)
    assert got.category == "time_limit" and got.fix.startswith("smoke.timeout=60")
    assert "smoke.params.steps=1" in got.fix


# PyTorch re-raises a DataLoader worker's exception with the worker's traceback after its message.
WORKER_ERROR = """\
Traceback (most recent call last):
  File "/w/runs/bad_1/work/bad.py", line 13, in <module>
    for xb, yb in DataLoader(DS(), batch_size=10, num_workers=2):
  File "/venv/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1482, in _process_data
    data.reraise()
  File "/venv/lib/python3.11/site-packages/torch/_utils.py", line 750, in reraise
    raise exception
KeyError: Caught KeyError in DataLoader worker process 1.
Original Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/torch/utils/data/_utils/worker.py", line 374, in _worker_loop
    data = fetcher.fetch(index)  # type: ignore[possibly-undefined]
  File "/w/runs/bad_1/work/bad.py", line 10, in __getitem__
    raise KeyError(f"label for sample {i} missing in labels.json")
KeyError: 'label for sample 57 missing in labels.json'

"""


def test_a_dataloader_workers_exception_is_quoted_and_located_not_its_rewrapping() -> None:
    traceback = last_traceback(WORKER_ERROR)
    assert final_exception(traceback) == "KeyError: 'label for sample 57 missing in labels.json'"
    got = d(logs={"stderr.log": WORKER_ERROR})
    assert got.category == "unknown" and "label for sample 57" in got.evidence
    assert got.fix.startswith("raised at bad.py line 10, in __getitem__; read traceback.txt")
    # no frame of the user's: nothing is claimed about where
    only_library = WORKER_ERROR.replace(
        "/w/runs/bad_1/work/bad.py", "/venv/lib/python3.11/site-packages/x.py"
    )
    assert d(logs={"stderr.log": only_library}).fix.startswith("read traceback.txt")


INCOMPLETE = (
    "clusterrun: /r/runs/m_20260101-000000-3/command.sh is missing and its sweep m-sweep_20260101-000000 "
    "keeps no copy of it (member-files.json): the run directory is incomplete; submit the run again "
    "('clusterrun reproduce m_20260101-000000-3')\n"
    "bash: /r/runs/m_20260101-000000-3/command.sh: No such file or directory\n"
)


def test_a_member_without_its_command_sh_is_an_incomplete_run_not_a_missing_command() -> None:
    """Bash's 'No such file or directory' after the wrapper's own line is its consequence: the fix is to
    submit the run again, not to install command.sh on the nodes."""
    got = d("failed", 127, logs={"stderr.log": INCOMPLETE}, run_id="m_20260101-000000-3")
    assert got.category == "incomplete_run", got
    assert "its sweep m-sweep_20260101-000000 lost its member files" in got.fix
    assert "'clusterrun reproduce m_20260101-000000-3'" in got.fix and "module load" not in got.fix


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("CondaError: Run 'conda init' before 'conda activate'", 1),
        ("CommandNotFoundError: Your shell has not been properly configured to use 'conda activate'.", 1),
        ("sbatch.sh: line 12: conda: command not found", 127),
    ],
)
def test_conda_activate_in_a_jobs_shell_gets_the_setup_that_works(line: str, code: int) -> None:
    """`setup: [conda activate myenv]` fails in a job: its shell is not interactive and never ran what
    `conda init` wrote into ~/.bashrc. The fix sources conda's shell functions first (or loads conda)."""
    got = d("failed", code, logs={"stderr.log": line + "\n"})
    assert got.category == "command_not_found" and got.details["command"] == "conda"
    assert """'source "$(conda info --base)/etc/profile.d/conda.sh"', 'conda activate ENV'""" in got.fix
    assert ("module load anaconda" in got.fix) == line.endswith("command not found")


def test_module_not_found_says_to_load_environment_modules_not_to_install_a_module() -> None:
    """A user trial: `module: command not found` (the smoke test, on a machine without modules) got
    "install 'module' on the nodes ..., e.g. setup=['module load module']"."""
    got = d("failed", 127, logs={"stderr.log": "scripts/train.sh: line 14: module: command not found\n"})
    assert got.category == "command_not_found" and "module load module" not in got.fix
    assert "source /etc/profile.d/modules.sh" in got.fix and "--skip-smoke" in got.fix
