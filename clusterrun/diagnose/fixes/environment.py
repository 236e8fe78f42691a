"""Fixes for what the job's environment lacks: a Python module or shared library, a command on PATH, a
file the run reads, room on disk, a GPU, shared memory and open files for a DataLoader's workers."""

from __future__ import annotations

import os
import re
from pathlib import Path

from clusterrun.diagnose.evidence import halved, param_for
from clusterrun.diagnose.model import Context, Fix, Found
from clusterrun.inputs.datafp import suggest_key
from clusterrun.records.registry import git_root

#: import name -> pip package, where they differ
PIP_NAMES = {
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "git": "GitPython",
}
#: runs start in their own working directory, which holds tracked files only: a venv of the checkout is
#: reached through $CLUSTERRUN_REPO_ROOT (the checkout the run was submitted from) or an absolute path
_ACTIVATE = """setup=['source "$CLUSTERRUN_REPO_ROOT/.venv/bin/activate"']"""


def missing_module(ctx: Context, found: Found) -> Fix:
    setup = f"{_ACTIVATE} (or 'module load ...')"
    groups = found.groups()
    lib = groups.get("lib") or groups.get("lib2")
    if lib:
        hint = "cuda" if "cud" in lib or "nccl" in lib else lib.split(".so")[0].removeprefix("lib")
        fix = (
            f"the shared library {lib} is not found on the node: add a setup line, "
            f"e.g. setup=['module load {hint}']"
        )
        return Fix(fix, details={"library": lib})
    module = groups.get("module") or ""
    top = module.split(".")[0]
    package = PIP_NAMES.get(top, top)
    untracked = _module_in_checkout_only(ctx, module, groups.get("name") or "", groups.get("where") or "")
    if untracked:
        fix = (
            f"{untracked} is in your checkout but not in the run's copy of the code, which holds what git "
            f"tracks (the file is ignored, or was never added): commit it (`git add -f {untracked}`), or "
            "make it in the job, with a setup line that builds it in the working directory "
            "(setup=['python setup.py build_ext --inplace'] for a compiled extension)"
        )
        return Fix(fix, details={"module": module, "package": package, "untracked": untracked})
    if groups.get("name"):
        fix = (
            f"'{groups['name']}' is not in the installed {package} (version mismatch): `pip install -U "
            f"{package}` (or pin the version the code needs) in the job's environment, or {setup}"
        )
    elif top:
        fix = f"`pip install {package}` in the job's environment, or activate the one that has it: {setup}"
    else:
        fix = f"install the missing package in the job's environment, or {setup}"
    return Fix(fix, details={"module": module, "package": package})


#: a file a traceback's frame names
_FRAME_FILE = re.compile(r'File "(?P<file>/[^"]+)"')


def _run_workdir(path: str) -> str:
    """The working directory of a run (or of its smoke test) that `path` is in: a directory named work
    beside a command.sh; '' when there is none (nothing left of it, or not a run's)."""
    parts = os.path.realpath(path).split("/")  # (a module imported through the run's .imports/ links)
    for end in range(len(parts) - 1, 0, -1):
        if parts[end] == "work":
            work = "/".join(parts[: end + 1])
            if os.path.isfile(os.path.join(os.path.dirname(work), "command.sh")) and os.path.isdir(work):
                return work
    return ""


def _module_in_checkout_only(ctx: Context, module: str, name: str, where: str) -> str:
    """The checkout's file (relative path) of the module an import missed, when the run's copy of the code
    lacks it and the checkout has it: a file git does not track (a module generated or an extension built
    in place, then ignored) that the editable install or PYTHONPATH found in the checkout, but the run
    imports from its copy. '' otherwise, or when the copy cannot be told (no traceback frame in it)."""
    if not ctx.repo_root:
        return ""
    files = [where] if where else [m["file"] for m in _FRAME_FILE.finditer(ctx.traceback[1])]
    work = next((w for w in map(_run_workdir, files) if w), "")
    if not work:
        return ""
    where = os.path.realpath(where) if where else ""
    if where.startswith(work + "/") and name:  # `from pkg import name`: pkg's copy is known
        bases = [os.path.relpath(os.path.dirname(where), work)]
        parts = [name]
    else:
        bases = [".", "src", "lib"]
        parts = [p for p in module.split(".") if p] + ([name] if name else [])
    for base in bases:
        rel = os.path.normpath(os.path.join(base, *parts))
        for candidate in _module_files(ctx.repo_root, rel):
            if not os.path.lexists(os.path.join(work, candidate)):
                return candidate
    return ""


def _module_files(root: str, rel: str) -> list[str]:
    """The files (relative to `root`) that would be module `rel` (a/b/c): a/b/c.py, the package a/b/c, a
    compiled a/b/c.*.so; those that exist."""
    folder, stem = os.path.split(rel)
    found = [r for r in (f"{rel}.py", rel) if os.path.exists(os.path.join(root, r))]
    try:
        names = os.listdir(os.path.join(root, folder))
    except OSError:
        return found
    found += sorted(
        os.path.join(folder, n) for n in names if n.startswith(stem + ".") and n.endswith((".so", ".pyd"))
    )
    return found


def incomplete_run(ctx: Context, found: Found) -> Fix:
    """The run's command.sh is nowhere: a sweep's member whose sweep lost its member files (a registry
    copied or cleaned in part). Nothing in the config is wrong; the run is submitted again."""
    groups = found.groups()
    again = f"'clusterrun reproduce {ctx.run_id}'" if ctx.run_id else "'clusterrun reproduce RUN_ID'"
    fix = (
        f"the run directory is incomplete: {groups.get('where') or 'its sweep'} lost its member files "
        f"(member-files.json, member-files.txt), which hold its command.sh until its job starts; submit it "
        f"again with {again}, and copy or back up a registry whole"
    )
    return Fix(fix, details={"path": groups.get("path") or ""})


#: how a job's shell gets `conda activate`: conda's shell functions, which only an interactive shell
#: set up by `conda init` has
_CONDA = (
    """setup=['source "$(conda info --base)/etc/profile.d/conda.sh"', 'conda activate ENV'] (a job's """
    "shell is not interactive: it has not run what `conda init` put in ~/.bashrc), or the environment's "
    "Python by its path in the command (/path/to/envs/ENV/bin/python train.py)"
)


def command_not_found(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    if groups.get("conda"):
        return Fix(f"'conda activate' needs conda's shell functions: {_CONDA}", details={"command": "conda"})
    cmd = next((value for name, value in groups.items() if name != "conda" and value), "")
    if cmd in ("module", "ml"):
        return Fix(
            f"'{cmd}' is a shell function of Environment Modules or Lmod, which this shell has not loaded "
            "(a non-interactive shell, or a machine without modules: the smoke test runs on yours): load "
            "it first, setup=['source /etc/profile.d/modules.sh', 'module load ...'] (Lmod: "
            "/usr/share/lmod/lmod/init/bash), or on a machine without modules submit with --skip-smoke",
            details={"command": cmd},
        )
    if cmd == "conda":
        return Fix(
            "conda is not on the node's PATH: load it first (setup=['module load anaconda'], by your "
            f"cluster's name for it), then {_CONDA}",
            details={"command": cmd},
        )
    if "/" in cmd and not cmd.startswith(("/", "$", "~")):
        fix = (
            f"'{cmd}' is a path relative to your checkout, but runs start in their own working directory, "
            "which holds tracked files only: point at the checkout's copy, e.g. "
            + (
                f"""setup=['source "$CLUSTERRUN_REPO_ROOT/{cmd}"']"""
                if cmd.endswith("activate")
                else f"""setup=['source "$CLUSTERRUN_REPO_ROOT/{cmd.split("/bin/")[0]}/bin/activate"'] """
                f"and the command '{cmd.split('/')[-1]} ...'"
                if "/bin/" in cmd
                else f"commit it (git add {cmd}) so that the snapshot holds it, or use an absolute path"
            )
        )
    elif cmd.split("/")[-1].startswith(("python", "pip", "conda", "torchrun", "accelerate")):
        fix = f"'{cmd}' is not on the node's PATH: {_ACTIVATE} (or 'module load python')"
    elif cmd:
        fix = (
            f"install '{cmd}' on the nodes or put it on PATH with a setup line, "
            f"e.g. setup=['module load {cmd}']"
        )
    else:
        fix = (
            "the command's executable is not on the node's PATH: add a setup line (setup=['module load ...'])"
        )
    return Fix(fix, details={"command": cmd})


def missing_file(ctx: Context, found: Found) -> Fix:
    line = found.hit.line if found.hit is not None else ""
    groups = found.groups()
    path = next((groups.get(g) for g in ("path", "script", "arg", "found", "bare") if groups.get(g)), "")
    if not path:
        path_match = re.search(r"'([^']+)'", line)
        path = path_match.group(1) if path_match else ""
    name = path.rstrip("/").split("/")[-1] if path else ""
    param = next((k for k, v in ctx.params.items() if isinstance(v, str) and v and v == path), "")
    param = param or next(
        (k for k, v in ctx.params.items() if isinstance(v, str) and name and v.endswith(name)), ""
    )
    absolute_hint = (
        f"params.{param}=/absolute/path/to/{name or 'file'}"
        if param
        else f"a param: +params.data=/absolute/path/to/{name or 'file'} used as {{data}} in the command"
    )
    if not path:
        return Fix(f"a file the job reads does not exist; pass its absolute path via {absolute_hint}")
    copied = _in_run_copy(ctx, path)
    if copied:  # an absolute path into the run's own copy of the code: the code's own file
        return _not_in_copy(ctx, path, copied)
    untracked = _in_checkout_only(ctx, path)
    if untracked:
        key = suggest_key(untracked)
        config_line = f"data: {{{key}: {untracked}}}"
        shown = f"{untracked}/" if os.path.isdir(os.path.join(ctx.repo_root, untracked)) else untracked
        fix = (
            f"{shown} exists in your checkout but is not tracked by git, so it is not in the run's "
            f"snapshot: name it under data: with +data.{key}={untracked} on the command line (before any "
            f"--), or `{config_line}` in the config (`{key}: {untracked}` under its data:); named under "
            "data:, it is fingerprinted and linked into the run's working directory. Or commit it"
        )
        details = {"path": path, "relative": True, "untracked": True, "config_line": config_line}
        return Fix(fix, details=details)
    if not path.startswith("/"):
        fix = (
            f"'{path}' is relative: relative paths resolve against the snapshot of the repository (committed "
            f"files only), so untracked data must be given as an absolute path: {absolute_hint}"
        )
    elif "/.snapshots/" in path:
        fix = f"'{path}' is not in the snapshot (tracked files only): commit it, or {absolute_hint}"
    else:
        fix = (
            f"'{path}' does not exist on the node: check it is on a shared filesystem and spelled "
            f"right; {absolute_hint}"
        )
    return Fix(fix, details={"path": path, "relative": not path.startswith("/")})


def _in_run_copy(ctx: Context, path: str) -> str:
    """The path relative to the repository's top when `path` is a file of the run's own copy of the code
    (`.../<run id>/work/REL`, or a smoke test's `.../<run id>/smoke/work/REL`); '' otherwise."""
    if not ctx.run_id or not os.path.isabs(path):
        return ""
    match = re.search(rf"/{re.escape(ctx.run_id)}/(?:smoke(?:-\d+)?/)?work/(.+)$", path)
    return os.path.normpath(match.group(1)) if match else ""


def _not_in_copy(ctx: Context, path: str, rel: str) -> Fix:
    """A file of the code that the run's copy lacks: untracked in the checkout, or not there at all (a
    command run from another folder than the one it was written for)."""
    top = git_root(Path(ctx.repo_root)) if ctx.repo_root else None
    details = {"path": path, "relative": False, "in_copy": rel}
    if top is not None and os.path.lexists(top / rel):
        details["untracked"] = True
        return Fix(
            f"{rel} exists in your checkout but is not tracked by git, so the run's copy of the code (the "
            f"commit's files) lacks it: `git add {rel}` and commit, then submit again",
            details=details,
        )
    return Fix(
        f"{rel} is not in the run's copy of the code (the files of its commit, under the folder the "
        "command runs in, the config's cwd): check the command names it relative to that folder (a "
        "project in a subfolder of the repository: cwd: that/folder)",
        details=details,
    )


def _in_checkout_only(ctx: Context, path: str) -> str:
    """The normalised relative `path` when it exists in the run's checkout (so the run missed it because
    it is not in the snapshot); '' otherwise."""
    if not ctx.repo_root or os.path.isabs(path):
        return ""
    rel = os.path.normpath(path)
    if rel in (".", "..") or rel.startswith("../"):
        return ""
    if not os.path.lexists(os.path.join(ctx.repo_root, rel)):
        return ""
    if ctx.copy_root and os.path.isdir(ctx.copy_root):  # the folder the copy lacks as a whole (data/)
        parts = rel.split(os.sep)
        for end in range(1, len(parts)):
            folder = os.path.join(*parts[:end])
            if not os.path.lexists(os.path.join(ctx.copy_root, folder)):
                # holding more than the one file: the script reads the others too (x.npy, then y.npy)
                return folder if _holds_more(os.path.join(ctx.repo_root, folder), parts[end:]) else rel
    return rel


def _holds_more(folder: str, below: list[str]) -> bool:
    """Whether `folder` holds anything but the one path `below` (its parts) leads to."""
    for part in below:
        try:
            names = os.listdir(folder)
        except OSError:
            return False
        if names != [part]:
            return True
        folder = os.path.join(folder, part)
    return False


def disk_quota(ctx: Context, found: Found) -> Fix:
    out = param_for(
        ctx.params, "out", "output", "output_dir", "out_dir", "save_dir", "checkpoint_dir", "ckpt_dir"
    )
    where = (
        f"params.{out}=/scratch/$USER/..." if out else "a param such as +params.out_dir=/scratch/$USER/..."
    )
    return Fix(f"free space (check `df -h` and `quota`) or write outputs to a filesystem with room: {where}")


def no_gpu(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    if groups.get("cpu_build"):
        return Fix(
            "the job's torch is a CPU-only build: install a CUDA build in the environment the job runs in "
            "(its venv, or setup: lines; e.g. pip install torch --index-url "
            "https://download.pytorch.org/whl/cu121), or run on the CPU"
        )
    fallback = (
        "choose the device by what is there (device = 'cuda' if torch.cuda.is_available() else 'cpu'; "
        "map_location='cpu' to load a GPU checkpoint)"
    )
    if ctx.smoke:
        return Fix(
            f"the smoke test runs on this machine, which has no GPU: {fallback} so the smoke test runs on "
            "the CPU, run the submit on a GPU node, or skip it with --skip-smoke 'REASON'"
        )
    asked = int(ctx.resources.get("gpus") or 0) + int(ctx.resources.get("gpus_per_task") or 0)
    if not asked:
        return Fix(
            "the job has no GPU (resources.gpus=0): request one with resources.gpus=1 (on a partition "
            f"with GPUs: resources.partition=...), or {fallback}"
        )
    return Fix(
        f"the job asked for GPUs (resources.gpus={ctx.resources.get('gpus') or 0}, gpus_per_task="
        f"{ctx.resources.get('gpus_per_task') or 0}) but the program saw none: check that setup: does not "
        "change CUDA_VISIBLE_DEVICES, that the partition's nodes have GPUs (clusterrun doctor), and the "
        "node's driver (nvidia-smi in setup:)"
    )


WORKER_PARAMS = ("num_workers", "workers", "n_workers", "dataloader_workers", "loader_workers", "num_proc")


def _fewer_workers(ctx: Context) -> str:
    return halved(ctx.params, WORKER_PARAMS, least=0) or (
        "fewer DataLoader workers (num_workers=...; 0 loads in the main process)"
    )


def shared_memory(ctx: Context, found: Found) -> Fix:
    return Fix(
        "the DataLoader's workers ran out of shared memory (/dev/shm), through which they hand over "
        f"batches: {_fewer_workers(ctx)}; or more room there: on SLURM /dev/shm counts against the job's "
        "memory (resources.mem=...), in a container it is --shm-size"
    )


def open_files(ctx: Context, found: Found) -> Fix:
    return Fix(
        "the program ran out of open files (a DataLoader's workers hand each batch over as an open file "
        "descriptor): torch.multiprocessing.set_sharing_strategy('file_system') at the top of the script, "
        "or a higher limit with a setup line (setup=['ulimit -n 65536'], up to `ulimit -Hn` on the node), "
        f"or {_fewer_workers(ctx)}"
    )
