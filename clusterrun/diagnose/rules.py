"""Why a run did not succeed: a category, the evidence, and the clusterrun override that fixes it.

Pure: everything comes in as arguments (the scheduler's last word, log tails as strings, the run's
resolved resources), so every rule is unit-tested with plain text. The rules are tried in a fixed
order, most decisive first:

1. the scheduler's own verdict (OUT_OF_MEMORY, TIMEOUT/DEADLINE, NODE_FAIL/BOOT_FAIL, PREEMPTED);
2. slurmstepd's lines in the logs ('exceeded memory limit', oom-kill, '... DUE TO TIME LIMIT', node
   failure, preemption): an OOM kill on a cluster without cgroups is FAILED 0:9 with a CANCELLED step,
   and a time limit also prints 'CANCELLED AT', so these come before cancellation;
3. a cancellation (CANCELLED, by whom);
4. a kill by signal 9 / exit 137 with a 'Killed' line (the kernel's OOM killer);
5. application errors: the final exception of the last traceback decides when it matches a category,
   otherwise the first category (in the order of APP_RULES) with a matching line;
6. exit code 127 (command not found), then `unknown` with the last exception or stderr line.
"""

from __future__ import annotations

import math
import os
import pwd
import re
import signal as signals
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterrun.config.resources import (
    format_mem_mb,
    format_seconds,
    parse_mem_mb,
    parse_time_seconds,
    round_mem_mb,
    round_seconds,
)
from clusterrun.diagnose.tracebacks import final_exception, find_traceback
from clusterrun.inputs.datafp import suggest_key
from clusterrun.scheduler.base import TERMINAL
from clusterrun.scheduler.sacct import normalise_state

CATEGORIES = (
    "host_oom",
    "cuda_oom",
    "time_limit",
    "node_failure",
    "preempted",
    "cancelled",
    "missing_module",
    "command_not_found",
    "missing_file",
    "disk_quota",
    "nccl",
    "config_error",
    "unknown",
)
MEM_HEADROOM = 1.3
TIME_HEADROOM = 1.2
MAX_LINE = 300  # characters of a log line quoted as evidence

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
#: metric name -> param names that give its total
PROGRESS_PARAMS = {
    "step": ("steps", "max_steps", "total_steps", "num_steps", "n_steps", "iterations", "max_iters"),
    "epoch": ("epochs", "max_epochs", "num_epochs", "n_epochs"),
}
#: runs start in their own working directory, which holds tracked files only: a venv of the checkout is
#: reached through $CLUSTERRUN_REPO_ROOT (the checkout the run was submitted from) or an absolute path
_ACTIVATE = """setup=['source "$CLUSTERRUN_REPO_ROOT/.venv/bin/activate"']"""


@dataclass(frozen=True)
class Diagnosis:
    category: str
    evidence: str
    fix: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.category}: {self.evidence} -> {self.fix}"


@dataclass(frozen=True)
class _Hit:
    log: str
    line: str
    match: re.Match[str] | None = None

    def groups(self) -> dict[str, str]:
        """The named groups that matched."""
        return {k: v for k, v in (self.match.groupdict() if self.match else {}).items() if v}


@dataclass
class _Context:
    state: str
    exit_code: int | None
    signal: int | None
    logs: Mapping[str, str]
    resources: Mapping[str, Any]
    elapsed_seconds: float | None
    max_rss_mb: float | None
    cancelled_by: str
    progress: Mapping[str, Any] | None
    params: Mapping[str, Any]
    node: str
    smoke: Mapping[str, Any] | None
    run_id: str
    repo_root: str = ""  # the checkout the run was submitted from, when known
    smoke_peak_mb: float | None = None  # the run's own smoke test's peak (summed RSS of its process tree)
    lines: list[tuple[str, str]] = field(default_factory=list)

    def find(self, pattern: re.Pattern[str]) -> _Hit | None:
        """The last matching line of the first log (in the given order) that has one."""
        best: _Hit | None = None
        current = ""
        for name, line in self.lines:
            if best is not None and name != current:
                return best
            match = pattern.search(line)
            if match:
                best, current = _Hit(name, line, match), name
        return best

    def head(self) -> str:
        """'state FAILED, exit code 0:9' (or 'smoke test exited with code 1')."""
        if self.smoke is not None:
            if self.state == "timeout":
                return f"smoke test timed out after {self.smoke.get('timeout')} s"
            return f"smoke test exited with code {self.exit_code}"
        text = f"state {self.state.upper()}"
        if self.exit_code is not None:
            text += f", exit code {self.exit_code}" + (f":{self.signal}" if self.signal else "")
            if self.exit_code < 0:
                text += f" (killed by {signal_name(-self.exit_code)})"
        elif self.signal:
            text += f", signal {self.signal}"
        return text

    def evidence(self, hit: _Hit | None, extra: str = "") -> str:
        text = self.head() + (f" {extra}" if extra else "")
        if hit is not None:
            line = hit.line.strip()
            line = line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
            text += f"; {hit.log}: {line}"
        return text

    def diagnosis(
        self, category: str, hit: _Hit | None, fix: str, extra: str = "", **details: Any
    ) -> Diagnosis:
        if hit is not None:
            details = {"log": hit.log, "line": hit.line.strip()[:1000], **details}
        return Diagnosis(category, self.evidence(hit, extra), fix, details)


# ------------------------------------------------------------------------------------------- patterns


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


MEM_LIMIT_AT = _re(r"exceeded memory limit \((?P<used>\d+) > (?P<limit>\d+)\)")
MEM_LIMIT = _re(r"exceeded (?:job |step )?memory limit")
OOM_KILL = _re(r"oom[-_ ]kill|out of memory: kill(?:ed)? process|Memory cgroup out of memory")
TIME_LIMIT = _re(r"DUE TO TIME LIMIT|smoke test killed after the .* timeout|DUE TO JOB DEADLINE")
NODE_FAIL = _re(r"DUE TO NODE FAILURE|NODE_FAIL|boot_fail")
PREEMPT = _re(r"DUE TO PREEMPTION")
CANCELLED_AT = re.compile(r"CANCELLED AT \S+")
KILLED = re.compile(r"(?:^|\s)Killed(?:\s|$)")

CUDA_OOM = re.compile(
    r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|OutOfMemoryError: CUDA|CUBLAS_STATUS_ALLOC_FAILED"
    r"|CUDA error: out of memory|RESOURCE_EXHAUSTED: Out of memory while trying to allocate"
)
NCCL = re.compile(
    r"NCCL error|ncclInternalError|ncclSystemError|ncclUnhandledCudaError|ncclInvalidUsage|ncclRemoteError"
    r"|NCCL WARN|DistBackendError: NCCL|ProcessGroupNCCL.*(?:[Tt]imeout|[Ww]atchdog)"
)
DISK = re.compile(r"Disk quota exceeded|No space left on device|\[Errno (?:28|122)\]|\bENOSPC\b|\bEDQUOT\b")
NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<module>[\w.]+)'?")
CANNOT_IMPORT = re.compile(
    r"ImportError: cannot import name '?(?P<name>[\w.]+)'? from '?(?P<module>[\w.]+)'?"
)
NO_SHARED_LIB = re.compile(
    r"ImportError: (?P<lib>[\w.+-]+\.so[\w.]*): cannot open shared object file|"
    r"error while loading shared libraries: (?P<lib2>[\w.+-]+\.so[\w.]*)"
)
NOT_FOUND = re.compile(
    r"(?:^|: )(?P<cmd>[^\s:]+): command not found"
    r"|^(?:\S*/)?(?:ba|da)?sh: (?:line )?\d+: (?:exec: )?(?P<cmd2>[^\s:]+): not found"
    r"|^\S*(?:bash|sh|command\.sh)(?:: line \d+)?: (?:exec: )?(?P<cmd3>[^\s:]+): No such file or directory"
)
MISSING_FILE = re.compile(
    r"No such file or directory: '(?P<path>[^']+)'"
    r"|can't open file '(?P<script>[^']+)': \[Errno 2\]"
    r"|^(?P<tool>[\w.-]+): (?:cannot (?:open|access|stat) )?['‘]?(?P<arg>[^'’:]+)['’]?: "
    r"No such file or directory"
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


# --------------------------------------------------------------------------------------------- helpers


def signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _killed_by(ctx: _Context, sig: signals.Signals) -> bool:
    """The command (exit code -N, or 128+N from a shell) or the job (sacct's ':N') died of `sig`."""
    return ctx.exit_code in (-sig.value, 128 + sig.value) or ctx.signal == sig.value


def user_name(who: str) -> str:
    """'1000' -> 'alice (uid 1000)' when the uid is known here; names are kept as they are."""
    if not who.isdigit():
        return who
    try:
        return f"{pwd.getpwuid(int(who)).pw_name} (uid {who})"
    except (KeyError, OverflowError):
        return f"uid {who}"


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


def _mem_mb(resources: Mapping[str, Any]) -> int | None:
    try:
        return parse_mem_mb(resources["mem"])
    except (KeyError, ValueError, TypeError):
        return None


def _time_seconds(resources: Mapping[str, Any]) -> int | None:
    try:
        return parse_time_seconds(resources["time"])
    except (KeyError, ValueError, TypeError):
        return None


def _param_for(params: Mapping[str, Any], *names: str) -> str:
    lowered = {k.lower(): k for k in params}
    for name in names:
        if name in lowered:
            return lowered[name]
    return ""


def _smoke_smaller(ctx: _Context) -> str:
    smoke_params = dict((ctx.smoke or {}).get("params") or {})
    if smoke_params:
        return "smaller smoke params (" + " ".join(f"smoke.params.{k}=..." for k in smoke_params) + ")"
    first = next(iter(ctx.params), "")
    return (
        f"smoke params that run one batch (e.g. smoke.params.{first}=1)" if first else "a smaller smoke run"
    )


# ------------------------------------------------------------------------------- scheduler-level rules


def _host_oom(ctx: _Context, hit: _Hit | None) -> Diagnosis:
    requested = _mem_mb(ctx.resources)
    peaks = [ctx.max_rss_mb or 0.0]
    groups = hit.groups() if hit is not None else {}
    if "used" in groups and "limit" in groups:
        used, limit = int(groups["used"]), int(groups["limit"])
        # slurmstepd prints bytes (recent versions) or KB (older ones): the limit tells which
        per_mb = 1024 * 1024 if requested is None or limit >= requested * 1024 * 4 else 1024
        peaks.append(used / per_mb)
    peak = max(peaks)
    extra = f"(peak {peak:.0f} MB" + (f" > requested {format_mem_mb(requested)})" if requested else ")")
    if ctx.smoke is not None:
        fix = f"the smoke test ran out of this machine's memory: use {_smoke_smaller(ctx)}"
        return ctx.diagnosis("host_oom", hit, fix, extra if peak else "", peak_mb=round(peak, 1))
    # the smoke test's peak counts too: sacct's may miss the moment of the kill, and a suggestion under
    # what one batch already needed fails again
    smoke_peak = ctx.smoke_peak_mb or 0.0
    base = max(peak, float(requested or 0), smoke_peak)
    if base <= 0:
        fix = "raise resources.mem (e.g. double it: resources.mem=2G if it was 1G) and check max RSS"
        return ctx.diagnosis("host_oom", hit, fix)
    suggested = format_mem_mb(round_mem_mb(base * MEM_HEADROOM))
    smoke_part = f", smoke test's peak {smoke_peak:.0f} MB" if smoke_peak > peak else ""
    fix = (
        f"resources.mem={suggested} (max(peak {peak:.0f} MB{smoke_part}, requested) x {MEM_HEADROOM}), "
        "or use less memory"
    )
    details: dict[str, Any] = {"peak_mb": round(peak, 1), "suggested_mem": suggested}
    if smoke_peak:
        details["smoke_peak_mb"] = round(smoke_peak, 1)
    return ctx.diagnosis("host_oom", hit, fix, extra if peak else "", **details)


def _time_limit(ctx: _Context, hit: _Hit | None, why: str = "") -> Diagnosis:
    if ctx.smoke is not None:
        timeout = float(ctx.smoke.get("timeout") or ctx.elapsed_seconds or 60)
        fix = f"smoke.timeout={math.ceil(timeout * 2)}, or {_smoke_smaller(ctx)}"
        return ctx.diagnosis("time_limit", hit, fix, suggested_timeout=math.ceil(timeout * 2))
    limit = _time_seconds(ctx.resources)
    elapsed = float(ctx.elapsed_seconds or limit or 0)
    extra = (why + " " if why else "") + f"after {format_seconds(elapsed)}"
    extra += f" (limit {format_seconds(limit)})" if limit else ""
    details: dict[str, Any] = {}
    fraction = 0.0
    if ctx.progress:
        value, total = ctx.progress.get("value"), ctx.progress.get("total")
        if isinstance(value, int | float) and isinstance(total, int | float) and total > 0:
            fraction = min(1.0, value / total)
            extra += f", reached {ctx.progress.get('metric', 'step')} {value:g} of {total:g}"
            details["progress"] = round(fraction, 4)
    if 0 < fraction < 1 and elapsed > 0:
        needed = elapsed / fraction * TIME_HEADROOM
        how = f"elapsed / progress {fraction:.0%} x {TIME_HEADROOM}"
    elif limit or elapsed:
        needed = 2.0 * (limit or elapsed)
        how = "2x the limit; progress unknown"
    else:
        return ctx.diagnosis("time_limit", hit, "raise resources.time (e.g. resources.time=02:00:00)", extra)
    if limit:
        needed = max(needed, limit * 1.25)
    suggested = format_seconds(round_seconds(needed))
    fix = f"resources.time={suggested} ({how}), or checkpoint and resume"
    return ctx.diagnosis("time_limit", hit, fix, extra, suggested_time=suggested, **details)


def _node_failure(ctx: _Context, hit: _Hit | None) -> Diagnosis:
    where = f" ({ctx.node})" if ctx.node else ""
    fix = (
        f"submit again: the node{where} failed, not the run; make it resume from checkpoints, or pick "
        "another partition (resources.partition=...) if that node keeps failing"
    )
    return ctx.diagnosis("node_failure", hit, fix)


def _preempted(ctx: _Context, hit: _Hit | None) -> Diagnosis:
    qos = ctx.resources.get("qos")
    now = f" (now qos={qos})" if qos else ""
    fix = (
        "make the job checkpoint and resume, then requeue/submit again; or use a qos or partition that is "
        f"not preempted: resources.qos=<qos>{now} or resources.partition=<partition>"
    )
    return ctx.diagnosis("preempted", hit, fix)


def _cancelled(ctx: _Context, hit: _Hit | None) -> Diagnosis:
    who = user_name(ctx.cancelled_by) if ctx.cancelled_by else ""
    extra = f"by {who}" if who else "(by whom: unknown)"
    if ctx.elapsed_seconds is not None:
        extra += f" after {format_seconds(ctx.elapsed_seconds)}"
    fix = "nothing in the run to fix" + (f": {who} cancelled it" if who else "")
    fix += "; if that was not intended, submit it again (same config and overrides)"
    return ctx.diagnosis("cancelled", hit, fix, extra, cancelled_by=who)


_SCHEDULER_STATES: dict[str, Callable[[_Context, _Hit | None], Diagnosis]] = {
    "out_of_memory": _host_oom,
    "timeout": _time_limit,
    "deadline": _time_limit,
    "node_fail": _node_failure,
    "boot_fail": _node_failure,
    "preempted": _preempted,
}
_SCHEDULER_LINES: tuple[tuple[re.Pattern[str], Callable[[_Context, _Hit | None], Diagnosis]], ...] = (
    (MEM_LIMIT_AT, _host_oom),
    (MEM_LIMIT, _host_oom),
    (OOM_KILL, _host_oom),
    (TIME_LIMIT, _time_limit),
    (NODE_FAIL, _node_failure),
    (PREEMPT, _preempted),
)
_STATE_PATTERN = {
    "out_of_memory": (MEM_LIMIT_AT, MEM_LIMIT, OOM_KILL),
    "timeout": (TIME_LIMIT,),
    "deadline": (TIME_LIMIT,),
    "node_fail": (NODE_FAIL,),
    "boot_fail": (NODE_FAIL,),
    "preempted": (PREEMPT,),
}


# ----------------------------------------------------------------------------- application-level rules


def _cuda_oom(ctx: _Context, hit: _Hit) -> Diagnosis:
    batch = _param_for(ctx.params, "batch_size", "batchsize", "bs", "per_device_train_batch_size", "batch")
    gpus = ctx.resources.get("gpus")
    if batch and isinstance(ctx.params[batch], int) and ctx.params[batch] > 1:
        smaller = f"params.{batch}={max(1, int(ctx.params[batch]) // 2)} (half of {ctx.params[batch]})"
    else:
        smaller = "a smaller batch size (params.batch_size=... or gradient accumulation)"
    fix = f"{smaller}; or more GPU memory: a partition with larger GPUs (resources.partition=...)"
    if gpus:
        fix += f" or more GPUs to shard over (resources.gpus={int(gpus) * 2})"
    return ctx.diagnosis("cuda_oom", hit, fix)


def _nccl(ctx: _Context, hit: _Hit) -> Diagnosis:
    fix = (
        "run again with env.NCCL_DEBUG=INFO to see which rank and link fail; on one node try "
        "env.NCCL_P2P_DISABLE=1, across nodes set env.NCCL_SOCKET_IFNAME to the right interface; check "
        "that every rank reaches the same collectives"
    )
    return ctx.diagnosis("nccl", hit, fix)


def _disk_quota(ctx: _Context, hit: _Hit) -> Diagnosis:
    out = _param_for(
        ctx.params, "out", "output", "output_dir", "out_dir", "save_dir", "checkpoint_dir", "ckpt_dir"
    )
    where = (
        f"params.{out}=/scratch/$USER/..." if out else "a param such as +params.out_dir=/scratch/$USER/..."
    )
    fix = f"free space (check `df -h` and `quota`) or write outputs to a filesystem with room: {where}"
    return ctx.diagnosis("disk_quota", hit, fix)


def _missing_module(ctx: _Context, hit: _Hit) -> Diagnosis:
    setup = f"{_ACTIVATE} (or 'module load ...')"
    groups = hit.groups()
    lib = groups.get("lib") or groups.get("lib2")
    if lib:
        hint = "cuda" if "cud" in lib or "nccl" in lib else lib.split(".so")[0].removeprefix("lib")
        fix = (
            f"the shared library {lib} is not found on the node: add a setup line, "
            f"e.g. setup=['module load {hint}']"
        )
        return ctx.diagnosis("missing_module", hit, fix, library=lib)
    module = groups.get("module") or ""
    top = module.split(".")[0]
    package = PIP_NAMES.get(top, top)
    if groups.get("name"):
        fix = (
            f"'{groups['name']}' is not in the installed {package} (version mismatch): `pip install -U "
            f"{package}` (or pin the version the code needs) in the job's environment, or {setup}"
        )
    elif top:
        fix = f"`pip install {package}` in the job's environment, or activate the one that has it: {setup}"
    else:
        fix = f"install the missing package in the job's environment, or {setup}"
    return ctx.diagnosis("missing_module", hit, fix, module=module, package=package)


def _command_not_found(ctx: _Context, hit: _Hit | None) -> Diagnosis:
    cmd = ""
    if hit is not None:
        cmd = next(iter(hit.groups().values()), "")
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
    return ctx.diagnosis("command_not_found", hit, fix, command=cmd)


def _missing_file(ctx: _Context, hit: _Hit) -> Diagnosis:
    groups = hit.groups()
    path = groups.get("path") or groups.get("script") or groups.get("arg") or ""
    if not path:
        path_match = re.search(r"'([^']+)'", hit.line)
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
        fix = f"a file the job reads does not exist; pass its absolute path via {absolute_hint}"
        return ctx.diagnosis("missing_file", hit, fix)
    untracked = _in_checkout_only(ctx, path)
    if untracked:
        key = suggest_key(untracked)
        line = f"data: {{{key}: {untracked}}}"
        fix = (
            f"{untracked} exists in your checkout but is not tracked by git, so it is not in the run's "
            f"snapshot: add `{line}` to the config (or `{key}: {untracked}` under its data:); named under "
            "data:, it is fingerprinted and linked into the run's working directory. Or commit it"
        )
        return ctx.diagnosis(
            "missing_file", hit, fix, path=path, relative=True, untracked=True, config_line=line
        )
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
    return ctx.diagnosis("missing_file", hit, fix, path=path, relative=not path.startswith("/"))


def _in_checkout_only(ctx: _Context, path: str) -> str:
    """The normalised relative `path` when it exists in the run's checkout (so the run missed it because
    it is not in the snapshot); '' otherwise."""
    if not ctx.repo_root or os.path.isabs(path):
        return ""
    rel = os.path.normpath(path)
    if rel in (".", "..") or rel.startswith("../"):
        return ""
    return rel if os.path.lexists(os.path.join(ctx.repo_root, rel)) else ""


def _config_error(ctx: _Context, hit: _Hit) -> Diagnosis:
    groups = hit.groups()
    if groups.get("args"):
        fix = (
            f"the script does not accept {groups['args'].strip()}: fix the command template (command=...) "
            "or the param that adds it; flags must match what the script defines"
        )
    elif groups.get("arg"):
        flag = groups["arg"]
        param = _param_for(ctx.params, flag.lstrip("-").replace("-", "_"))
        target = f"params.{param}=<a valid value>" if param else "the param behind it (params.<name>=...)"
        fix = f"{flag}: {groups.get('msg', '').strip()}: set {target}"
    elif groups.get("required"):
        fix = (
            f"the script requires {groups['required'].strip()}: add it to the command template (command=...)"
        )
    elif groups.get("key") or groups.get("key2"):
        key = groups.get("key") or groups.get("key2")
        fix = f"hydra has no key '{key}': fix its spelling, or add it with a '+' in the command (+{key}=...)"
    else:
        fix = "the script refused its arguments or config: compare the command template with its usage line"
    return ctx.diagnosis("config_error", hit, fix)


_AppRule = tuple[str, tuple[re.Pattern[str], ...], Callable[[_Context, _Hit], Diagnosis]]
#: in precedence order, for when the final exception does not decide
APP_RULES: tuple[_AppRule, ...] = (
    ("cuda_oom", (CUDA_OOM,), _cuda_oom),
    ("disk_quota", (DISK,), _disk_quota),
    ("missing_module", (NO_SHARED_LIB, NO_MODULE, CANNOT_IMPORT), _missing_module),
    ("command_not_found", (NOT_FOUND,), _command_not_found),
    ("missing_file", (MISSING_FILE,), _missing_file),
    ("config_error", (ARGPARSE, HYDRA), _config_error),
    ("nccl", (NCCL,), _nccl),
)


def _app_error(ctx: _Context) -> Diagnosis | None:
    log, traceback = find_traceback(ctx.logs)
    final = final_exception(traceback)
    if final:
        for _name, patterns, rule in APP_RULES:
            for pattern in patterns:
                match = pattern.search(final)
                if match:
                    return rule(ctx, _Hit(log, final, match))
    for _name, patterns, rule in APP_RULES:
        for pattern in patterns:
            hit = ctx.find(pattern)
            if hit is not None:
                return rule(ctx, hit)
    if ctx.exit_code == 2:
        hit = ctx.find(USAGE)
        if hit is not None:
            return _config_error(ctx, hit)
    return None


def _unknown(ctx: _Context) -> Diagnosis:
    log, traceback = find_traceback(ctx.logs)
    line = final_exception(traceback)
    if not line:
        user_logs = [n for n in ctx.logs if not n.startswith("scheduler")] or list(ctx.logs)
        log = next((n for n in user_logs if ctx.logs[n].strip()), "")
        line = ctx.logs[log].strip().splitlines()[-1].strip() if log else ""
    where = f"`clusterrun logs {ctx.run_id} --stderr`" if ctx.run_id else "stderr.log in the run directory"
    read = "traceback.txt in the run directory and " if traceback else ""
    fix = f"read {read}{where}, fix the cause, then submit again"
    if ctx.signal and ctx.signal not in (0, 9, 15):
        fix = f"the job died of signal {ctx.signal}; " + fix
    return ctx.diagnosis("unknown", _Hit(log, line) if line else None, fix)


# ------------------------------------------------------------------------------------------- diagnose


def diagnose(
    state: str,
    exit_code: int | None = None,
    signal: int | None = None,
    logs: Mapping[str, str] | None = None,
    resources: Mapping[str, Any] | None = None,
    elapsed_seconds: float | None = None,
    max_rss_mb: float | None = None,
    cancelled_by: str = "",
    progress: Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    node: str = "",
    smoke: Mapping[str, Any] | None = None,
    run_id: str = "",
    repo_root: str = "",
    smoke_peak_mb: float | None = None,
) -> Diagnosis:
    """Diagnose a run that did not succeed.

    `state` is clusterrun's normalised state ('failed', 'timeout', ...) or sacct's raw one
    ('CANCELLED by 1000'); `logs` maps a log's name to the tail of its text, most relevant first
    (the user's stderr, stdout, then the scheduler's); `smoke` = {'timeout': s, 'params': {...}} when
    the smoke test is diagnosed; `smoke_peak_mb` = the run's smoke test's peak memory, which an
    out-of-memory fix must cover.
    `repo_root` = the checkout the run came from: a missing relative path that exists there is untracked
    data (the one check here that looks at the filesystem).
    """
    lowered = state.strip().lower()
    normal, by = (lowered, "") if lowered in TERMINAL | {"unknown"} else normalise_state(state)
    ctx = _Context(
        state=normal,
        exit_code=exit_code,
        signal=signal,
        logs=dict(logs or {}),
        resources=dict(resources or {}),
        elapsed_seconds=elapsed_seconds,
        max_rss_mb=max_rss_mb,
        cancelled_by=str(cancelled_by or by or ""),
        progress=progress,
        params=dict(params or {}),
        node=node,
        smoke=smoke,
        run_id=run_id,
        repo_root=repo_root,
        smoke_peak_mb=smoke_peak_mb,
    )
    ctx.lines = [
        (name, line) for name, text in ctx.logs.items() for line in text.splitlines() if line.strip()
    ]
    scheduler_rule = _SCHEDULER_STATES.get(normal)
    if scheduler_rule is not None:
        hit = next((h for p in _STATE_PATTERN[normal] if (h := ctx.find(p)) is not None), None)
        return scheduler_rule(ctx, hit)
    for pattern, rule in _SCHEDULER_LINES:
        hit = ctx.find(pattern)
        if hit is not None:
            return rule(ctx, hit)
    if normal == "cancelled":
        return _cancelled(ctx, ctx.find(CANCELLED_AT))
    if _killed_by(ctx, signals.SIGUSR2):
        # submitit asks SLURM for --signal=USR2@90: the warning that the time limit is near
        warning = "SLURM's warning that the time limit is near (submitit's --signal=USR2@90)"
        extra = f"= {warning}," if (ctx.exit_code or 0) < 0 else f"(SIGUSR2 = {warning})"
        return _time_limit(ctx, None, extra)
    if _killed_by(ctx, signals.SIGKILL):
        hit = ctx.find(KILLED)
        if hit is not None:
            return _host_oom(ctx, hit)
    found = _app_error(ctx)
    if found is not None:
        return found
    if exit_code == 127:
        return _command_not_found(ctx, None)
    return _unknown(ctx)
