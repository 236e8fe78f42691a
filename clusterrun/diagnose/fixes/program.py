"""Fixes for what the program itself got wrong: GPU memory, a failed CUDA kernel, NCCL, its arguments or
config, and the rest (unknown: where to read further)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clusterrun.diagnose.evidence import halved, param_for
from clusterrun.diagnose.model import Context, Fix, Found
from clusterrun.diagnose.tracebacks import user_frame

BATCH_PARAMS = ("batch_size", "batchsize", "bs", "per_device_train_batch_size", "batch")


def cuda_oom(ctx: Context, found: Found) -> Fix:
    gpus = ctx.resources.get("gpus")
    smaller = halved(ctx.params, BATCH_PARAMS, least=1) or (
        "a smaller batch size (params.batch_size=... or gradient accumulation)"
    )
    fix = f"{smaller}; or more GPU memory: a partition with larger GPUs (resources.partition=...)"
    if gpus:
        fix += f" or more GPUs to shard over (resources.gpus={int(gpus) * 2})"
    return Fix(fix)


def cuda_error(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    if groups.get("arch"):
        return Fix(
            "the job's torch (or CUDA library) was not built for this GPU's architecture: install a build "
            "that supports it in the job's environment, or run on GPUs it supports (resources.gpu_type=... "
            "or resources.constraint=...)"
        )
    where = (
        "most often an index out of range on the GPU (a label >= the number of classes, an embedding index "
        ">= its size)"
        if groups.get("assert")
        else "a kernel read or wrote memory it does not own, or a library call failed on the GPU"
    )
    return Fix(
        f"{where}; CUDA reports it at a later call than the one at fault, so run again with "
        "env.CUDA_LAUNCH_BLOCKING=1 to stop at the failing line (or on the CPU, which names the bad index)"
    )


def nccl(ctx: Context, found: Found) -> Fix:
    return Fix(
        "run again with env.NCCL_DEBUG=INFO to see which rank and link fail; on one node try "
        "env.NCCL_P2P_DISABLE=1, across nodes set env.NCCL_SOCKET_IFNAME to the right interface; check "
        "that every rank reaches the same collectives"
    )


def config_error(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    if groups.get("args"):
        fix = (
            f"the script does not accept {groups['args'].strip()}: fix the command template (command=...) "
            "or the param that adds it; flags must match what the script defines"
        )
    elif groups.get("arg"):
        flag = groups["arg"]
        param = param_for(ctx.params, flag.lstrip("-").replace("-", "_"))
        msg = groups.get("msg", "").strip()
        target = (
            f"params.{param}={_valid_value(msg, ctx.params[param])}"
            if param
            else ("the param behind it (params.<name>=...)")
        )
        fix = f"{flag}: {msg}: set {target}"
    elif groups.get("required"):
        fix = (
            f"the script requires {groups['required'].strip()}: add it to the command template (command=...)"
        )
    elif groups.get("key") or groups.get("key2"):
        key = groups.get("key") or groups.get("key2")
        fix = f"hydra has no key '{key}': fix its spelling, or add it with a '+' in the command (+{key}=...)"
    else:
        fix = "the script refused its arguments or config: compare the command template with its usage line"
    return Fix(fix)


def _valid_value(message: str, value: Any) -> str:
    """What argparse wants instead, from its message: 'invalid int value: '32.5'' -> '32 (an integer)';
    'invalid choice: 'adamw' (choose from 'sgd', 'adam')' -> 'sgd (one of sgd, adam)'."""
    kind = re.search(r"invalid (int|float) value", message)
    if kind and kind.group(1) == "int":
        try:
            return f"{int(float(value))} (an integer)"
        except (TypeError, ValueError, OverflowError):
            return "<an integer>"
    if kind:
        return "<a number>"
    choices = re.findall(r"'([^']*)'", message.split("choose from", 1)[1]) if "choose from" in message else []
    if choices:
        return f"{choices[0]} (one of {', '.join(choices)})"
    return "<a valid value>"


def spawn_at_import(ctx: Context, found: Found) -> Fix:
    at = user_frame(ctx.traceback[1]) if ctx.traceback[1] else ""
    where = f" ({at})" if at else ""
    return Fix(
        f"the script starts worker processes from code that runs when it is imported{where}: with the "
        "spawn start method (or a DataLoader's workers under it) each worker imports the script again and "
        "dies starting its own, and the pool starts new ones forever; put the top-level code under "
        '`if __name__ == "__main__":`'
    )


def interactive(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    at = user_frame(ctx.traceback[1]) if ctx.traceback[1] else ""
    if groups.get("wandb"):
        return Fix(
            "wandb asks for a login and a job has no terminal: export WANDB_API_KEY in your shell "
            "before submitting (the job inherits it; never put it in a config), or run offline: "
            "env.WANDB_MODE=offline"
        )
    if groups.get("input"):
        where = f" at {at}" if at else ""
        return Fix(
            f"the program asked for input (input(){where}) and a job has no terminal to answer it: give "
            "the answer as an option of the script (a param), or make it not ask"
        )
    where = f" (the debugger stopped at {at}, the line after it)" if at else ""
    return Fix(
        f"a breakpoint() or pdb.set_trace() was left in the code{where}: a job has no terminal to debug "
        "in; remove it and commit, or set env.PYTHONBREAKPOINT=0 to make breakpoint() do nothing"
    )


LEARNING_RATES = ("lr", "learning_rate", "base_lr", "lr0", "max_lr", "eta", "step_size")


def diverged(ctx: Context, found: Found) -> Fix:
    groups = found.groups()
    if groups.get("input"):
        return Fix(
            "NaN or infinite values reached a check of its inputs: the data holds them (missing values, a "
            "division by zero in preprocessing), or they are a model's outputs after the training diverged "
            "(then a lower learning rate); check which, then submit again"
        )
    return Fix(
        f"the training diverged (a loss or gradient became NaN or infinite): {divergence_fix(ctx.params)}"
    )


def divergence_fix(params: Mapping[str, Any]) -> str:
    """What to change after a training diverged: a tenth of the run's learning rate, when it has one."""
    name = param_for(params, *LEARNING_RATES)
    value = params.get(name) if name else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        lower = f"a lower learning rate, params.{name}={value / 10:g} (a tenth of {value:g})"
    else:
        lower = "a lower learning rate"
    return f"{lower}; or clip the gradients, add warm-up, or check the inputs for NaN; then submit again"


def unknown(ctx: Context, found: Found) -> Fix:
    raised = user_frame(ctx.traceback[1]) if ctx.traceback[1] else ""
    raised = f"raised at {raised}; " if raised else ""
    if ctx.smoke is not None:  # the smoke test's logs are in smoke/; no traceback.txt is written for it
        where = (
            f"`clusterrun logs {ctx.run_id} --smoke --stderr`"
            if ctx.run_id
            else "smoke/stderr.log in the run directory"
        )
        return Fix(f"{raised}read {where}, fix the cause, then submit again")
    where = f"`clusterrun logs {ctx.run_id} --stderr`" if ctx.run_id else "stderr.log in the run directory"
    read = "traceback.txt in the run directory and " if ctx.traceback[1] else ""
    fix = f"{raised}read {read}{where}, fix the cause, then submit again"
    if ctx.signal and ctx.signal not in (0, 9, 15):
        fix = f"the job died of signal {ctx.signal}; " + fix
    return Fix(fix)
