"""`clusterrun init`: a starter config for the repository, from what its scripts declare and print.

The entry point (clusterrun/init/repo.py) gives the command; a Python entry point's options (argparse,
click, typer; read with `ast`, never run) give the params with their defaults; the options that make a
run short give the smoke test; the script's prints give metrics patterns; a cluster profile (or starter
values) gives the resources. The config is checked (it must load) before it is written, and an existing
file is never overwritten without `force`.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from clusterrun.analysis.metrics import printed_pattern, timing_names
from clusterrun.config.models import DEFAULT_SEED, spec_from_data
from clusterrun.config.placeholders import BUILTIN_PLACEHOLDERS
from clusterrun.config.redact import is_secret_name, secret_in_value
from clusterrun.config.sections import Resources
from clusterrun.config.yaml12 import load_yaml, yaml_load
from clusterrun.errors import ClusterrunError, ConfigError, DoesNotFit, UsageError
from clusterrun.init import guess, hydra, lightning, sbatch, settings
from clusterrun.init.metrics import patterns, wandb_patterns
from clusterrun.init.pysource import (
    MISSING,
    Option,
    ScriptInfo,
    lightning_logs,
    read_script,
    uses_lightning_trainer,
)
from clusterrun.init.repo import SCRIPT_DIRS, SCRIPTS, Entry, Survey, find_entry, survey
from clusterrun.inputs.datafp import relative_path, suggest_key
from clusterrun.inputs.gitstate import untracked_of
from clusterrun.inputs.outputnames import is_output_name
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.registry import git_root, repo_folder
from clusterrun.scheduler.registry import AUTO, get_scheduler
from clusterrun.services.adhoc import command_text, dump_config, template, value_of
from clusterrun.services.job_request import probe

PROBE_SECONDS = 60
FIT_SECONDS = 3.0  # how long init waits for the cluster's answer about its largest node
_SECRET = re.compile(r"(^|_)(token|secret|password|passwd|api_?key|private_?key|credentials?)$", re.I)
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STARTER_RESOURCES: dict[str, Any] = {"time": "01:00:00", "mem": "4G", "cpus_per_task": 1, "gpus": 0}
_SUBCOMMANDS = ("train", "fit", "run", "main")


@dataclass
class InitRequest:
    cwd: Path | None = None
    name: str | None = None
    entry: str | None = None  # which entry point (train.py, scripts/train.sh, make train...)
    cluster: str | None = None
    out: Path | None = None
    force: bool = False
    dry_run: bool = False  # print the config, write nothing


@dataclass
class InitReport:
    path: Path
    text: str
    entry: str
    guessed: list[str] = field(default_factory=list)  # what was read and concluded
    check: list[str] = field(default_factory=list)  # what the user should look at
    looked_at: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # other entry points and existing configs
    written: bool = False

    def as_record(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "entry": self.entry,
            "written": self.written,
            "guessed": self.guessed,
            "check": self.check,
            "looked_at": self.looked_at,
            "others": self.others,
            "config": yaml_load(self.text),
        }


@dataclass
class _Draft:
    command: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    # length options without a default (the script reads its length elsewhere): (flag, smoke value)
    short_flags: list[tuple[str, int | float]] = field(default_factory=list)
    smoke_command: list[str] = field(default_factory=list)  # the smoke test's own argv (a framework's)
    guessed: list[str] = field(default_factory=list)
    check: list[str] = field(default_factory=list)
    work: str = "<run>/work"  # where the command runs, in a run's copy of the code (the config's cwd)
    base: Path | None = None  # ... and in the checkout: what the script's relative defaults name
    config_file: dict[str, Any] | None = None  # the script's own settings file, its values as params
    sbatch: sbatch.Sbatch | None = None  # the project's sbatch script that runs the entry point
    hydra: hydra.HydraParams | None = None  # a Hydra script's primary config, as read once


def _shown(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _choose_command(info: ScriptInfo) -> str:
    subs = info.subcommands
    if not subs:
        return ""
    return next((s for s in _SUBCOMMANDS if s in subs), subs[0])


def _reads_seed_variable(path: Path) -> bool:
    """Whether the script's source names $CLUSTERRUN_SEED (it seeds itself from the run's seed)."""
    try:
        return "CLUSTERRUN_SEED" in path.read_text(errors="replace")
    except OSError:
        return False


def _from_hydra(info: ScriptInfo, draft: _Draft) -> None:
    """Params from a Hydra script's primary config, passed back as Hydra overrides (`optimizer.lr={lr}`);
    a `seed` key is the run's seed."""
    assert info.hydra is not None
    found = draft.hydra = hydra.params(info.path, info.hydra)
    if found.problem:
        draft.check.append(found.problem)
    for name, value in found.values.items():
        key = found.keys[name]
        if name == "seed" and isinstance(value, int) and not isinstance(value, bool):
            draft.seed = value
            draft.command.append(f"{key}={{seed}}")
            draft.guessed.append(f"{key} is the run's seed ({key}={{seed}}, seed: {value})")
            continue
        if name in BUILTIN_PLACEHOLDERS:
            name = key.replace(".", "_") + "_"
        draft.params[name] = value
        draft.command.append(f"{key}={{{name}}}")
    where = found.config.relative_to(info.path.parent) if found.config else "its config"
    in_file = {v[1:-1] for v in (draft.config_file or {}).get("set", {}).values()}
    from_options = {k: v for k, v in draft.params.items() if k not in in_file}
    if from_options:
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in from_options.items())
        draft.guessed.append(
            f"params from the Hydra config {where} of {info.path.name}, passed as overrides: {shown}"
        )
        draft.check.append(
            "Hydra writes its outputs under outputs/DATE/TIME in the run's working directory (or where "
            "hydra.run.dir says): the run's artifacts are found there"
        )
    if found.skipped:
        draft.guessed.append(
            f"left to the Hydra config (lists, nulls, interpolations): {', '.join(found.skipped)}"
        )
    for group in found.choices.values():
        draft.check.append(_group_choice(group, next(n for n, k in found.keys.items() if k == group.group)))
    if draft.seed is None and not _reads_seed_variable(info.path) and not _seed_variables(info):
        draft.check.append(
            f"{info.path.name} has no seed in its config: the run's seed reaches it only as "
            "$CLUSTERRUN_SEED; seed its random generators from that, or add seed: to the config and "
            "seed={seed} to the command"
        )


def _group_choice(group: hydra.HydraGroup, name: str) -> str:
    """What init says of a Hydra group with several options, whose values it left to the option."""
    leaves = group.leaves()
    keys = [key for key, _ in leaves]
    numbers = [k for k, v in leaves if isinstance(v, int | float) and not isinstance(v, bool)]
    example = next((k for k in numbers if k.rsplit(".", 1)[-1] in ("lr", "learning_rate")), None)
    example = example or (numbers[0] if numbers else None)
    options = ", ".join(group.options)
    said = f"{group.group}={group.choice} is a Hydra group choice (param {name}; options: {options})"
    if not keys:
        return said
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    said += f": each option keeps its own values ({shown}), which are not params"
    if example:
        said += (
            f"; to sweep one, add it to params and {example}={{{example.rsplit('.', 1)[-1]}}} to the command"
        )
    return said


def _from_lightning(info: ScriptInfo, draft: _Draft) -> None:
    """A LightningCLI script: `fit`, with the project's LightningCLI config file when it has one and its
    scalar values as dotted options (else the model's and data module's `__init__` defaults); the run's
    seed as --seed_everything; the smoke test Lightning's one-batch run (fast_dev_run)."""
    main, tree = info.lightning, info.tree
    assert main is not None and tree is not None
    if main.subcommand:
        draft.command.append(main.subcommand)
    root = draft.base or git_root(info.path.parent) or info.path.parent  # where the command runs
    found = lightning.find_config(lightning.config_files(root, info.path))
    params = hydra.HydraParams()
    seed: Any = main.seed_default
    if found is not None:
        path, data = found
        where = f"the LightningCLI config {PurePosixPath(path.relative_to(root))}"
        draft.command += ["--config", str(PurePosixPath(path.relative_to(root)))]
        hydra.scalars(data, params, skip=frozenset({"seed_everything", "ckpt_path"}))
        if type(data.get("seed_everything")) is int:
            seed = data["seed_everything"]
    else:
        where = f"the __init__ defaults of {' and '.join(filter(None, (main.model, main.data)))}"
        nested = {
            prefix: lightning.init_defaults(tree, cls)
            for prefix, cls in (("model", main.model), ("data", main.data))
            if cls
        }
        hydra.scalars(nested, params, skip=frozenset())
    for name, value in params.values.items():
        key = params.keys[name]
        if name in BUILTIN_PLACEHOLDERS:
            name = key.replace(".", "_") + "_"
        draft.params[name] = value
        draft.command += [f"--{key}", f"{{{name}}}"]
    draft.seed = seed
    draft.command += ["--seed_everything", "{seed}"]
    shown = ", ".join(f"{k}={_shown(v)}" for k, v in draft.params.items()) or "none"
    sub = f"subcommand {main.subcommand}" if main.subcommand else "run=False, no subcommand"
    draft.guessed.append(f"LightningCLI: {sub}; params from {where}, passed as options: {shown}")
    draft.guessed.append(
        "--seed_everything {seed}: LightningCLI seeds Python, numpy and torch with the run's seed"
        + (f" (seed: {seed}, as the script had it)" if seed is not None else "")
    )
    draft.smoke_command = [*draft.command, *lightning.FAST_DEV_RUN]
    draft.check.append(
        "Lightning writes its logs and checkpoints under lightning_logs/ in the run's working directory "
        f"({draft.work}/lightning_logs/), listed as the run's artifacts"
    )


def _from_python(entry: Entry, info: ScriptInfo, draft: _Draft) -> None:
    """Params from the script's options: every option with a literal default, and the required ones."""
    if info.framework == "hydra":
        _from_hydra(info, draft)
        return
    if info.framework == "lightning":
        _from_lightning(info, draft)
        return
    sub = _choose_command(info)
    if sub:
        draft.command.append(sub)
        others = [s for s in info.subcommands if s != sub]
        draft.guessed.append(
            f"subcommand {sub!r}" + (f" (the others: {', '.join(others)})" if others else "")
        )
    options = info.options_of(sub)
    positional: list[str] = []
    skipped: dict[str, list[str]] = {"flags": [], "lists": [], "no default": [], "secrets": []}
    for option in options:
        display = option.flag or option.name
        if option.name in ("help", "version") or option.flag in ("--help", "--version"):
            continue
        if option.is_flag:
            skipped["flags"].append(display)
            continue
        if option.multiple:
            skipped["lists"].append(display)
            continue
        if _SECRET.search(option.name):
            skipped["secrets"].append(display)
            continue
        name = option.name
        if draft.config_file is None and _settings_file(info, option, draft):
            if option.flag:
                draft.command += [option.flag, "{config_file}"]
            else:  # `python train.py configs/base.yaml`
                positional.append("{config_file}")
            continue
        if name in guess.SEED_OPTIONS and option.is_int_seed():
            unset = not option.has_default
            draft.seed = DEFAULT_SEED if unset else option.default
            draft.command += [option.flag, "{seed}"] if option.flag else ["{seed}"]
            draft.guessed.append(
                f"{display} is the run's seed ({{seed}}, seed: {draft.seed})"
                + (
                    f"; its own default, {option.default!r}, would leave the script unseeded, so each run "
                    "passes its seed"
                    if unset and option.default is not MISSING
                    else ""
                )
            )
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in BUILTIN_PLACEHOLDERS:
            skipped["no default"].append(display)
            continue
        if option.has_default:
            value = option.default
        elif option.required:
            value = "CHANGE_ME"
            draft.check.append(f"params.{name}: {display} is required and has no default: set it")
        else:
            skipped["no default"].append(display)
            short = guess.short_value(name, option.type)
            if short is not None and option.flag:
                draft.short_flags.append((option.flag, short))
            continue
        draft.params[name] = value
        if option.positional:
            positional.append(f"{{{name}}}")
        else:
            draft.command += [option.flag, f"{{{name}}}"]
    draft.command[len(entry.command) + (1 if sub else 0) : len(entry.command) + (1 if sub else 0)] = (
        positional
    )
    in_file = {v[1:-1] for v in (draft.config_file or {}).get("set", {}).values()}
    from_options = {k: v for k, v in draft.params.items() if k not in in_file}
    if from_options:
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in from_options.items())
        draft.guessed.append(f"params from {info.framework} options of {info.path.name}: {shown}")
    seedless = draft.seed is None and not _reads_seed_variable(info.path) and not _seed_variables(info)
    if seedless:
        draft.check.append(
            f"{info.path.name} takes no seed option: the run's seed reaches it only as $CLUSTERRUN_SEED; "
            "seed its random generators from that, or give it a --seed option and put {seed} in the "
            "command"
        )
    for what, names in skipped.items():
        if not names:
            continue
        if what == "flags":
            draft.check.append(
                f"flags left out of the command (add them to it if you use them): {', '.join(names)}"
            )
        elif what == "lists":
            draft.check.append(f"options taking several values left out: {', '.join(names)}")
        elif what == "secrets":
            draft.check.append(
                f"{', '.join(names)} look like secrets: never put them in a config; export them in your "
                "shell "
                "(the job inherits them)"
            )
        else:
            draft.guessed.append(f"left at the script's own default: {', '.join(names)}")


def _settings_file(info: ScriptInfo, option: Option, draft: _Draft) -> bool:
    """`--config configs/base.yaml` (a settings file of the project's that the script reads): the file
    becomes the config's config_file, each scalar setting a param written into the run's copy of it
    (init/settings.py), and its `seed` the run's seed. False when the option's default names no such
    file (then it is an ordinary param)."""
    default = option.default
    root = draft.base or git_root(info.path.parent) or info.path.parent
    if not guess.CONFIG_OPTION.fullmatch(option.name) or option.is_flag or option.multiple:
        return False
    how = ""
    if not isinstance(default, str):  # `--config` required, or a positional: the project's one file
        if option.has_default:
            return False
        files = settings.settings_files(root)
        if len(files) != 1:
            if files:
                draft.check.append(
                    f"{option.flag or option.name} takes a settings file: give the run its own copy of one "
                    f"with its settings as params, e.g. config_file: {{path: {files[0]}}} and "
                    f"{option.flag or ''} {{config_file}} in the command (clusterrun init --print shows it "
                    "for a script whose option has that default)".replace("  ", " ")
                )
            return False
        default, how = files[0], " (the project's only settings file: the option has no default)"
    found = settings.from_file(root, default, set(draft.params), draft.seed is not None)
    if found is None:
        return False
    if found.secrets:  # kept in the copy as the commit has it, never a param (params are recorded everywhere)
        draft.check.append(
            f"{default} holds what looks like a secret ({', '.join(found.secrets[:4])}): committed, it is in "
            "every snapshot of the code; read it from the environment instead (export it in your shell: the "
            "job inherits it)"
        )
    if found.seed is not None:
        draft.seed = found.seed
        draft.guessed.append(f"{default}'s {found.seed_key} is the run's seed ({{seed}}, seed: {found.seed})")
    draft.params.update(found.params)
    draft.config_file = found.config_file
    draft.guessed.append(
        f"{option.flag or option.name} {default}{how} is {info.path.name}'s settings file: each run gets its "
        f"own copy of it (config_file), its settings written in from params: {found.shown()}"
    )
    return True


def _from_variables(variables: dict[str, str], draft: _Draft, where: str, as_make: bool) -> None:
    """Params from shell/Makefile variables: `${EPOCHS:-10}` -> params.epochs exported as EPOCHS."""
    for var, raw in variables.items():
        name = var.lower()
        if "$" in raw or "`" in raw or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            continue
        seed = value_of(raw)
        if _SEED_VARIABLE.search(var) and draft.seed is None and type(seed) is int:
            draft.seed = seed  # `${SEED:-1234}`: the run's seed, each run's own, recorded
            if as_make:
                draft.command.append(f"{var}={{seed}}")
            else:
                draft.env[var] = "{seed}"
            draft.guessed.append(f"${var} is the run's seed ({var}={{seed}}, seed: {seed})")
            continue
        if _SECRET.search(name):
            draft.check.append(f"{var} looks like a secret: export it in your shell instead")
            continue
        if name in BUILTIN_PLACEHOLDERS:
            continue
        draft.params[name] = value_of(raw)
        if as_make:
            draft.command.append(f"{var}={{{name}}}")
        else:
            draft.env[var] = f"{{{name}}}"
    in_file = {v[1:-1] for v in (draft.config_file or {}).get("set", {}).values()}
    from_options = {k: v for k, v in draft.params.items() if k not in in_file}
    if from_options:
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in from_options.items())
        how = "passed to make as VAR=value" if as_make else "exported to the script as environment variables"
        draft.guessed.append(f"params from the variables of {where} ({how}): {shown}")


def _draft(entry: Entry, info: ScriptInfo | None, folder: str = ".", base: Path | None = None) -> _Draft:
    draft = _Draft(command=list(entry.command), base=base)
    if folder != ".":
        draft.work = f"<run>/work/{folder}"
    if entry.kind == "shell" and entry.shell is not None:
        _from_variables(entry.shell.variables, draft, entry.label, as_make=False)
        if entry.shell.forwards_args and info is not None:  # `exec python train.py "$@"`: its options
            _from_python(entry, info, draft)
    elif entry.kind == "make" and entry.make is not None:
        used = {v: entry.make.variables[v] for v in entry.make.used(entry.target)}
        _from_variables(used, draft, f"Makefile target {entry.target}", as_make=True)
        if not used and entry.python is not None:
            draft.check.append(f"make {entry.target} takes no variables: its script's options are not params")
    elif info is not None:
        _from_python(entry, info, draft)
    return draft


def _metrics(info: ScriptInfo | None, draft: _Draft) -> dict[str, str]:
    if info is None:
        draft.check.append(
            "metrics: no Python source found to read; add metrics.patterns (regexes over stdout or stderr)"
        )
        return {}
    found = patterns(info.printed)
    if info.lightning is not None:
        found |= _lightning_metrics(info.lightning, draft)
    if info.framework == "HfArgumentParser" and "Trainer" in info.called:
        # the Trainer prints its logs as dicts: {'loss': '0.69', ...}, {'eval_loss': ...}, {'train_loss': ...}
        found |= {name: printed_pattern(name) for name in ("loss", "eval_loss", "train_loss")}
        draft.check.append(
            "metrics: the Trainer's logs (loss, eval_loss, train_loss); before transformers 5 it reports "
            "to every integration installed (wandb...) unless given --report_to none"
        )
    if found:
        draft.guessed.append(f"metrics from the prints of {info.path.name}: {', '.join(found)}")
    wandb = {} if info.tensorboard is not None else wandb_patterns(info.wandb_keys, found)
    if wandb:
        found |= wandb
        draft.guessed.append(
            f"metrics from the run summary wandb prints as the run finishes: {', '.join(wandb)} (each "
            "one's last value; for every step's, log to TensorBoard too, or write JSON lines to "
            "$CLUSTERRUN_METRICS_FILE)"
        )
    elif found or info.tensorboard is not None or (info.lightning is None and lightning_logs(info)):
        pass  # (_tensorboard and _lightning_logs say where its metrics are read from)
    elif info.reads_metrics_file:
        draft.guessed.append(
            f"{info.path.name} writes $CLUSTERRUN_METRICS_FILE: its metrics are read from there"
        )
    else:
        draft.check.append(
            f"metrics: no `name=value` print found in {info.path.name}; add metrics.patterns, or write "
            "JSON lines "
            "to $CLUSTERRUN_METRICS_FILE"
        )
    return found


def _tensorboard(info: ScriptInfo | None, draft: _Draft) -> str:
    """The metrics file of a script that logs with a TensorBoard SummaryWriter: the folder of its event
    files in the run's working copy (metrics.file reads them: analysis/tfevents.py); "" for none."""
    if info is None or info.tensorboard is None:
        return ""
    if not info.tensorboard:
        draft.check.append(
            f"metrics: {info.path.name} logs to TensorBoard in a folder not named by a literal; set "
            "metrics.file to it, relative to the run directory (e.g. work/tb), to read its scalars"
        )
        return ""
    folder = f"{draft.work.removeprefix('<run>/')}/{info.tensorboard}"
    if draft.hydra is None and info.hydra is not None:  # (not read yet: a Hydra main beside options)
        draft.hydra = hydra.params(info.path, info.hydra)
    runs_in = draft.hydra.runs_in if draft.hydra is not None else None
    if runs_in == "":
        draft.check.append(
            f"metrics: {info.path.name} logs to TensorBoard in Hydra's output folder, which hydra.run.dir "
            "names outside the run's working directory; set metrics.file to where its event files are"
        )
        return ""
    if runs_in:  # Hydra runs the job in outputs/<date>/<time>/: the event files are found below
        folder = f"{draft.work.removeprefix('<run>/')}/{runs_in}"
    draft.guessed.append(
        f"metrics from TensorBoard: the scalars of the event files {info.path.name} writes to "
        f"{info.tensorboard}/"
        + (f" in Hydra's output folder, under {runs_in}/" if runs_in else "")
        + f" (metrics.file: {folder}; a running job's values as far as the writer has flushed them, every "
        "120 s unless SummaryWriter(..., flush_secs=N) says otherwise)"
    )
    return folder


def _lightning_logs(info: ScriptInfo | None, draft: _Draft) -> str:
    """The metrics file of a Lightning Trainer script that logs with `self.log`: its logger's folder in
    the run's working copy (event files or version_N/metrics.csv tables, every version: a requeued run
    starts a new one per attempt); "" when it cannot be read from the source."""
    folder = lightning_logs(info) if info is not None and info.lightning is None else None
    if not folder:
        return ""
    path = f"{draft.work.removeprefix('<run>/')}/{folder}"
    draft.guessed.append(
        f"metrics from what {info.path.name if info else 'the script'} logs with self.log: its Lightning "
        f"logger's folder, {folder}/ (metrics.file: {path}; event files or version_N/metrics.csv tables, "
        "every version: a requeued run starts a new one per attempt)"
    )
    return path


def _lightning_metrics(main: lightning.LightningMain, draft: _Draft) -> dict[str, str]:
    """What Lightning's progress bar prints of `self.log(..., prog_bar=True)` (`val_loss: 0.21` from
    its rich bar, `val_loss=0.21` from tqdm's): a pattern each; the others are not printed."""
    found = {name: rf"\b{re.escape(name)}[:=]\s*([0-9.eE+-]+)" for name in main.shown}
    hidden = [name for name in main.logged if name not in main.shown]
    if found:
        draft.check.append(
            "metrics: the progress bar's values, as printed (without a terminal, each epoch's last); "
            "Lightning's CSVLogger keeps every step's in lightning_logs/version_0/metrics.csv"
        )
    if hidden:
        logs = f"{draft.work.removeprefix('<run>/')}/lightning_logs"
        draft.check.append(
            f"metrics logged without prog_bar=True are not printed, so not read: {', '.join(hidden)}; to "
            f"read every logged metric, set metrics.file: {logs} (the TensorBoardLogger's event files, "
            "Lightning's default logger when tensorboard is installed, else the CSVLogger's "
            "version_N/metrics.csv tables: every version, so a requeued run's attempts too)"
        )
    return found


def _smoke(draft: _Draft, data: dict[str, Any]) -> None:
    if draft.smoke_command:  # the framework's own short run
        data["smoke"] = {"command": command_text(draft.smoke_command), "timeout": 300}
        extra = " ".join(draft.smoke_command[len(draft.command) :])
        draft.guessed.append(
            f"smoke test: the command with {extra} (smoke.command): one batch of training and of "
            "validation, nothing written"
        )
        return
    short = guess.smoke_params(draft.params)
    if short:
        data["smoke"] = {"params": short, "timeout": 300}
        draft.guessed.append(
            "smoke test: "
            + ", ".join(f"{k}={v}" for k, v in short.items())
            + " (params that make a run short)"
        )
        steps = guess.timed_param(draft.params, short)
        if steps:
            data["estimate"] = {"steps_param": steps}
            draft.guessed.append(f"estimate: the wall time scales with {steps} (estimate.steps_param)")
        return
    if any(guess.is_short_option(k) for k in draft.params):
        data["smoke"] = {"timeout": 300}
        draft.check.append("smoke test: runs the command as it is (its length option is already small)")
        return
    if draft.short_flags:  # the run leaves the length to the script; its smoke test gives a short one
        flag, value = draft.short_flags[0]
        data["smoke"] = {"command": command_text([*draft.command, flag, str(value)]), "timeout": 300}
        draft.guessed.append(
            f"smoke test: the command with {flag} {value} (smoke.command); the run itself leaves {flag} "
            "to the script"
        )
        return
    data["smoke"] = {"probe": True, "timeout": PROBE_SECONDS}
    draft.check.append(
        "smoke test: no option makes a run short (epochs, max_steps, num_batches...), so it runs the command "
        f"for {PROBE_SECONDS} s and passes if it has not failed; set smoke.params instead when you can"
    )


def _resources(
    info: ScriptInfo | None, request: InitRequest, found: Survey, draft: _Draft, params: dict[str, Any]
) -> dict[str, Any]:
    told = draft.sbatch.resources if draft.sbatch is not None else {}
    resources = dict(STARTER_RESOURCES) | told
    workers = next(
        (v for k, v in params.items() if k in ("num_workers", "workers") and isinstance(v, int)), None
    )
    if (
        isinstance(workers, int)
        and workers > 0
        and not isinstance(workers, bool)
        and "cpus_per_task" not in told
    ):
        resources["cpus_per_task"] = workers + 1
        draft.guessed.append(f"cpus_per_task: {workers + 1} (num_workers + 1)")
    jobs = params.get("n_jobs")  # joblib's (scikit-learn's): processes, or -1 for one per CPU it sees
    if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs > 0 and "cpus_per_task" not in told:
        resources["cpus_per_task"] = max(resources["cpus_per_task"], jobs)
        draft.guessed.append(f"cpus_per_task: {resources['cpus_per_task']} (n_jobs={jobs})")
    elif isinstance(jobs, int) and not isinstance(jobs, bool) and jobs < 0:
        draft.check.append(
            f"n_jobs={jobs} starts a worker for each CPU the job sees, and a job sees the CPUs it asks for "
            "(resources.cpus_per_task) where the cluster confines it, every CPU of its node where not: "
            "set the two together, e.g. params.n_jobs=4 resources.cpus_per_task=4"
        )
    if info is not None and info.mentions_cuda and "gpus" not in told and "gpus_per_task" not in told:
        resources["gpus"] = 1
        draft.guessed.append(f"gpus: 1 ({info.path.name} uses CUDA)")
    if request.cluster:
        draft.guessed.append(f"resources: the defaults of the cluster profile {request.cluster!r}")
        return told | {
            k: v
            for k, v in resources.items()
            if k in ("gpus", "cpus_per_task") and v != STARTER_RESOURCES.get(k)
        }
    _fit(resources, draft)
    if told:
        rest = [f"{k} {v}" for k, v in STARTER_RESOURCES.items() if k not in told]
        draft.check.append(
            f"resources: from {draft.sbatch.label if draft.sbatch else 'the sbatch script'}"
            + (f"; starter values for the rest ({', '.join(rest)})" if rest else "")
            + "; the first run's summary says what it used"
        )
        return resources
    hint = (
        f" (profiles here: {', '.join(found.profiles)}; init --cluster NAME uses one)"
        if found.profiles
        else ""
    )
    draft.check.append(
        f"resources: starter values time {resources['time']}, mem {resources['mem']}, "
        f"{resources['cpus_per_task']} CPU(s), {resources['gpus']} GPU(s){hint}; the first run's summary "
        "says what it used"
    )
    return resources


#: Variables the scheduler, the launcher or the system sets in every job: never the user's to record.
SET_FOR_THE_JOB = frozenset(
    {
        "RANK",
        "LOCAL_RANK",
        "WORLD_SIZE",
        "LOCAL_WORLD_SIZE",
        "NODE_RANK",
        "GROUP_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
        "CUDA_VISIBLE_DEVICES",
        "OMP_NUM_THREADS",
        "HOME",
        "USER",
        "LOGNAME",
        "PATH",
        "PWD",
        "HOSTNAME",
        "TMPDIR",
        "SHELL",
        "LANG",
        "TERM",
        "PYTHONPATH",
    }
)
#: an environment variable that carries a seed: SEED, RANDOM_SEED, GLOBAL_SEED (not PYTHONHASHSEED)
_SEED_VARIABLE = re.compile(r"(?:^|_)SEED$")
SET_PREFIXES = ("CLUSTERRUN_", "SLURM_", "SUBMITIT_", "TORCHELASTIC_", "PMI_", "OMPI_")


def _seed_variables(info: ScriptInfo | None) -> list[str]:
    """The seed-named environment variables the script reads and this shell does not set: init sets
    each to the run's seed (env: {SEED: '{seed}'}), so the seed reaches the script."""
    reads = info.env_reads if info is not None else []
    return [name for name in reads if _SEED_VARIABLE.search(name) and name not in os.environ]


def _environment(info: ScriptInfo | None, draft: _Draft) -> None:
    """Environment variables the script reads (by a literal name): a job inherits them from the shell
    that submits it, so a run worked today and its reproduction, from another shell, does not. Each one
    set in this shell goes under env: (recorded in every manifest, set for the job and its reproduction);
    one that looks secret stays out of every record, and one not set here is named to check."""
    for name in info.env_reads if info is not None else []:
        if name in draft.env or name in SET_FOR_THE_JOB or name.startswith(SET_PREFIXES):
            continue
        value = os.environ.get(name)
        default = info.env_defaults.get(name) if info is not None else None
        if name in _seed_variables(info) and draft.seed is None:
            draft.env[name] = "{seed}"
            draft.guessed.append(
                f"env: {name}: '{{seed}}' (the script reads its seed from ${name}: each run's own seed, "
                "recorded, and the same again in its reproduction)"
            )
            continue
        if value is None and is_output_name(name):
            if default is not None and relative_path(default) is not None:
                continue  # relative: each run writes its own (<run>/work/...), nothing to set
            draft.env[name] = "outputs"
            shared = f"; its default {default!r} would be shared by every run" if default else ""
            draft.guessed.append(
                f"env: {name}: outputs (where the script writes{shared}: relative, each run writes its "
                f"own {draft.work}/outputs/, listed as its artifacts)"
            )
            continue
        if value is None and default is not None and relative_path(default) is not None:
            continue  # the script's own relative default: read from the run's working directory (data:)
        if is_secret_name(name) or (value is not None and secret_in_value(value)):
            draft.check.append(
                f"${name}: read by the script and secret-looking, so left out of the config (records are "
                "never given secrets): a job inherits it from the shell that submits, so export it there"
            )
        elif value is None:
            draft.check.append(
                f"${name}: read by the script and not set in this shell: set it under env: if the job "
                "needs it"
            )
        elif "{" in value or "}" in value or "\n" in value or len(value) > 500:
            draft.check.append(
                f"${name}: read by the script; set here to a value init cannot write: add it under env:"
            )
        else:
            draft.env[name] = value
            draft.guessed.append(
                f"env: {name}: {value} (read by the script, and set in this shell: a job would inherit it "
                "from whichever shell submits it; recorded here, every run and its reproduction get it)"
            )
            if is_output_name(name) and os.path.isabs(value):
                draft.check.append(
                    f"${name} = {value!r} is where the script writes, and every run would write that one "
                    f"directory (each overwriting the others' files): env: {{{name}: outputs}} gives each "
                    "run its own"
                )


def _untracked_data(root: Path, info: ScriptInfo | None, draft: _Draft) -> dict[str, str]:
    """`data:` entries for the files the script reads (a reader's path literal, or a param's value) that
    exist in the checkout but are not tracked by git: a run's snapshot would not have them, and its
    first submit would fail with FileNotFoundError. Named under data:, each is linked into every run's
    working directory and fingerprinted. A param named for where the script writes (`output_dir`:
    inputs/outputnames.py) is never data: linked, every run would write into the one directory of the
    checkout; as a relative param, each run writes its own."""
    written = _output_params(draft)
    defaults = [  # an environment variable not set here: the script reads its default
        value
        for name, value in (info.env_defaults.items() if info is not None else [])
        if name not in draft.env and name not in os.environ and not is_output_name(name)
    ]
    values = [*(info.read_paths if info is not None else []), *draft.params.values(), *defaults]
    found: list[str] = []
    for value in values:
        rel = relative_path(value) if isinstance(value, str) else None
        if rel and rel not in found and rel not in written and os.path.lexists(root / rel):
            found.append(rel)
    out: dict[str, str] = {}
    for rel in untracked_of(root, found):
        key = suggest_key(rel)
        while key in out:
            key += "_"
        out[key] = rel
        shown = f"{rel}/" if (root / rel).is_dir() else rel
        draft.guessed.append(
            f"data.{key} = {shown} (read by the command, and not tracked by git: a run's snapshot holds "
            "tracked files only; named under data:, it is linked into each run's working directory)"
        )
    return out


def _output_params(draft: _Draft) -> set[str]:
    """The relative paths of the params that say where the script writes (inputs/outputnames.py), each
    named in what init says: relative, a run's own; absolute, shared by every run."""
    written: set[str] = set()
    for name, value in draft.params.items():
        if not (isinstance(value, str) and value and is_output_name(name)):
            continue
        rel = relative_path(value)
        if rel is not None:
            written.add(rel)
            draft.guessed.append(
                f"{name} = {value!r} is where the script writes: relative, so each run writes its own "
                f"({draft.work}/{rel}/, listed as its artifacts)"
            )
        elif os.path.isabs(value) and PurePosixPath(value).name not in ("", ".", ".."):
            # the script's absolute default would be every run's (and smoke test's) one directory
            rel = PurePosixPath(value).name
            draft.params[name] = rel
            written.add(rel)
            draft.guessed.append(
                f"{name} = {rel!r}, not the script's {value!r}: there every run, smoke test and sweep "
                f"member would write one directory; relative, each run writes its own ({draft.work}/{rel}/, "
                "listed as its artifacts)"
            )
    return written


def _fit(resources: dict[str, Any], draft: _Draft) -> None:
    """Bring the starter resources within what the default backend can ever run (its preflight: for
    SLURM, the largest node of the default partition), so that the config's first submit is not
    refused; said among the guesses. Nothing when the backend cannot say (no preflight, an error); a
    controller that does not answer within FIT_SECONDS (sinfo waits about 9 s for a down one) is said,
    and init goes on: submit checks again."""
    found: dict[str, Any] = {}
    asked = dict(resources)  # the thread's own copy: it may outlive this call

    def check() -> None:
        try:
            scheduler = get_scheduler(AUTO)
            found["name"] = scheduler.name
            preflight = getattr(scheduler, "preflight", None)
            if preflight is not None:
                preflight(probe(Resources.model_validate(asked)))
        except DoesNotFit as exc:
            found["fixes"] = exc.fixes
        except (ClusterrunError, ValueError, OSError):
            return  # not checked here; submit checks again

    worker = threading.Thread(target=check, name="init-fit", daemon=True)
    worker.start()
    worker.join(FIT_SECONDS)
    if worker.is_alive():
        draft.check.append(
            f"resources: not checked against the cluster ({found.get('name', 'the scheduler')} did not "
            f"answer within {FIT_SECONDS:.0f} s); submit checks them"
        )
        return
    changed = []
    for fix in found.get("fixes", ()):
        key, _, value = fix.removeprefix("resources.").partition("=")
        if key in resources and value:
            new = int(value) if isinstance(resources[key], int) and value.isdigit() else value
            changed.append(f"{key}: {new} (not {resources[key]})")
            resources[key] = new
    if changed:
        draft.guessed.append(
            f"resources fitted to the largest node {found['name']} offers: {', '.join(changed)}"
        )


def _config(
    entry: Entry, request: InitRequest, found: Survey, folder: str = "."
) -> tuple[dict[str, Any], _Draft]:
    """The config's data, and what was guessed; `folder`: the repository's folder the command runs in."""
    info = read_script(entry.python) if entry.python is not None else None
    if info is not None and info.error:
        raise UsageError(
            f"cannot read {entry.python}: {info.error}", hint="fix the script, or choose another with --entry"
        )
    draft = _draft(entry, info, folder, found.root)
    draft.check += entry.notes
    if entry.kind == "python" and info is not None and not info.main_guard and info.framework != "":
        draft.check.append(
            f'{entry.label} has no `if __name__ == "__main__":`: check that the command runs it'
        )
    name = request.name or _default_name(entry)
    if info is not None:
        _from_sbatch(sbatch.find(found.root, info.path), draft, name)
    data: dict[str, Any] = {
        "name": name,
        "description": f"Starter config written by clusterrun init from {entry.label}; check it.",
        "command": command_text(draft.command),
    }
    if folder != ".":  # a project in a folder of the repository: its command runs there
        data["cwd"] = folder
        draft.guessed.insert(
            0,
            f"cwd: {folder} (the project folder init read, where you ran it or above: the command runs "
            "there, in the run's own copy of the code, and its relative paths mean what they mean there)",
        )
    if draft.params:
        data["params"] = draft.params
    if draft.seed is not None:
        data["seed"] = draft.seed
    if draft.config_file is not None:
        data["config_file"] = draft.config_file
    if info is not None and uses_lightning_trainer(info):
        data["requeue"] = {"signal": "USR1"}
        draft.guessed.append(
            "requeue.signal: USR1: Lightning's SLURM auto-requeue saves a checkpoint (hpc_ckpt) and requeues "
            "the job on SIGUSR1, and the next attempt resumes from it; add timeout to requeue.on for a run "
            "longer than its time limit"
        )
    if draft.sbatch is not None and draft.sbatch.setup:
        data["setup"], hook = sbatch.with_conda_hook(draft.sbatch.setup)
        if hook:
            draft.guessed.append(
                f"setup: {hook} before conda activate (a job's shell is not a login shell, which set "
                f"conda up for {draft.sbatch.label})"
            )
    _environment(info, draft)
    if draft.env:
        data["env"] = draft.env
    _smoke(draft, data)
    untracked = _untracked_data(found.root, info, draft)
    if untracked:
        data["data"] = untracked
    found_metrics = _metrics(info, draft)
    events = _tensorboard(info, draft) or _lightning_logs(info, draft)
    if events:
        data["metrics"] = {"file": events}
    if found_metrics:
        data.setdefault("metrics", {})["patterns"] = found_metrics
        timing = timing_names(found_metrics)
        if timing:  # a time differs between identical runs: reproduce and compare leave it out
            data["metrics"]["ignore"] = timing
            draft.guessed.append(
                f"metrics.ignore: {', '.join(timing)} (a time: it differs between identical runs, so "
                "reproduce does not compare it)"
            )
    if request.cluster:
        data["cluster"] = request.cluster
    resources = _resources(info, request, found, draft, draft.params)
    if resources:
        data["resources"] = resources
    return data, draft


def _from_sbatch(found: sbatch.Sbatch | None, draft: _Draft, name: str) -> None:
    """How the project runs the entry point on the cluster now (init/sbatch.py): the values its command
    passes become the params' (and the seed), its setup lines and resources the config's."""
    if found is None:
        return
    draft.sbatch = found
    _tokens, values, seed = template(found.command)
    changed = []
    for param, given in values.items():
        old = draft.params.get(param)
        if param not in draft.params:
            continue
        if type(old) is float and type(given) is int:
            given = float(given)  # (`--lr 1` for a float option)
        if type(old) is type(given):
            draft.params[param] = given
            changed.append(f"{param}={_shown(given)}")
    if seed is not None and draft.seed is not None:
        draft.seed = seed
        changed.append(f"seed {seed}")
    rel = found.label or found.path.name
    parts = [f"its resources ({found.shown_resources})" if found.resources else ""]
    parts.append(
        f"its setup ({len(found.setup)} line{'s' if len(found.setup) != 1 else ''})" if found.setup else ""
    )
    parts.append(f"the values its command passes ({', '.join(changed)})" if changed else "")
    said = ", ".join(p for p in parts if p) or "nothing this config can use"
    draft.guessed.append(f"{rel} runs it on the cluster now: from it, {said}")
    if found.left:
        draft.check.append(f"left out of {rel}: {'; '.join(found.left)}")
    swept = found.array_sweep()
    if swept is not None:
        flag, indices = swept
        option = flag.lstrip("-").replace("-", "_")
        key = "seed" if option in guess.SEED_OPTIONS else f"params.{option}"
        draft.check.append(
            f"{rel} is an array job (--array={found.array}) that passes $SLURM_ARRAY_TASK_ID as {flag}: a "
            f"sweep runs the same, each run recorded: clusterrun submit configs/{name}.yaml --sweep "
            f"{key}={indices}"
        )


def _default_name(entry: Entry) -> str:
    base = entry.target or Path(entry.label.removeprefix("pyproject script ")).stem
    if entry.label.startswith("python -m ") and len(entry.command) > 2:  # python -m pkg.train: train
        base = entry.command[2].rsplit(".", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._")[:64]
    return name if name and _NAME_OK.fullmatch(name) else "experiment"


def _others(found: Survey, chosen: Entry, settings: str | None = None) -> list[str]:
    """The other entry points and the configs found; `settings`: the config_file the config names (the
    project's own settings file: not another config to mention)."""
    out = [f"{e.label} (clusterrun init --entry '{e.label}')" for e in found.entries if e is not chosen]
    for path in found.configs:
        rel = path.relative_to(found.root)
        if settings is not None and rel.as_posix() == settings:
            continue
        try:
            raw = load_yaml(path) if path.suffix != ".json" else {}
        except ClusterrunError:
            raw = {}
        if isinstance(raw, dict) and "name" in raw and "command" in raw:
            out.append(f"{rel}: already a clusterrun config (clusterrun submit {rel})")
        else:
            out.append(
                f"{rel}: an existing config of the project (not clusterrun's); pass it to the script as "
                "a param if it reads one"
            )
    return out


def _places() -> list[str]:
    """Where other Python scripts are looked for (init/repo.py's SCRIPT_DIRS), as a user reads them."""
    return ["the top folder" if d == "." else f"{d}/" for d in SCRIPT_DIRS]


def init(request: InitRequest) -> InitReport:
    """Survey the repository, draft a config for its best entry point, check it loads, write it."""
    cwd = (request.cwd or Path.cwd()).resolve()
    root = git_root(cwd) or cwd
    found = _project(cwd, root.resolve(), request.entry)
    if request.entry:
        entry = find_entry(found, request.entry)
        if entry is None:
            listed = ", ".join(e.label for e in found.entries) or "none found"
            raise UsageError(
                f"entry point {request.entry!r}: no such file, make target or pyproject script",
                hint=f"entry points found: {listed}",
            )
    elif found.entries:
        entry = found.entries[0]
    else:
        below = _projects_below(found.root)
        hint = "name yours: clusterrun init PATH, or run a command directly: "
        hint += "clusterrun submit -- python x.py ..."
        if below:  # a monorepo's top: its projects are in folders
            shown = ", ".join(below[:3]) + (" ..." if len(below) > 3 else "")
            first = below[0].rsplit("/", 1)[0]
            hint = f"projects in folders: {shown}; run init in one (cd {first} && clusterrun init)"
        raise UsageError(
            f"no entry point found in {found.root} (looked for scripts/train.sh, train.py, main.py, Makefile "
            "targets, pyproject scripts, and Python files with an `if __name__ == '__main__'` block or "
            f"options parsed at their top level in {', '.join(_places())})",
            hint=hint,
        )
    folder = repo_folder(found.root)
    data, draft = _config(entry, request, found, folder)
    path = request.out or found.root / "configs" / f"{data['name']}.yaml"
    header = [
        f"Starter config written by `clusterrun init` from {entry.label}.",
        "Check every value; then: clusterrun submit " + _relative(path, cwd) + " --dry-run",
    ]
    text = dump_config(data, header)
    try:
        spec_from_data(yaml_load(text), str(path))
    except ConfigError as exc:  # a bug in the guesses: say what, write nothing
        raise ClusterrunError(
            f"the drafted config does not load: {exc.message}", hint="please report it"
        ) from None
    others = _others(found, entry, (draft.config_file or {}).get("path"))
    report = InitReport(path, text, entry.label, draft.guessed, draft.check, found.looked_at, others)
    if request.dry_run:
        return report
    if path.exists() and not request.force:
        raise UsageError(
            f"{_relative(path, cwd)} exists: not overwritten",
            hint="pass --force to replace it, or --name OTHER (or --out PATH) to write another",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    report.written = True
    return report


def _project(cwd: Path, top: Path, entry: str | None) -> Survey:
    """The folder whose entry points init looks at: the one it runs in, or the nearest above it, when
    that is a folder of the repository (a project of a monorepo) with an entry point (or the one asked
    for); else the top."""
    folder = cwd
    while folder != top and folder.is_relative_to(top):  # from the folder up (projects/vision/configs/)
        found = survey(folder)
        if find_entry(found, entry) is not None if entry else found.entries:
            shared = top / "configs" / "clusters"  # the site's profiles at the top serve every project
            names = {p.stem for p in shared.glob("*.yaml")} if shared.is_dir() else set()
            found.profiles += sorted(names - set(found.profiles))
            return found
        folder = folder.parent
    return survey(top)


def _projects_below(root: Path) -> list[str]:
    """The usual run scripts (repo.SCRIPTS) in folders one or two levels below `root`: a monorepo's
    projects (projects/vision/train.py), for a hint; hidden folders and the registry left out."""
    found: list[str] = []
    for pattern in ("*/", "*/*/"):
        for name in SCRIPTS:
            for path in sorted(root.glob(pattern + name)):
                rel = path.relative_to(root).as_posix()
                if not any(part.startswith(".") or part == "runs" for part in rel.split("/")[:-1]):
                    found.append(rel)
        if found:
            break
    return found


def _relative(path: Path, cwd: Path) -> str:
    try:
        return str(path.resolve().relative_to(cwd))
    except ValueError:
        return str(path)
