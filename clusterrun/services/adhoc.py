"""Ad-hoc runs: `clusterrun submit -- python train.py --lr 0.1 --epochs 3`, no config file.

The command becomes a config, as a person would write it: every `--key value` (or `--key=value`) after
the script is a param (`--lr {lr}`, params: {lr: 0.1}), so compare and `status --where` see it; `--seed N`
is the run's seed; a `@hydra.main` script's overrides (`trainer.epochs=5`) are params too, and its
config's `seed` the run's seed; the name is the script's (`train`). Resources come from flags or the
cluster profile; the smoke test from `--smoke epochs=1` (smoke params), `--smoke-args '...'` (the
smoke test's own arguments), or else a probe: the command runs for SMOKE_PROBE_SECONDS and passes if
it has not failed.

The config is written as a file and submitted like any other: to `--save PATH` (a config that
reproduces the run), else to `<registry>/.adhoc/<name>-<digest>.yaml` (recorded as the run's config_file).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterrun.analysis.metrics import timing_names
from clusterrun.config.models import DEFAULT_SEED, ExperimentSpec, spec_from_data
from clusterrun.config.overrides import apply_overrides
from clusterrun.config.placeholders import BUILTIN_PLACEHOLDERS
from clusterrun.config.yaml12 import load_yaml, yaml_load
from clusterrun.errors import ConfigError, UsageError
from clusterrun.init import guess, hydra, sbatch, settings
from clusterrun.init.metrics import patterns, wandb_patterns
from clusterrun.init.pysource import ScriptInfo, read_script
from clusterrun.init.repo import module_file
from clusterrun.records.jsonio import write_text_atomic
from clusterrun.records.registry import ADHOC_DIR, Registry, repo_folder

SMOKE_PROBE_SECONDS = 30  # an ad-hoc run without --smoke/--smoke-args: run this long, pass if no failure
SOURCE = "the command after --"
_PROGRAMS = (".py", ".sh", ".bash")
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PARAM_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NEGATIVE = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass
class AdhocRequest:
    argv: list[str]
    name: str | None = None
    smoke: list[str] = field(default_factory=list)  # --smoke 'epochs=1' (repeatable, comma-separated)
    smoke_args: str | None = None  # --smoke-args '--epochs 1 --limit 2'
    smoke_timeout: int | None = None
    resources: dict[str, Any] = field(default_factory=dict)  # from --time --mem --gpus --cpus --partition
    cluster: str | None = None
    overrides: list[str] = field(default_factory=list)  # KEY=VALUE before `--`
    save: Path | None = None  # --save configs/NAME.yaml
    cwd: Path | None = None


@dataclass
class Adhoc:
    """The config made from the command, where it was written, and what the user should know."""

    data: dict[str, Any]
    path: Path
    spec: ExperimentSpec
    notes: list[str] = field(default_factory=list)


def _escape(token: str) -> str:
    """A literal command token inside the argv template: braces doubled."""
    return token.replace("{", "{{").replace("}", "}}")


def value_of(text: str) -> Any:
    """'0.1' -> 0.1, '3' -> 3; anything that would not print back as the same text stays a string, so
    the command runs exactly as typed ('1e-3', '007', 'True' stay text)."""
    if re.fullmatch(r"-?\d+", text) and str(int(text)) == text:
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if repr(number) == text and "." in text else text


def program_end(argv: list[str]) -> int:
    """Index just after the program: the script (`train.py`, `run.sh`), or `-m module`; 1 otherwise."""
    for index, token in enumerate(argv):
        if index and argv[index - 1] == "-m" and index >= 1:
            return index + 1
        if token.endswith(_PROGRAMS) and not token.startswith("-"):
            return index + 1
    return 1


def name_of(argv: list[str]) -> str:
    """The script's name (`python src/train.py` -> train, `python -m pkg.fit` -> fit), else the program's."""
    end = program_end(argv)
    token = argv[end - 1]
    if end > 1 and argv[end - 2] == "-m":
        stem = token.rsplit(".", 1)[-1]
    else:
        stem = Path(token).stem if token.endswith(_PROGRAMS) else Path(token).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:64]
    return name if name and _NAME_OK.fullmatch(name) else "run"


#: a Hydra override that is a param: `optimizer.lr=0.1`, `optimizer=adam` (a group's choice), `db/x=y`;
#: not `+new=1`, `~key`, `hydra.run.dir=...`, nor a sweep (`lr=0.1,0.01`), list, interpolation or glob
_HYDRA_OVERRIDE = re.compile(r"([A-Za-z_]\w*(?:[./][A-Za-z_]\w*)*)=([^\s,'\"\\\[\]{}()$*=]+)")


def _hydra_override(token: str) -> tuple[str, str] | None:
    """(key, value) of a Hydra override that can be a param, else None."""
    match = _HYDRA_OVERRIDE.fullmatch(token)
    if match is None or match.group(1).split(".")[0].split("/")[0] == "hydra":
        return None
    return match.group(1), match.group(2)


def _param_names(argv: list[str], start: int, hydra: bool = False) -> dict[str, str]:
    """Option key -> param name for dotted keys (LightningCLI's, jsonargparse's `--trainer.max_epochs`,
    with `hydra` a Hydra override's `trainer.max_epochs=3`): the last part when no other key ends so
    (max_epochs), else the key with underscores (model_lr beside optimizer_lr)."""
    keys = [t[2:].partition("=")[0].replace("-", "_") for t in argv[start:] if t.startswith("--")]
    if hydra:
        keys += [found[0] for t in argv[start:] if (found := _hydra_override(t)) is not None]
    lasts = [re.split(r"[./]", key)[-1] for key in keys]
    return {
        key: last if lasts.count(last) == 1 else re.sub(r"[./]", "_", key)
        for key, last in zip(keys, lasts, strict=True)
        if "." in key or "/" in key
    }


def template(argv: list[str], hydra: bool = False) -> tuple[list[str], dict[str, Any], int | None]:
    """The argv as a template: `--key value` and `--key=value` after the program are params (a `--seed`
    or `--seed_everything` is the seed; a dotted `--trainer.max_epochs 3` is the param max_epochs);
    with `hydra` (a `@hydra.main` script), so are its overrides (`trainer.max_epochs=3`, `seed=0`);
    options without a value, short options and positionals stay as typed."""
    start = program_end(argv)
    names = _param_names(argv, start, hydra)
    tokens = [_escape(t) for t in argv[:start]]
    params: dict[str, Any] = {}
    seed: int | None = None
    i = start
    while i < len(argv):
        token = argv[i]
        override = _hydra_override(token) if hydra else None
        if override is not None:
            key, raw = override
            name = names.get(key, key)
            if name in guess.SEED_OPTIONS and re.fullmatch(r"\d+", raw) and seed is None:
                seed, slot = int(raw), "{seed}"
            elif _PARAM_OK.fullmatch(name) and name not in params and name not in BUILTIN_PLACEHOLDERS:
                params[name], slot = value_of(raw), f"{{{name}}}"
            else:
                slot = _escape(raw)
            tokens.append(f"{key}={slot}")
            i += 1
            continue
        if not token.startswith("--") or token == "--":
            tokens.append(_escape(token))
            i += 1
            continue
        flag, eq, inline = token.partition("=")
        has_next = i + 1 < len(argv) and (not argv[i + 1].startswith("-") or _NEGATIVE.fullmatch(argv[i + 1]))
        if not eq and not has_next:
            tokens.append(_escape(token))  # a flag without a value
            i += 1
            continue
        raw = inline if eq else argv[i + 1]
        key = flag[2:].replace("-", "_")
        key = names.get(key, key)
        if key in guess.SEED_OPTIONS and re.fullmatch(r"\d+", raw) and seed is None:
            seed, slot = int(raw), "{seed}"
        elif _PARAM_OK.fullmatch(key) and key not in params and key not in BUILTIN_PLACEHOLDERS:
            params[key], slot = value_of(raw), f"{{{key}}}"
        else:  # not a name a placeholder can have, or given twice: kept as typed
            slot = _escape(raw)
        tokens += [f"{_escape(flag)}={slot}"] if eq else [_escape(flag), slot]
        i += 1 if eq else 2
    return tokens, params, seed


def _smoke_params(items: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """--smoke 'epochs=1,steps=5' -> {'epochs': 1, 'steps': 5}; each key must be one of the params."""
    out: dict[str, Any] = {}
    for item in (part.strip() for text in items for part in text.split(",")):
        if not item:
            continue
        key, eq, raw = item.partition("=")
        key = key.strip().removeprefix("params.").removeprefix("--").replace("-", "_")
        if not eq or not key:
            raise UsageError(f"--smoke {item!r} is not KEY=VALUE", hint="e.g. --smoke epochs=1")
        if key not in params:
            known = ", ".join(f"--{k.replace('_', '-')}" for k in params) or "(none)"
            raise UsageError(
                f"--smoke {item}: the command has no --{key.replace('_', '-')} option; its options: {known}",
                hint="name one of them, or give the smoke test its own arguments with --smoke-args '...'",
            )
        out[key] = value_of(raw.strip())
    return out


def command_text(tokens: list[str]) -> str | list[str]:
    """The argv template as one line, quoted only where a shell would need it ({placeholders} bare); the
    list itself when a line would not split back into the same tokens."""
    line = " ".join(t if re.fullmatch(r"[\w@%+=:,./{}-]+", t) else shlex.quote(t) for t in tokens)
    return line if shlex.split(line) == tokens else list(tokens)


def _smoke_example(argv: list[str], params: dict[str, Any]) -> str:
    """How this command's run is made short: its own length param (`--smoke max_epochs=1`), Lightning's
    one-batch run for a LightningCLI command (dotted `--trainer.` options), else an example."""
    short = guess.smoke_params(params)
    lightning = any(word.startswith("--trainer.") for word in argv)
    options = []
    if short:
        name, value = next(iter(short.items()))
        options.append(f"--smoke {name}={value}")
    if lightning:  # --smoke-args gives the whole of the smoke test's options: these, and one batch
        smoke_args = shlex.join([*argv[program_end(argv) :], "--trainer.fast_dev_run", "true"])
        options.append(f"--smoke-args {shlex.quote(smoke_args)} (Lightning's one batch)")
    if not options:
        return "e.g. --smoke epochs=1 (a param) or --smoke-args '--epochs 1'"
    return " or ".join(options)


def config_data(request: AdhocRequest) -> tuple[dict[str, Any], list[str]]:
    """The config the command stands for, as a file would hold it, and notes for the user."""
    argv = request.argv
    if not argv:
        raise UsageError("nothing after --", hint="e.g. clusterrun submit -- python train.py --lr 0.1")
    if request.smoke and request.smoke_args is not None:
        raise UsageError("--smoke and --smoke-args both say how to make the run short", hint="give one")
    cwd = request.cwd or Path.cwd()
    _not_a_batch_job(argv, cwd)
    script = _script(argv, cwd)
    # a Hydra script's primary config, read once (its seed, where it runs)
    hydra_config = hydra.params(script.path, script.hydra) if script and script.hydra else None
    tokens, params, seed = template(argv, hydra=hydra_config is not None)
    notes: list[str] = []
    if hydra_config is not None and seed is None:
        seed = _hydra_seed(hydra_config, tokens, notes)
    elif script is not None and seed is None:
        seed = _option_seed(script, tokens, notes)
    own = _settings_file(argv, tokens, params, seed, cwd)
    if own is not None:
        seed = own.seed if own.seed is not None else seed
        secret = f"; left out, as they look like secrets: {', '.join(own.secrets[:4])}" if own.secrets else ""
        notes.append(
            f"{own.path} is the script's settings file: each run gets its own copy of it with its settings "
            f"written in from params ({own.shown()}): override or sweep them (e.g. params.NAME=...){secret}"
        )
    data: dict[str, Any] = {"name": request.name or name_of(argv), "command": command_text(tokens)}
    where = repo_folder(cwd)
    if where != ".":  # typed in a folder of the repository: the command runs in that folder
        data["cwd"] = where
    if params:
        data["params"] = params
    if seed is not None:
        data["seed"] = seed
    if own is not None:
        data["config_file"] = own.config_file
    smoke: dict[str, Any] = {}
    if request.smoke:
        smoke["params"] = _smoke_params(request.smoke, params)
    elif request.smoke_args is not None:
        try:
            extra = shlex.split(request.smoke_args)
        except ValueError as exc:
            raise UsageError(f"--smoke-args: {exc}", hint="quote it like a shell command line") from None
        smoke["command"] = [_escape(t) for t in argv[: program_end(argv)]] + [_escape(t) for t in extra]
    else:
        smoke["probe"] = True
        notes.append(
            f"no --smoke or --smoke-args: the smoke test runs the command for up to "
            f"{request.smoke_timeout or SMOKE_PROBE_SECONDS} s and passes if it has not failed by then; to "
            f"test a short run instead, pass {_smoke_example(argv, params)}"
        )
    if request.smoke_timeout is not None or smoke.get("probe"):
        smoke["timeout"] = request.smoke_timeout or SMOKE_PROBE_SECONDS
    data["smoke"] = smoke
    steps = guess.timed_param(params, smoke.get("params", {}))
    if steps:
        data["estimate"] = {"steps_param": steps}
    if request.resources:
        data["resources"] = dict(request.resources)
    if request.cluster:
        data["cluster"] = request.cluster
    found = patterns(script.printed) if script is not None else {}
    if found:
        data["metrics"] = {"patterns": found}
        notes.append(f"metrics from the script's prints: {', '.join(found)} (metrics.patterns)")
    runs_in = hydra_config.runs_in if hydra_config is not None else None
    if script is not None and script.tensorboard and runs_in != "":  # a SummaryWriter's folder's scalars
        # (in Hydra's output folder, outputs/<date>/<time>/, when it runs the job there: found below)
        folder = "/".join(
            part for part in ("work", data.get("cwd", ""), runs_in or script.tensorboard) if part
        )
        data.setdefault("metrics", {})["file"] = folder
        notes.append(f"metrics from the TensorBoard event files the script writes to {folder} (metrics.file)")
    elif script is not None and script.wandb_keys:
        logged = wandb_patterns(script.wandb_keys, found)
        if logged:
            data.setdefault("metrics", {}).setdefault("patterns", {}).update(logged)
            found |= logged
            notes.append(
                f"metrics from the run summary wandb prints as the run finishes: {', '.join(logged)} "
                "(metrics.patterns)"
            )
    timing = timing_names(found)
    if timing:  # a time differs between identical runs: reproduce and compare leave it out
        data["metrics"]["ignore"] = timing
    if request.overrides:
        data = apply_overrides(data, request.overrides, SOURCE, ExperimentSpec)
    return data, notes


def _settings_file(
    argv: list[str], tokens: list[str], params: dict[str, Any], seed: int | None, cwd: Path
) -> settings.Settings | None:
    """A `--config FILE` of the command that names a YAML or JSON settings file (init/settings.py): its
    token becomes {config_file} and its param gives way to the file's settings (in `tokens` and
    `params`, in place). None when there is none (a LightningCLI command's config is not one: its
    dotted options reach its settings already)."""
    if any(word.startswith("--trainer.") for word in argv):
        return None
    for key, value in list(params.items()):
        if not guess.CONFIG_OPTION.fullmatch(key) or not isinstance(value, str):
            continue
        others = set(params) - {key}
        found = settings.from_file(cwd, value, others, seed is not None)
        if found is None or f"{{{key}}}" not in tokens:
            continue
        tokens[tokens.index(f"{{{key}}}")] = "{config_file}"
        del params[key]
        params.update(found.params)
        return found
    return None


#: programs that ask SLURM for a job or a step themselves: clusterrun is what submits the job
SCHEDULER_PROGRAMS = ("sbatch", "srun", "salloc")


def _not_a_batch_job(argv: list[str], cwd: Path) -> None:
    """Refuse a command that submits a job of its own (`sbatch train.sbatch`: a job that submits another,
    which nothing tracks), asks for a step (`srun python train.py`), or runs a batch script (`bash
    train.sbatch`: its srun would start a step inside the job's own, its `cd $SLURM_SUBMIT_DIR` leave
    the run's copy of the code); say what to run instead."""
    program = Path(argv[0]).name
    scripts = [w for w in argv[:3] if w.endswith(sbatch.SUFFIXES) and (cwd / w).is_file()]
    read = sbatch.parse(cwd / scripts[0]) if scripts else None
    if read is not None:
        what = f"{scripts[0]} is a batch script (#SBATCH lines)"
        if program == "sbatch":
            what = f"sbatch submits {scripts[0]} as a job of its own, which nothing would track"
        its = (
            f", or submit its command: clusterrun submit -- {shlex.join(read.command)}"
            if read.command
            else ""
        )
        raise UsageError(
            f"{what}: clusterrun submits the job (its resources, setup and logs are the config's)",
            hint="clusterrun init reads the script into a config (its #SBATCH resources, setup and command)"
            + its,
        )
    if program in SCHEDULER_PROGRAMS:
        inner = shlex.join(sbatch.program(argv)) if program == "srun" else ""
        raise UsageError(
            f"{program} asks SLURM for a job or a step itself: clusterrun submits the job and runs its "
            "command under srun (resources.tasks_per_node for several processes)",
            hint=f"submit the program itself: clusterrun submit -- {inner or 'python train.py ...'}",
        )


def _script(argv: list[str], cwd: Path) -> ScriptInfo | None:
    """What the command's Python script (or module of the project, `-m pkg.train`) says of itself (its
    prints, options, `@hydra.main`), when it is one."""
    end = program_end(argv)
    script = argv[end - 1] if end > 1 else ""
    if end > 1 and argv[end - 2] == "-m":  # `python -m pkg.train`: the module's file in the project
        found = module_file(cwd, script, run=True)
        return read_script(found) if found is not None else None
    path = cwd / script
    if not script.endswith(".py") or not path.is_file():
        return None
    return read_script(path)


def _option_seed(script: ScriptInfo, tokens: list[str], notes: list[str]) -> int | None:
    """A script with a seed option the command does not give (`--seed`, default 1234): the option's
    default is the run's seed (DEFAULT_SEED when it has none: unseeded unless given), passed as
    `--seed {seed}` (in `tokens`, in place), so that what clusterrun records as the seed is what the
    script uses, and reproduce and `seed=` overrides reach it."""
    option = next(
        (
            o
            for o in script.options
            if o.name in guess.SEED_OPTIONS and o.flag.startswith("--") and not o.command and o.is_int_seed()
        ),
        None,
    )
    if option is None:
        return None
    value = option.default if option.has_default else DEFAULT_SEED
    tokens += [option.flag, "{seed}"]
    own = f"its default, {value}" if option.has_default else f"{DEFAULT_SEED}: it has no default"
    notes.append(f"{option.flag} is the run's seed ({own}), passed as {option.flag} {{seed}}")
    return int(value)


def _hydra_seed(found: hydra.HydraParams, tokens: list[str], notes: list[str]) -> int | None:
    """A Hydra script whose config (`found`) has a `seed` the command does not set: the config's seed is
    the run's seed, passed as `seed={seed}` (in `tokens`, in place), so that what clusterrun records as
    the seed is what the script uses (and reproduce and `seed=` overrides reach it)."""
    value = found.values.get("seed")
    if found.keys.get("seed") != "seed" or type(value) is not int:
        return None
    tokens.append("seed={seed}")
    notes.append(f"the Hydra config's seed ({value}) is the run's seed, passed as seed={{seed}}")
    return value


class _Dumper(yaml.SafeDumper):
    """Strings quoted whenever clusterrun's YAML 1.2 reader would read them back as something else."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    try:
        plain = value != "" and yaml_load(value) == value
    except (yaml.YAMLError, ValueError, ConfigError):
        plain = False
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else "'")


_Dumper.add_representer(str, _represent_str)


def dump_config(data: dict[str, Any], header: list[str]) -> str:
    """Config data as YAML (keys in the order given), with `# ` header lines; it reads back as `data`."""
    text = "".join(f"# {line}\n" for line in header)
    text += yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)
    if yaml_load(text) != data:  # never write a config that reads back as something else
        raise UsageError(
            "the config cannot be written as YAML that reads back the same", hint="write it by hand"
        )
    return text


def config_text(data: dict[str, Any], argv: list[str]) -> str:
    return dump_config(data, [f"written by clusterrun from: {shlex.join(argv)}"])


def make(request: AdhocRequest, registry: Registry) -> Adhoc:
    """Validate the command's config and write it (to --save, or into the registry); nothing runs."""
    data, notes = config_data(request)
    spec = spec_from_data(data, SOURCE)  # errors name the command, not a file the user never wrote
    text = config_text(data, request.argv)
    if request.save is not None:
        path = request.save
        if path.suffix not in (".yaml", ".yml"):
            raise UsageError(
                f"--save {path}: a config file ends in .yaml", hint=f"e.g. --save configs/{spec.name}.yaml"
            )
        if path.exists() and (not path.is_file() or _differs(path, data)):
            raise UsageError(
                f"--save {path}: the file exists and holds another config",
                hint="choose another name, or remove it first",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
        notes.append(f"saved the config as {path}: submit it again with clusterrun submit {path}")
    else:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        registry.ensure()  # its .gitignore first: the file never makes the tree dirty
        folder = registry.root / ADHOC_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{spec.name}-{digest}.yaml"
        if not path.exists():
            write_text_atomic(path, text)
    return Adhoc(data, path, spec, notes)


def _differs(path: Path, data: dict[str, Any]) -> bool:
    try:
        return load_yaml(path) != data
    except (ConfigError, OSError):
        return True
