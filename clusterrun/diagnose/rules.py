"""Why a run did not succeed: a category, the evidence, and the clusterrun override that fixes it.

Pure: everything comes in as arguments (the scheduler's last word, log tails as strings, the run's
resolved resources), so every rule is unit-tested with plain text. A failure category is ONE entry in
RULES below: its category, the evidence that shows it (one matcher per kind of evidence) and its fix.
A new category is one more Rule here (with its patterns in evidence.py, or scheduler_evidence.py when the
scheduler reports it, and its fix in fixes/), placed by the tie-break order below.

Why this order. The walk (ORDER) takes the strongest kind of evidence first, whatever its category
(model.Strength), and the first match wins:
  1. the scheduler's final state when it names the cause (OUT_OF_MEMORY, TIMEOUT/DEADLINE, NODE_FAIL/
     BOOT_FAIL, PREEMPTED): nothing is more direct;
  2. slurmstepd's line naming the cause ('exceeded memory limit', oom-kill, '... DUE TO TIME LIMIT', node
     failure, preemption): an OOM kill on a cluster without cgroups is FAILED 0:9 with a CANCELLED step,
     and a time limit also ends CANCELLED, so these come before
  3. a cancellation (CANCELLED, by whom), which explains any signal the job then died of;
  4. SIGUSR2 (the time-limit warning: one meaning), before
  5. SIGKILL with a 'Killed' line (the kernel's OOM killer, most likely: an inference);
  6. the final exception of the user's last traceback: what the program died of, so an earlier warning
     line of another category does not decide;
  7. a log line: of the last traceback and what follows it when there is one (an earlier line, such as
     a warning that mentions 'No such file or directory', is not the cause), else any line;
  8. an exit code (127 alone; 2 with a usage line); 9. `unknown`, quoting the last words.
Among equally strong evidence, the order of RULES decides:
  - memory, then time, node failure, preemption (two such lines are rare): a memory kill is the run's own,
    with a fix in its config;
  - spawn_at_import before time: Python's "An attempt has been made to start a new process before the
    current process has finished its bootstrapping phase" means workers started at import die as they
    start and a pool starts new ones forever; the time limit that ends such a run is its consequence, so
    these words count as a verdict (evidence.spawn_loop);
  - incomplete_run first of the program errors: the job's wrapper found no command.sh to run (a sweep's
    member whose sweep lost its member files), and bash's 'No such file or directory' that follows is
    its consequence, not a command missing from PATH;
  - cuda_oom next: one rank's GPU OOM makes the others print CUDA and NCCL errors;
  - no_gpu and cuda_error next: a program that sees no GPU, or whose kernel failed, says so in CUDA's
    words, which NCCL and later calls repeat;
  - shared_memory and open_files before disk_quota: a full /dev/shm also says 'No space left on
    device', and its fix is not a larger disk; a worker that dies of it makes the DataLoader raise;
  - disk_quota next: a full disk makes later writes, reads and imports fail in other words;
  - missing_module before command_not_found and missing_file: a missing shared library also reads
    'No such file or directory';
  - command_not_found before missing_file: 'command.sh: line 9: ./run.sh: No such file or directory' is the
    shell not finding a command;
  - missing_file before config_error: python's "can't open file" exits with 2, as argparse does;
  - nccl last of the causes a log line may merely mention: healthy runs print 'NCCL WARN' too, and a
    rank's NCCL error is often another rank's echo;
  - interactive: a program waiting for a person (a breakpoint() left in the code, input(), a login
    prompt) on a stdin that has nothing to read;
  - diverged: a loss or the inputs became NaN or infinite and the program stopped on it (its own check,
    FloatingPointError, torch's anomaly detection, a library's NaN check); after the causes above, which
    name their failure more exactly (a missing file can make a loss NaN, not the other way round);
  - unknown: always matches, so it is last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clusterrun.diagnose import evidence as ev
from clusterrun.diagnose import scheduler_evidence as sched
from clusterrun.diagnose.evidence import progress_from
from clusterrun.diagnose.fixes import environment, program, scheduler_events
from clusterrun.diagnose.fixes.scheduler_events import user_name
from clusterrun.diagnose.model import Context, Diagnosis, Matcher, Rule

__all__ = ["CATEGORIES", "ORDER", "RULES", "Diagnosis", "diagnose", "progress_from", "user_name"]

RULES: tuple[Rule, ...] = (
    Rule(
        "host_oom",
        (sched.verdict(sched.MEMORY), sched.scheduler_log(sched.MEMORY), ev.killed_line()),
        scheduler_events.host_oom,
    ),
    Rule("spawn_at_import", (ev.spawn_loop(),), program.spawn_at_import),
    Rule(
        "time_limit",
        (sched.verdict(sched.TIME), sched.scheduler_log(sched.TIME), sched.time_warning()),
        scheduler_events.time_limit,
    ),
    Rule(
        "node_failure",
        (sched.verdict(sched.NODE), sched.scheduler_log(sched.NODE)),
        scheduler_events.node_failure,
    ),
    Rule(
        "preempted",
        (sched.verdict(sched.PREEMPTION), sched.scheduler_log(sched.PREEMPTION)),
        scheduler_events.preempted,
    ),
    Rule("cancelled", (sched.cancellation(),), scheduler_events.cancelled),
    Rule("incomplete_run", ev.program_error(ev.INCOMPLETE_RUN), environment.incomplete_run),
    Rule("cuda_oom", ev.program_error(ev.CUDA_OOM), program.cuda_oom),
    Rule("no_gpu", ev.program_error(ev.NO_GPU), environment.no_gpu),
    Rule("cuda_error", ev.program_error(ev.CUDA_ERROR), program.cuda_error),
    Rule("shared_memory", ev.program_error(ev.SHARED_MEMORY), environment.shared_memory),
    Rule("open_files", ev.program_error(ev.OPEN_FILES), environment.open_files),
    Rule("disk_quota", ev.program_error(ev.DISK), environment.disk_quota),
    Rule(
        "missing_module",
        ev.program_error(ev.NO_SHARED_LIB, ev.NO_MODULE, ev.CANNOT_IMPORT),
        environment.missing_module,
    ),
    Rule(
        "command_not_found",
        (*ev.program_error(ev.NOT_FOUND), ev.exit_code(127)),
        environment.command_not_found,
    ),
    Rule("missing_file", ev.program_error(ev.MISSING_FILE), environment.missing_file),
    Rule(
        "config_error",
        (*ev.program_error(ev.ARGPARSE, ev.HYDRA), ev.exit_code(2, ev.USAGE)),
        program.config_error,
    ),
    Rule("nccl", ev.program_error(ev.NCCL), program.nccl),
    Rule("interactive", ev.program_error(ev.INTERACTIVE), program.interactive),
    Rule("diverged", ev.program_error(ev.DIVERGED), program.diverged),
    Rule("unknown", (ev.last_words(),), program.unknown),
)
CATEGORIES = tuple(rule.category for rule in RULES)
#: the walk: strongest evidence first, then RULES' order (sorted() is stable)
ORDER: tuple[tuple[Matcher, Rule], ...] = tuple(
    sorted(((m, rule) for rule in RULES for m in rule.evidence), key=lambda pair: pair[0].strength)
)


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
    copy_root: str = "",
) -> Diagnosis:
    """Diagnose a run that did not succeed.

    `state` is clusterrun's normalised state ('failed', 'timeout', ...) or sacct's raw one
    ('CANCELLED by 1000'); `logs` maps a log's name to the tail of its text, most relevant first
    (the user's stderr, stdout, then the scheduler's); `smoke` = {'timeout': s, 'params': {...}} when
    the smoke test is diagnosed; `smoke_peak_mb` = the run's smoke test's peak memory, which an
    out-of-memory fix must cover.
    `repo_root` = the checkout the run came from: a missing relative path that exists there is untracked
    data (the one check here that looks at the filesystem); `copy_root` = the same folder of the run's
    copy of the code: the folder of it that the copy lacks as a whole is the one to name under data:.
    """
    normal, by = sched.read_state(state)
    ctx = Context(
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
        copy_root=copy_root,
    )
    for matcher, rule in ORDER:
        found = matcher.find(ctx)
        if found is not None:
            return ctx.diagnosis(rule.category, found.hit, rule.fix(ctx, found))
    raise AssertionError("unreachable: the last rule, unknown, always matches")
