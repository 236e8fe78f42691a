"""Evidence from the program's side: its final exception, its log lines, its exit code and the signal
that killed it, with the patterns they are matched against (the scheduler's side is in
scheduler_evidence.py), and the helpers that read the run's params and progress."""

from __future__ import annotations

import re
import signal as signals
from collections.abc import Mapping
from typing import Any

from clusterrun.diagnose.model import Context, Found, Hit, Matcher, Strength
from clusterrun.records.logtext import SPAWN_AT_IMPORT_WORDS

KILLED = re.compile(r"(?:^|\s)Killed(?:\s|$)")
CUDA_OOM = re.compile(
    r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|OutOfMemoryError: CUDA|CUBLAS_STATUS_ALLOC_FAILED"
    r"|CUDA error: out of memory|RESOURCE_EXHAUSTED: Out of memory while trying to allocate"
)
NCCL = re.compile(
    r"NCCL error|ncclInternalError|ncclSystemError|ncclUnhandledCudaError|ncclInvalidUsage|ncclRemoteError"
    r"|NCCL WARN|DistBackendError: NCCL|ProcessGroupNCCL.*(?:[Tt]imeout|[Ww]atchdog)"
)
# the program wants a GPU and sees none (the job has none, or a smoke test runs on a machine without
# one), or its torch is a build that cannot use one
NO_GPU = re.compile(
    r"(?P<none>No CUDA GPUs are available|no CUDA-capable device is detected"
    r"|Found no NVIDIA driver on your system|CUDA driver initialization failed"
    r"|on a CUDA device but torch\.cuda\.is_available\(\) is False)"
    r"|(?P<cpu_build>Torch not compiled with CUDA enabled)"
)
# a CUDA kernel failed; CUDA reports it at a later call than the one at fault
CUDA_ERROR = re.compile(
    r"(?P<assert>device-side assert(?:ion)? triggered)"
    r"|(?P<arch>no kernel image is available for execution on the device)"
    r"|(?P<access>an illegal memory access was encountered|CUDA error: misaligned address)"
    r"|(?P<library>CUBLAS_STATUS_EXECUTION_FAILED|CUBLAS_STATUS_INTERNAL_ERROR|CUDNN_STATUS_EXECUTION_FAILED"
    r"|CUDNN_STATUS_INTERNAL_ERROR|CUDNN_STATUS_MAPPING_ERROR)"
)
# a DataLoader's workers pass batches through shared memory (/dev/shm), small in containers and counted
# against a SLURM job's memory; a worker that finds none dies of SIGBUS
SHARED_MEMORY = re.compile(
    r"insufficient shared memory \(shm\)"
    r"|DataLoader worker \(pid(?:\(s\))? [\d, ]+\) is killed by signal: Bus error"
    r"|No space left on device: '/dev/shm|unable to (?:open|write to|mmap) shared memory"
)
# out of file descriptors: a DataLoader's workers hand each batch over as an open descriptor by default
OPEN_FILES = re.compile(r"Too many open files|\[Errno 24\]|received 0 items of ancdata")
DISK = re.compile(r"Disk quota exceeded|No space left on device|\[Errno (?:28|122)\]|\bENOSPC\b|\bEDQUOT\b")
NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<module>[\w.]+)'?")
CANNOT_IMPORT = re.compile(
    r"ImportError: cannot import name '?(?P<name>[\w.]+)'? from '?(?P<module>[\w.]+)'?"
    r"(?: \((?P<where>/[^)]+)\))?"
)
NO_SHARED_LIB = re.compile(
    r"ImportError: (?P<lib>[\w.+-]+\.so[\w.]*): cannot open shared object file|"
    r"error while loading shared libraries: (?P<lib2>[\w.+-]+\.so[\w.]*)"
)
# the job's wrapper found neither the run's command.sh nor its sweep's copy (records/memberfiles.py): the
# line it writes into stderr.log before bash's own 'No such file or directory'
INCOMPLETE_RUN = re.compile(
    r"^clusterrun: (?P<path>\S+/command\.sh) is missing and (?P<where>.+?) keeps no copy"
)
NOT_FOUND = re.compile(
    r"(?:^|: )(?P<cmd>[^\s:]+): command not found"
    r"|^(?:\S*/)?(?:ba|da)?sh: (?:line )?\d+: (?:exec: )?(?P<cmd2>[^\s:]+): not found"
    r"|^\S*(?:bash|sh|command\.sh)(?:: line \d+)?: (?:exec: )?(?P<cmd3>[^\s:]+): No such file or directory"
    # `conda activate` in a job's shell, which has not loaded conda's shell functions (conda 4.4+)
    r"|(?P<conda>CondaError: Run 'conda init' before 'conda activate'"
    r"|CommandNotFoundError: Your shell has not been properly configured to use 'conda activate')"
)
MISSING_FILE = re.compile(
    r"No such file or directory: '(?P<path>[^']+)'"
    r"|can't open file '(?P<script>[^']+)': \[Errno 2\]"
    r"|^(?P<tool>[\w.-]+): (?:cannot (?:open|access|stat) )?['‘]?(?P<arg>[^'’:]+)['’]?: "
    r"No such file or directory"
    # numpy's loadtxt/genfromtxt ('data/x.csv not found.'), a bare `raise FileNotFoundError(path)`
    r"|FileNotFoundError: (?P<found>[^\s']+?) not found\.?\s*$"
    r"|FileNotFoundError: (?P<bare>[\w./~-]*[/.][\w./~-]*)\s*$"
    r"|FileNotFoundError"
)
ARGPARSE = re.compile(
    r"error: unrecognized arguments: (?P<args>.+)"
    r"|error: argument (?P<arg>[^\s:]+)(?: ?/ ?\S+)?: (?P<msg>.+)"
    r"|error: the following arguments are required: (?P<required>.+)"
)
HYDRA = re.compile(
    r"Could not override '(?P<key>[^']+)'|Key '(?P<key2>[^']+)' is not in struct"
    r"|ConfigAttributeError|ConfigKeyError|omegaconf\.errors\.\w+"
)
USAGE = re.compile(r"^usage: ")
# a program that waits for a person: pdb (breakpoint(), pdb.set_trace(), ipdb) or input() reading a stdin
# that has nothing, or a library that asks for a login on a terminal the job does not have
INTERACTIVE = re.compile(
    r"(?P<debugger>\bbdb\.BdbQuit\b|^BdbQuit\b)"
    r"|(?P<input>EOFError: EOF when reading a line)"
    r"|(?P<wandb>wandb: ERROR api_key not configured|wandb\.errors\.\w*: api_key not configured)"
)

# worker processes started at import (multiprocessing's spawn start method, a DataLoader's workers under
# spawn): each worker imports the script again, tries to start its own, and dies as it starts; a pool
# starts new ones forever, so the job hangs until its time limit
SPAWN_AT_IMPORT = re.compile(re.escape(SPAWN_AT_IMPORT_WORDS))


def spawn_loop() -> Matcher:
    """Python's own words for a worker started at import: they explain a hang that ended at a time limit,
    so they outrank the time limit's verdict (rules.py)."""

    def find(ctx: Context) -> Found | None:
        hit = ctx.find(SPAWN_AT_IMPORT)
        return Found(hit) if hit is not None else None

    return Matcher(Strength.VERDICT, find)


# training that diverged: a loss (or the inputs) became NaN or infinite, and the program stopped on it:
# its own check (an assert or exception naming nan, inf or divergence), numpy's errstate (FloatingPointError),
# torch's anomaly detection, Lightning's and transformers' NaN checks, scikit-learn's input check
DIVERGED = re.compile(
    r"(?P<fpe>\bFloatingPointError\b)"
    r"|(?P<anomaly>returned nan values in its \d+(?:st|nd|rd|th) output)"
    r"|(?P<named>\b(?:loss|gradients?|grad[_ ]norm|weights?|logits|outputs?)\b[^\n]{0,40}?"
    r"\b(?:is|are|was|were|became|becomes|went|turned|got|contains?|has|have)\s+(?:a\s+)?"
    r"(?:nan|inf|infinite|non-finite|not finite)\b)"
    r"|(?P<diverged>\b(?:loss|training|model|optimi[sz]ation)\b[^\n]{0,40}?\bdiverg(?:ed|es|ing|ence)\b)"
    r"|(?P<found>\b(?:nan|inf|NaN|Inf)(?:/| or )(?:inf|nan|Inf|NaN) (?:found|detected|encountered)\b)"
    r"|(?P<input>Input (?:X )?contains (?:NaN|infinity))",
    re.IGNORECASE,
)

#: metric name -> param names that give its total
PROGRESS_PARAMS = {
    "step": ("steps", "max_steps", "total_steps", "num_steps", "n_steps", "iterations", "max_iters"),
    "epoch": ("epochs", "max_epochs", "num_epochs", "n_epochs"),
}

# ------------------------------------------------------------------------------------------ matchers


def program_error(*patterns: re.Pattern[str]) -> tuple[Matcher, Matcher]:
    """The final exception matches one of `patterns`; failing that (weaker), a log line does: a line of
    the user's last traceback (its frames and the exceptions chained to it) when there is one, else any
    line. A program that died of a traceback died of what it says; an earlier line (a warning that
    mentions 'No such file or directory', say) is not borrowed to explain it."""

    def in_final_exception(ctx: Context) -> Found | None:
        final = ctx.final_exception
        for pattern in patterns if final else ():
            match = pattern.search(final)
            if match:
                return Found(Hit(ctx.traceback[0], final, match))
        return None

    def in_a_line(ctx: Context) -> Found | None:
        hit = next((h for p in patterns if (h := ctx.find_related(p)) is not None), None)
        return Found(hit) if hit is not None else None

    return Matcher(Strength.EXCEPTION, in_final_exception), Matcher(Strength.LOG_LINE, in_a_line)


def killed_line() -> Matcher:
    """SIGKILL (exit 137, -9 or sacct's ':9') and a 'Killed' line: the kernel's OOM killer, most likely."""

    def find(ctx: Context) -> Found | None:
        hit = ctx.find(KILLED) if ctx.killed_by(signals.SIGKILL) else None
        return Found(hit) if hit is not None else None

    return Matcher(Strength.KILLED, find)


def exit_code(code: int, line: re.Pattern[str] | None = None) -> Matcher:
    """The command exited with `code` (and printed a matching `line`, when one is asked for)."""

    def find(ctx: Context) -> Found | None:
        if ctx.exit_code != code:
            return None
        hit = ctx.find(line) if line is not None else None
        return None if line is not None and hit is None else Found(hit)

    return Matcher(Strength.EXIT_CODE, find)


def last_words() -> Matcher:
    """Always found: the last exception, or else the last line of the first user log with text."""

    def find(ctx: Context) -> Found:
        log, line = ctx.traceback[0], ctx.final_exception
        if not line:
            user_logs = [n for n in ctx.logs if not n.startswith("scheduler")] or list(ctx.logs)
            log = next((n for n in user_logs if ctx.logs[n].strip()), "")
            line = ctx.logs[log].strip().splitlines()[-1].strip() if log else ""
        return Found(Hit(log, line) if line else None)

    return Matcher(Strength.FALLBACK, find)


# ------------------------------------------------------------------------------------------- helpers


def progress_from(metrics: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any] | None:
    """{'metric': 'step', 'value': 120, 'param': 'steps', 'total': 500} when both sides are known."""
    for metric, names in PROGRESS_PARAMS.items():
        value = metrics.get(metric)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        for name in names:
            total = params.get(name)
            if isinstance(total, int | float) and not isinstance(total, bool) and total > 0:
                return {"metric": metric, "value": value, "param": name, "total": total}
    return None


def param_for(params: Mapping[str, Any], *names: str) -> str:
    """The first of `names` that the run's params have (case-insensitively), spelt as in the params."""
    lowered = {k.lower(): k for k in params}
    for name in names:
        if name in lowered:
            return lowered[name]
    return ""


def halved(params: Mapping[str, Any], names: tuple[str, ...], least: int) -> str:
    """`params.NAME=HALF (half of VALUE)` for the first of `names` the run's params have, when its value
    is an integer above `least` (the half is never below it); "" otherwise."""
    name = param_for(params, *names)
    value = params.get(name) if name else None
    if isinstance(value, int) and not isinstance(value, bool) and value > least:
        return f"params.{name}={max(least, value // 2)} (half of {value})"
    return ""
