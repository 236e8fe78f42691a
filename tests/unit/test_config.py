"""Experiment configs: loading, validation messages, overrides, command rendering and hashing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from clusterrun.config.experiment import load_spec
from clusterrun.config.models import DEFAULT_SEED, ExperimentSpec, closest_key, spec_from_data
from clusterrun.config.overrides import apply_overrides, parse_override, split_top_level
from clusterrun.config.render import render_command, render_env
from clusterrun.config.yaml12 import load_yaml
from clusterrun.errors import ConfigError, ExitStatus, UsageError

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "examples" / "quickstart.yaml"
CLUSTERS = REPO / "configs" / "clusters"  # cluster profiles, not experiments
ALL_CONFIGS = sorted(
    p
    for p in [*(REPO / "configs").rglob("*.yaml"), *(REPO / "configs").rglob("*.yml")]
    if CLUSTERS not in p.parents
)
ALL_PROFILES = sorted(CLUSTERS.glob("*.yaml"))

BASE: dict[str, Any] = {
    "name": "exp",
    "command": "python train.py --lr {lr} --seed {seed} --out {run_dir}",
    "params": {"lr": 0.1, "steps": 10},
}


def spec(**changes: Any) -> ExperimentSpec:
    data = {**BASE, **changes}
    return spec_from_data(data, "test.yaml")


def config_error(**changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        spec(**changes)
    return info.value.message


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ error types


def test_config_error_is_a_usage_error_with_exit_status_2() -> None:
    assert issubclass(ConfigError, UsageError)
    assert ConfigError("x").exit_status == ExitStatus.USAGE == 2
    assert UsageError("x").exit_status == 2


# ---------------------------------------------------------------------------------------- loading


def test_quickstart_loads_with_its_values() -> None:
    loaded = load_spec(QUICKSTART)
    assert loaded.name == "quickstart"
    assert loaded.params == {"lr": 0.1, "steps": 200, "batch_size": 32}
    assert loaded.seed == 42
    assert loaded.smoke.params == {"steps": 5}
    assert loaded.estimate.steps_param == "steps"
    assert loaded.smoke.timeout == 60
    assert loaded.resources.time == "00:05:00"
    assert loaded.resources.time_seconds == 300
    assert loaded.resources.mem == "500M"
    assert loaded.resources.mem_mb == 500
    assert loaded.env == {"OMP_NUM_THREADS": "1"}  # numbers become strings for the environment
    assert loaded.metrics.patterns == {"final_loss": "final loss=([0-9.eE+-]+)"}
    assert loaded.command[:2] == ["python", "examples/quickstart/train.py"]


def test_quickstart_renders_its_command() -> None:
    loaded = load_spec(QUICKSTART)
    argv = render_command(loaded, "/runs/x")
    assert argv == [
        "python",
        "examples/quickstart/train.py",
        "--lr",
        "0.1",
        "--steps",
        "200",
        "--batch-size",
        "32",
        "--seed",
        "42",
    ]
    smoke_argv = render_command(loaded, "/runs/x", smoke=True)
    assert smoke_argv[smoke_argv.index("--steps") + 1] == "5"


@pytest.mark.parametrize("path", ALL_PROFILES, ids=lambda p: p.name)
def test_every_shipped_cluster_profile_loads(path: Path) -> None:
    from clusterrun.config.profiles import apply_profile, load_profile

    profile = load_profile(path.stem, [CLUSTERS])
    merged = apply_profile(load_spec(QUICKSTART).resolved(), profile)
    assert merged["cluster"] == path.stem


def test_there_are_configs_to_check() -> None:
    assert ALL_PROFILES
    assert QUICKSTART in ALL_CONFIGS


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_config_loads(path: Path) -> None:
    loaded = load_spec(path)
    assert loaded.command
    render_command(loaded, "/runs/x")
    render_command(loaded, "/runs/x", smoke=True)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo hi\nparams:\n  lr: [1, 2\n  steps: 3\n", "broken.yaml")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = info.value.message
    assert "broken.yaml" in message
    assert "malformed YAML" in message
    assert "line 5" in message
    assert info.value.hint


def test_a_tab_indent_is_named_with_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo hi\nparams:\n\tlr: 0.1\n", "tabs.yaml")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert "tabs.yaml: malformed YAML (line 4, column 1): a tab character" in info.value.message
    assert info.value.hint == "indent with spaces instead of tabs (e.g. two spaces per level)"


def test_bad_indentation_reports_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\n  bad: indent\n", "indent.yaml")
    with pytest.raises(ConfigError, match=r"indent\.yaml.*line 3"):
        load_spec(path)


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "- name: exp\n- command: echo\n", "list.yaml")
    with pytest.raises(ConfigError, match=r"list\.yaml.*must be a mapping"):
        load_spec(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text, "empty.yaml")
    with pytest.raises(ConfigError, match=r"empty\.yaml.*empty"):
        load_spec(path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\ncommand: echo\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_yaml(path)


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\n")
    with pytest.raises(ConfigError, match="missing required key 'command'"):
        load_spec(path)


def test_a_misspelt_required_key_is_named_as_the_cause(tmp_path: Path) -> None:
    """`comand:` made 'command' missing, and the error said only that ('missing required key
    'command' (and 1 more problem)'): the misspelt key, with its did-you-mean, is what to fix."""
    path = write(tmp_path, "name: exp\ncomand: echo\n")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert "unknown key 'comand'" in info.value.message and "(and 1 more problem)" in info.value.message
    assert "did you mean 'command'?" in info.value.hint


def test_unknown_top_level_key_lists_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\nparmas: {lr: 1}\n")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = info.value.message
    assert "parmas" in message
    assert "valid keys" in message
    for key in ("params", "command", "resources", "seed"):
        assert key in message


def test_unknown_nested_key_lists_valid_keys_of_that_section(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\nresources:\n  memm: 4G\n")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = info.value.message
    assert "resources.memm" in message
    valid = message.split("valid keys here:", 1)[1]
    for key in ("mem", "time", "nodes", "cpus_per_task", "gpus"):
        assert key in valid
    assert "command" not in valid  # the keys of the section, not of the top level


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"resources": {"nodes": "two"}}, "resources.nodes"),
        ({"resources": {"nodes": 0}}, "resources.nodes"),
        ({"resources": {"gpus": -1}}, "resources.gpus"),
        ({"seed": -1}, "seed"),
        ({"seed": "abc"}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"smoke": {"timeout": 0}}, "smoke.timeout"),
        ({"name": "has space"}, "name"),
        ({"name": "../escape"}, "name"),
        ({"command": ""}, "command"),
        ({"command": 42}, "command"),
        ({"resources": {"partition": "gpu; rm -rf ~"}}, "resources.partition"),
        ({"metrics": {"file": "../../etc/passwd"}}, "metrics.file"),
        ({"metrics": {"patterns": {"loss": "loss=[0-9.]+"}}}, "metrics.patterns"),
        ({"metrics": {"patterns": {"loss": "loss=(["}}}, "metrics.patterns"),
    ],
)
def test_wrong_values_are_refused_naming_the_key(changes: dict[str, Any], where: str) -> None:
    assert where in config_error(**changes)


def test_mem_and_time_errors_name_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\nresources:\n  mem: lots\n")
    with pytest.raises(ConfigError, match=r"resources\.mem.*lots"):
        load_spec(path)
    path = write(tmp_path, 'name: exp\ncommand: echo\nresources:\n  time: "99:99"\n')
    with pytest.raises(ConfigError, match=r"resources\.time.*99:99"):
        load_spec(path)


def test_resources_are_normalised() -> None:
    loaded = spec(resources={"mem": "4096M", "time": 90})
    assert loaded.resources.mem == "4G"
    assert loaded.resources.time == "01:30:00"


# ----------------------------------------------------------------------------- injection guards


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"setup": ["module load cuda", "echo hi\nrm -rf ~"]}, "setup"),
        ({"env": {"FOO": "bar\nrm -rf ~"}}, "env"),
        ({"env": {"FOO": "bar\rbaz"}}, "env"),
        ({"params": {"lr": 0.1, "steps": 10, "tag": "a\nb"}}, "params"),
        ({"command": "python train.py\nrm -rf ~"}, "command"),
        ({"command": ["python", "train.py", "a\nb"]}, "command"),
    ],
)
def test_newlines_are_refused(changes: dict[str, Any], where: str) -> None:
    message = config_error(**changes)
    assert where in message
    assert "single line" in message


def test_name_with_trailing_newline_is_refused() -> None:
    config_error(name="exp\n")


def test_env_name_with_trailing_newline_is_refused() -> None:
    config_error(env={"FOO\n": "x"})


def test_env_name_must_be_a_variable_name() -> None:
    assert "not a valid environment variable name" in config_error(env={"1FOO": "x"})
    assert "not a valid environment variable name" in config_error(env={"FOO BAR": "x"})


@pytest.mark.parametrize(
    "key", ["WANDB_API_KEY", "HF_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "github_token"]
)
def test_secret_looking_env_keys_are_refused(key: str) -> None:
    message = config_error(env={key: "value"})
    assert key in message
    assert "secret" in message


def test_plain_env_is_kept_as_strings() -> None:
    loaded = spec(env={"OMP_NUM_THREADS": 4, "DEBUG": True, "RATE": 0.5, "NAME": "x"})
    assert loaded.env == {"OMP_NUM_THREADS": "4", "DEBUG": "1", "RATE": "0.5", "NAME": "x"}


def test_unknown_placeholder_lists_available_names() -> None:
    message = config_error(command="python train.py --x {foo}")
    assert "{foo}" in message
    for name in ("lr", "steps", "seed", "run_dir"):
        assert name in message.split("available:", 1)[1]


@pytest.mark.parametrize("token", ["{lr.real}", "{lr[0]}", "{lr!r}", "{lr:>10}", "{}", "{0}", "{lr"])
def test_placeholder_must_be_a_plain_name(token: str) -> None:
    message = config_error(command=f"python train.py --lr {token}")
    assert "plain name" in message or "bad braces" in message
    assert token in message


def test_escaped_braces_are_literal() -> None:
    loaded = spec(command="echo {{lr}} {lr}")
    assert render_command(loaded, "/r") == ["echo", "{lr}", "0.1"]


@pytest.mark.parametrize("name", ["seed", "run_dir"])
def test_builtin_placeholders_are_reserved_as_param_names(name: str) -> None:
    assert "reserved" in config_error(params={"lr": 0.1, name: 1})


def test_param_names_must_be_identifiers() -> None:
    assert "identifiers" in config_error(params={"lr": 0.1, "steps": 1, "bad-name": 1})


def test_smoke_params_must_name_defined_params() -> None:
    message = config_error(smoke={"params": {"stpes": 1}})
    assert "stpes" in message
    assert "smoke.params" in message or "smoke" in message
    assert "steps" in message  # lists the params that exist


# --------------------------------------------------------------------------------------- defaults


def test_seed_default_is_explicit_in_resolved() -> None:
    resolved = spec().resolved()
    assert resolved["seed"] == DEFAULT_SEED == 42
    assert resolved["resources"]["mem"] == "1G"
    assert resolved["resources"]["time"] == "00:10:00"
    assert resolved["smoke"] == {"params": {}, "timeout": 300}


def test_resolved_round_trips_to_an_equal_spec() -> None:
    original = spec(resources={"mem": "1.5G", "time": "1-00"}, env={"A": 1}, setup=["echo hi"])
    again = spec_from_data(original.resolved(), "resolved")
    assert again == original
    assert again.config_hash() == original.config_hash()


def test_spec_is_frozen() -> None:
    loaded = spec()
    with pytest.raises(ValueError):
        loaded.seed = 1  # type: ignore[misc]


# -------------------------------------------------------------------------------------- overrides


def test_override_param_gives_a_float(tmp_path: Path) -> None:
    loaded = load_spec(QUICKSTART, ["params.lr=0.01"])
    assert loaded.params["lr"] == 0.01
    assert isinstance(loaded.params["lr"], float)
    assert render_command(loaded, "/r")[3] == "0.01"


def test_override_param_in_exponent_notation_is_a_float() -> None:
    loaded = load_spec(QUICKSTART, ["params.lr=1e-3"])
    assert isinstance(loaded.params["lr"], float)


def test_override_resources_and_seed() -> None:
    loaded = load_spec(QUICKSTART, ["resources.mem=8G", "resources.time=02:00:00", "seed=7"])
    assert loaded.resources.mem == "8G"
    assert loaded.resources.time == "02:00:00"
    assert loaded.seed == 7
    assert load_spec(QUICKSTART, ["resources.mem=8192"]).resources.mem == "8G"


def test_override_time_without_leading_zero() -> None:
    assert load_spec(QUICKSTART, ["resources.time=2:00:00"]).resources.time == "02:00:00"


def test_unquoted_mm_ss_time_in_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\nresources:\n  time: 10:00\n")
    assert load_spec(path).resources.time == "00:10:00"


def test_override_does_not_mutate_input() -> None:
    data = {"params": {"lr": 0.1}}
    result = apply_overrides(data, ["params.lr=0.5"])
    assert data == {"params": {"lr": 0.1}}
    assert result == {"params": {"lr": 0.5}}


def test_override_unknown_param_is_a_usage_error_with_hint() -> None:
    with pytest.raises(UsageError) as info:
        load_spec(QUICKSTART, ["params.lrr=1"])
    assert "lrr" in info.value.message
    assert "lr" in info.value.message.split("params are:", 1)[1]
    assert "+params.lrr=1" in info.value.hint


def test_override_with_plus_adds_a_param() -> None:
    loaded = load_spec(QUICKSTART, ["+params.new=3"])
    assert loaded.params["new"] == 3
    assert loaded.params["lr"] == 0.1


@pytest.mark.parametrize(
    "text", ["foo", "a..b=1", "=1", "params.=1", ".a=1", "a b=1", "params.lr=1\nrm -rf ~"]
)
def test_bad_override_text_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_override(text)
    with pytest.raises(UsageError):
        load_spec(QUICKSTART, [text])


def test_override_of_an_unknown_section_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(QUICKSTART, ["resources.memm=8G"])
    assert "resources.memm" in info.value.message
    assert "did you mean resources.mem?" in info.value.hint


def test_override_into_a_scalar_is_refused() -> None:
    with pytest.raises(UsageError, match="not a mapping"):
        load_spec(QUICKSTART, ["seed.x=1"])


def test_override_value_types() -> None:
    assert parse_override("params.flag=true") == (["params", "flag"], False, True)
    assert parse_override("params.n=3") == (["params", "n"], False, 3)
    assert parse_override("+params.s=hello world") == (["params", "s"], True, "hello world")
    assert parse_override("params.s=") == (["params", "s"], False, "")
    # a value that happens to look like a YAML mapping stays the literal text
    assert parse_override("params.s=a: b") == (["params", "s"], False, "a: b")


def test_bad_override_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"resources\.mem"):
        load_spec(QUICKSTART, ["resources.mem=lots"])


# ------------------------------------------------------------------------------- rendering, hash


@pytest.mark.parametrize("value", ["a b c", "x; rm -rf ~", "$(whoami)", "`id`", "'quoted' \"twice\"", "*"])
def test_render_command_keeps_each_value_one_argument(value: str) -> None:
    loaded = spec(command="python train.py --tag {tag} --tag={tag}", params={"tag": value})
    assert render_command(loaded, "/runs/x") == ["python", "train.py", "--tag", value, f"--tag={value}"]


def test_render_command_fills_builtins_and_smoke_params() -> None:
    loaded = spec(
        smoke={"params": {"steps": 1}},
        command="run {steps} {seed} {run_dir} {flag} {none}",
        params={"steps": 10, "flag": False, "none": None},
        seed=3,
    )
    assert render_command(loaded, "/runs/a b") == ["run", "10", "3", "/runs/a b", "false", ""]
    assert render_command(loaded, "/runs/a b", smoke=True)[1] == "1"


def test_command_string_is_split_like_a_shell() -> None:
    loaded = spec(command="python 'my script.py' --lr {lr}")
    assert loaded.command == ["python", "my script.py", "--lr", "{lr}"]
    assert "split" in config_error(command="python 'unterminated")


def test_config_hash_is_stable_and_sensitive() -> None:
    first = spec()
    same = spec_from_data({**BASE, "params": {"steps": 10, "lr": 0.1}}, "other.yaml")
    assert first.config_hash() == same.config_hash()
    assert len(first.config_hash()) == 16
    assert spec(params={"lr": 0.2, "steps": 10}).config_hash() != first.config_hash()
    assert spec(seed=43).config_hash() != first.config_hash()
    assert spec(resources={"mem": "2G"}).config_hash() != first.config_hash()


def test_config_hash_ignores_spelling_of_equal_resources() -> None:
    assert spec(resources={"mem": "4G"}).config_hash() == spec(resources={"mem": "4096"}).config_hash()
    assert spec(resources={"time": 60}).config_hash() == spec(resources={"time": "01:00:00"}).config_hash()


@pytest.mark.parametrize("key", ["api_key", "hf_token", "db_password", "client_secret"])
def test_secret_looking_params_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="looks like a secret"):
        spec_from_data({**BASE, "params": {**BASE["params"], key: "s3cr3t"}}, "x.yaml")


def test_ordinary_params_that_merely_contain_letters_are_fine() -> None:
    params = {**BASE["params"], "tokens_per_batch": 4096, "keypoints": 17, "max_tokens": 2}
    spec = spec_from_data({**BASE, "params": params}, "x.yaml")
    assert spec.params["tokens_per_batch"] == 4096


# --------------------------------------------------------------------- honest inputs: env, unused, commas


def test_env_values_use_placeholders_like_the_command() -> None:
    loaded = spec(
        env={"LR": "{lr}", "TAG": "run-{seed}-{data.split}", "OUT": "{run_dir}/x", "LIT": "{{lr}}", "N": 4},
        data={"split": "val"},
        smoke={"params": {"lr": 0.5}},
        seed=7,
    )
    assert loaded.env["LR"] == "{lr}"  # the config keeps the template; the job gets the value
    rendered = render_env(loaded, "/runs/r")
    assert rendered == {"LR": "0.1", "TAG": "run-7-val", "OUT": "/runs/r/x", "LIT": "{lr}", "N": "4"}
    assert render_env(loaded, "/runs/r", smoke=True)["LR"] == "0.5"
    assert "quote a placeholder" in config_error(env={"LR": {"lr": None}})  # `LR: {lr}` unquoted in YAML


@pytest.mark.parametrize(
    ("value", "needle"),
    [("{nope}", "env X uses {nope}"), ("{lr", "bad braces in env X"), ("{lr!r}", "plain")],
)
def test_env_placeholders_are_validated(value: str, needle: str) -> None:
    message = config_error(env={"X": value})
    assert needle in message


def test_unused_params_are_those_neither_in_the_command_nor_in_env() -> None:
    loaded = spec(params={"lr": 0.1, "steps": 10, "exported": 1, "ghost": 2}, env={"EXP": "{exported}"})
    assert loaded.unused_params() == ["steps", "ghost"]
    assert spec(command="python t.py {lr} {steps}").unused_params() == []
    assert spec(command="python t.py {lr} {steps}", data={"path": "/data/x"}).unused_params() == []


@pytest.mark.parametrize(
    "text", ["params.lr=0.1,0.01", "+params.new=a,b", "data.split=train, val", "seed=1,2"]
)
def test_override_with_a_top_level_comma_is_refused_with_a_sweep_hint(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_override(text)
    key, _, raw = text.lstrip("+").partition("=")
    assert "comma" in info.value.message and info.value.exit_status == ExitStatus.USAGE
    assert f"--sweep {key}={raw}" in info.value.hint and f"\"{key}='{raw}'\"" in info.value.hint


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("params.x='a,b'", "a,b"),
        ('params.x="a,b"', "a,b"),
        ("params.x=it's fine", "it's fine"),
        ("setup=[a,b]", ["a", "b"]),
        ("resources.partition=gpu,cpu", "gpu,cpu"),  # SLURM's own list syntax
        ("command=python t.py --gpus 0,1", "python t.py --gpus 0,1"),
    ],
)
def test_quoted_or_bracketed_commas_are_one_value(text: str, value: Any) -> None:
    assert parse_override(text)[2] == value


def test_a_quoted_comma_override_reaches_the_command() -> None:
    loaded = load_spec(QUICKSTART, ["params.lr='0.1,0.01'"])
    assert loaded.params["lr"] == "0.1,0.01"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a,b", ["a", "b"]),
        ("'a,b',c", ["'a,b'", "c"]),
        ('"a\\",b",c', ['"a\\",b"', "c"]),
        ("'it''s,x',y", ["'it''s,x'", "y"]),
        ("it's,x", ["it's", "x"]),
        ("[1,2],{a: 'x,y'},range(1,3)", ["[1,2]", "{a: 'x,y'}", "range(1,3)"]),
        ("", [""]),
    ],
)
def test_split_top_level(text: str, parts: list[str]) -> None:
    assert split_top_level(text) == parts


@pytest.mark.parametrize(
    ("text", "needle"), [("'a,b", "unclosed quote"), ("[1,2", "unclosed '['"), ("1)", "unbalanced")]
)
def test_split_top_level_refuses_unbalanced_text(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        split_top_level(text)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [("lr=0.1", "params.lr"), ("resources.gpu=1", "resources.gpus"), ("params.lrr=0.1", "params.lr")],
)
def test_override_unknown_key_suggests_the_closest(text: str, suggestion: str) -> None:
    with pytest.raises(UsageError) as info:
        load_spec(QUICKSTART, [text])
    assert f"did you mean {suggestion}?" in info.value.hint
    assert "\n" not in info.value.message


def test_an_unknown_param_is_never_told_to_mean_its_own_parent_or_a_sibling_alike_only_in_the_prefix(
    tmp_path: Path,
) -> None:
    # a user's click script whose --lr was not a param: 'did you mean params?', then 'params.out?'
    text = "name: exp\ncommand: train --out {out} --eval-every {eval_every}\n"
    text += "params: {out: o, eval_every: 1}\n"
    path = write(tmp_path, text, name="mine.yaml")
    with pytest.raises(UsageError) as info:
        load_spec(path, ["params.lr=0.1"])
    assert "did you mean" not in info.value.hint and "+params.lr=0.1" in info.value.hint
    with pytest.raises(UsageError) as typo:
        load_spec(path, ["params.evl_every=2"])
    assert "did you mean params.eval_every?" in typo.value.hint


def test_override_hints_name_the_users_config(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo {lr}\nparams:\n  lr: 0.1\n", name="mine.yaml")
    for text in ("lrr=1", "params.lrr=1", "~params.lrr"):
        with pytest.raises(UsageError) as info:
            load_spec(path, [text])
        assert str(path) in f"{info.value.message} {info.value.hint}"
        assert "examples" not in info.value.hint


def test_override_tilde_deletes_and_refuses_an_absent_key() -> None:
    data = {"params": {"lr": 0.1, "epochs": 3}}
    assert apply_overrides(data, ["~params.epochs"]) == {"params": {"lr": 0.1}}
    with pytest.raises(UsageError) as info:
        apply_overrides(data, ["~params.epoch"])
    assert "~params.epochs" in info.value.hint
    with pytest.raises(UsageError):
        apply_overrides(data, ["~params.lr=1"])


def test_override_double_plus_sets_or_adds() -> None:
    data = {"params": {"lr": 0.1}}
    assert apply_overrides(data, ["++params.lr=0.5", "++params.new=1"]) == {"params": {"lr": 0.5, "new": 1}}


def test_sweep_axis_unknown_key_suggests_the_closest() -> None:
    from clusterrun.config.experiment import load_experiment

    with pytest.raises(UsageError) as info:
        load_experiment(QUICKSTART, cli_axes=["resources.gpu=0,1"])
    assert "resources.gpus" in info.value.hint


def test_a_param_the_config_lacks_is_refused_with_the_command_change_it_also_needs() -> None:
    """`+params.lr=...` alone reaches nothing when the command has no {lr}: a sweep over it is refused
    next, as members running the same command (a user trial followed the first hint into the second)."""
    data = {"command": "python train.py --epochs {epochs}", "params": {"epochs": 3}}
    with pytest.raises(UsageError) as info:
        apply_overrides(dict(data), ["params.learning_rate=0.1"])
    assert "+params.learning_rate=0.1" in info.value.hint
    assert "`--learning-rate {learning_rate}` in its command: line" in info.value.hint
    # a param the command names already: nothing more to say
    data = {"command": ["python", "train.py", "--lr", "{lr}"], "params": {}}
    with pytest.raises(UsageError) as info:
        apply_overrides(dict(data), ["params.lr=0.1"])
    assert "command" not in info.value.hint


def test_an_override_of_a_grid_axis_names_the_axis_dots_and_all() -> None:
    """`sweep.grid.params.lr=[...]` is the grid axis `params.lr`, as the config file writes it; it was a
    mapping `params` inside the grid, refused as 'sweep.grid.params: Input should be a valid list'."""
    from clusterrun.config.experiment import load_experiment

    data = {"sweep": {"grid": {}}}
    assert apply_overrides(data, ["sweep.grid.params.lr=[0.1,0.2]", "++sweep.zip.params.steps=[1,2]"]) == {
        "sweep": {"grid": {"params.lr": [0.1, 0.2]}, "zip": {"params.steps": [1, 2]}}
    }
    assert apply_overrides({"sweep": {"grid": {"params.lr": [1]}}}, ["~sweep.grid.params.lr"]) == {
        "sweep": {"grid": {}}
    }
    experiment = load_experiment(QUICKSTART, ["sweep.grid.params.lr=[0.1,0.2,0.5]"])
    assert [member.values for member in experiment.members] == [
        {"params.lr": 0.1},
        {"params.lr": 0.2},
        {"params.lr": 0.5},
    ]


def test_unknown_key_in_the_file_names_the_file_not_the_example(tmp_path: Path) -> None:
    path = write(tmp_path, "name: exp\ncommand: echo\nresources:\n  gpu: 1\n", name="mine.yaml")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert "'gpus'" in info.value.hint and str(path) in info.value.hint


@pytest.mark.parametrize(
    ("section", "typed", "meant"),
    [
        ("resources", "cpus", "cpus_per_task"),  # not 'gpus', one letter away but another resource
        ("resources", "tasks", "tasks_per_node"),
        ("resources", "gpu", "gpus"),
        ("resources", "partiton", "partition"),
        ("requeue", "max_attempt", "max_attempts"),
    ],
)
def test_an_unknown_key_hints_at_the_key_meant(section: str, typed: str, meant: str) -> None:
    with pytest.raises(ConfigError) as caught:
        spec_from_data({"name": "x", "command": "true", section: {typed: 1}}, "t.yaml")
    assert caught.value.hint.startswith(f"did you mean {meant!r}?"), caught.value.hint


def test_closest_key_without_a_close_one() -> None:
    assert closest_key("walltime", ["partition", "time", "nodes"]) == "time"
    assert closest_key("zzz", ["partition", "time", "nodes"]) == ""
    assert closest_key("per", ["cpus_per_task", "tasks_per_node"]) == ""  # two parts: no guess from them


def test_a_number_param_set_to_a_bare_word_is_refused_before_the_smoke_test_hides_it() -> None:
    """`params.steps=abc` passed the smoke test (which sets steps=5 itself) and the job then failed at
    argparse's type=int. A number (or true/false) param may become text only when the text is quoted."""
    with pytest.raises(UsageError) as caught:
        load_spec(QUICKSTART, ["params.steps=abc"])
    assert "params.steps is a number" in str(caught.value) and "(200)" in str(caught.value)
    assert "\"params.steps='abc'\"" in (caught.value.hint or "")
    assert load_spec(QUICKSTART, ["params.steps='abc'"]).params["steps"] == "abc"  # meant: quoted
    assert load_spec(QUICKSTART, ["params.steps=1e3"]).params["steps"] == 1000.0  # still a number
    flag = {"name": "x", "command": "true", "params": {"verbose": False}}
    with pytest.raises(UsageError, match="true or false"):
        apply_overrides(flag, ["params.verbose=yes"], "x.yaml", ExperimentSpec)
    changed = apply_overrides(flag, ["params.verbose=true"], "x.yaml", ExperimentSpec)
    assert changed["params"]["verbose"] is True


def test_a_smoke_command_that_leaves_out_an_option_of_the_command_is_named() -> None:
    """init writes smoke.command as the command plus a short length; a user who then adds `--lr {lr}`
    to the command only would have a smoke test that never tries it."""
    base = {"name": "x", "params": {"lr": 0.1, "epochs": 9}}
    same = spec_from_data(
        base
        | {
            "command": "python t.py --lr {lr} --epochs {epochs}",
            "smoke": {"command": ["python", "t.py", "--lr", "{lr}", "--epochs", "1", "--max-steps", "5"]},
        },
        "t.yaml",
    )
    assert same.smoke_command_gaps() == []  # another value, an extra option: the point of it
    drifted = spec_from_data(
        base
        | {
            "command": "python t.py --lr={lr} --epochs {epochs}",
            "smoke": {"command": ["python", "t.py", "--epochs", "1"]},
        },
        "t.yaml",
    )
    assert drifted.smoke_command_gaps() == ["--lr"]
    other = spec_from_data(
        base | {"command": "torchrun t.py --lr {lr}", "smoke": {"command": ["python", "t.py", "--lr", "1"]}},
        "t.yaml",
    )
    assert other.smoke_command_gaps() == ["torchrun"]


def test_a_key_of_the_programs_own_config_is_shown_how_to_become_a_param(tmp_path: Path) -> None:
    """A Hydra user sweeping model.hidden (their program's config, not clusterrun's): told how to pass
    it on as a param, not to check their spelling."""
    text = "name: exp\ncommand: python train.py lr={lr}\nparams: {lr: 0.1}\n"
    path = write(tmp_path, text, name="train.yaml")
    with pytest.raises(UsageError) as info:
        load_spec(path, ["model.hidden=16"])
    assert "`hidden: VALUE` under params and `model.hidden={hidden}`" in info.value.hint
    assert "then set params.hidden" in info.value.hint


def test_a_command_string_split_once_still_gives_each_spec_its_own_list_and_refuses_every_time() -> None:
    """A sweep's members share one command string, split and checked once (models._command_tokens): each
    spec still gets a list of its own, and a bad string is refused at every validation, not only the
    first (an exception is never what a cache hands back)."""
    data = {"name": "cached", "command": "python train.py --lr '{lr}'", "params": {"lr": 0.1}}
    first, second = spec_from_data(data, "a.yaml"), spec_from_data(data, "b.yaml")
    assert first.command == second.command == ["python", "train.py", "--lr", "{lr}"]
    first.command.append("--changed")
    assert second.command == ["python", "train.py", "--lr", "{lr}"]
    assert spec_from_data(data, "c.yaml").command == ["python", "train.py", "--lr", "{lr}"]
    for source in ("one.yaml", "two.yaml"):
        with pytest.raises(ConfigError, match="cannot split the command"):
            spec_from_data({"name": "bad", "command": "python 'unclosed"}, source)
        with pytest.raises(ConfigError, match="looks like a secret"):
            spec_from_data({"name": "bad", "command": "curl -H ghp_" + "a" * 36 + " x"}, source)


def test_several_values_where_one_is_expected_is_said_once_with_how_to_sweep() -> None:
    """`params.lr=[0.1,0.2]` (a multirun, as Hydra writes it): one problem, said once (pydantic says it
    once per member of the union of scalars), and the hint says how to run one job per value."""
    with pytest.raises(ConfigError) as info:
        spec(params={"lr": [0.1, 0.2], "steps": 10})
    assert info.value.message == (
        "test.yaml: params.lr: a list where one value is expected (text, a number, true or false)"
    )
    assert "--sweep params.lr=0.1,0.2" in info.value.hint and "sweep: {grid:" in info.value.hint
    with pytest.raises(ConfigError) as info:
        spec(params={"lr": {"low": 1}, "steps": 10}, seed=[1])
    assert info.value.message == (
        "test.yaml: params.lr: a mapping where one value is expected (text, a number, true or false)"
        " (and 1 more problem)"
    )
    assert info.value.hint == "give params.lr one value, in test.yaml or with an override (params.lr=VALUE)"
    assert "valid integer" in config_error(seed=[1])  # a field of one type: pydantic's own words
