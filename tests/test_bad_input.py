"""Bad input through the real CLI: oversized and hostile configs, duplicate keys, YAML 1.1 surprises,
odd --sweep values, names and ids past the file system's limit, sweeps too large to expand. Each is
refused at once with `error:` and `hint:` lines and exit 2 (or, for odd values, taken as plain strings),
never an internal error or a traceback."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli, git, manifest, no_traceback, only_run

LONG = "a" * 300


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one `error:` line (holding every word) followed by one `hint:` line; returns the error."""
    no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert lines[errors[0] + 1].startswith("hint: ") and len(lines[errors[0] + 1]) > len("hint: ")
    for word in words:
        assert word in lines[errors[0]], (word, lines[errors[0]])
    return lines[errors[0]]


def write_config(project: Path, text: str, name: str = "bad.yaml") -> str:
    (project / "configs" / name).write_text(text)
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"config {name}")
    return f"configs/{name}"


def dry_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(["submit", *args, "--backend", "local", "--dry-run", "--skip-smoke", "input test"], project)


QUICKSTART_HEAD = "name: exp\ncommand: echo {lr} {steps}\n"


# ------------------------------------------------------------------------------------ config files


def test_a_config_over_one_megabyte_is_refused_unread(project: Path) -> None:
    filler = "# " + "x" * 100 + "\n"
    config = write_config(project, QUICKSTART_HEAD + "params: {lr: 0.1, steps: 1}\n" + filler * 12_000)
    assert (project / config).stat().st_size > 1024 * 1024
    refused(dry_run(project, config), config, "at most 1 MB")


def test_a_billion_laughs_is_refused_quickly(project: Path) -> None:
    lines = ['lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    config = write_config(
        project, QUICKSTART_HEAD + "params: {lr: 0.1, steps: 1}\n" + "\n".join(lines) + "\n"
    )
    started = time.monotonic()
    result = dry_run(project, config)
    assert time.monotonic() - started < 20  # the interpreter's start included; expanding would take hours
    refused(result, config, "aliases expand to more than 100000")


def test_an_alias_inside_itself_is_refused(project: Path) -> None:
    config = write_config(project, QUICKSTART_HEAD + "params: &p {lr: 0.1, steps: 1, again: *p}\n")
    refused(dry_run(project, config), "refers to the mapping or list that contains it")


def test_ordinary_aliases_and_merge_keys_still_work(project: Path) -> None:
    text = QUICKSTART_HEAD + "base: &b {lr: 0.1, steps: 3}\nparams:\n  <<: *b\n  steps: 4\n"
    config = write_config(project, text.replace("base:", "x_base:"))
    result = dry_run(project, config)
    # an unknown top-level key is the config's own error, not the YAML loader's
    assert result.returncode == 2 and "x_base" in result.stderr
    config = write_config(project, QUICKSTART_HEAD + "params: &b {lr: 0.1, steps: 3}\nsmoke:\n  params: *b\n")
    done = dry_run(project, config)
    assert done.returncode == 0, done.stderr
    assert manifest(only_run(project))["config"]["smoke"]["params"] == {"lr": 0.1, "steps": 3}


def test_a_duplicate_key_names_both_lines(project: Path) -> None:
    config = write_config(project, QUICKSTART_HEAD + "params:\n  lr: 0.1\n  steps: 5\n  lr: 0.2\n")
    refused(dry_run(project, config), config, "duplicate key 'lr' (lines 4 and 6)")


def test_a_duplicate_top_level_key_in_a_flow_mapping(project: Path) -> None:
    config = write_config(project, QUICKSTART_HEAD + "params: {lr: 0.1, steps: 1, steps: 2}\n")
    refused(dry_run(project, config), "duplicate key 'steps' (lines 3 and 3)")


def test_yaml_1_2_scalars_without_surprises(project: Path) -> None:
    text = (
        "name: exp\ncommand: echo {steps} {octal} {hexa} {day} {answer} {clock} {ratio}\n"
        "params:\n  steps: 010\n  octal: 0o17\n  hexa: 0x1F\n  day: 2026-01-01\n  answer: yes\n"
        "  clock: 10:00\n  ratio: 1e-3\n"
    )
    done = dry_run(project, write_config(project, text))
    assert done.returncode == 0, done.stderr
    params = manifest(only_run(project))["config"]["params"]
    assert params == {
        "steps": 10,  # not octal 8
        "octal": 15,
        "hexa": 31,
        "day": "2026-01-01",  # not a date
        "answer": "yes",  # not True
        "clock": "10:00",  # not 600
        "ratio": 0.001,
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("!!python/object/apply:os.system ['touch pwned']", ["could not determine a constructor"]),
        ("!!int eleven", ["'eleven' is not an integer"]),
        ("!!float fast", ["'fast' is not a number"]),
        ("!!timestamp 2026-01-01", ["timestamp"]),
    ],
)
def test_tags_beyond_the_core_schema_are_refused(project: Path, value: str, words: list[str]) -> None:
    config = write_config(project, QUICKSTART_HEAD + f"params:\n  lr: {value}\n  steps: 1\n")
    refused(dry_run(project, config), config, "line 4", *words)
    assert not (project / "pwned").exists()


def test_a_config_nested_too_deep_is_refused(project: Path) -> None:
    config = write_config(
        project, QUICKSTART_HEAD + "params: {lr: 0.1, steps: 1}\ndata: " + "[" * 500 + "]" * 500
    )
    refused(dry_run(project, config), "nested more than 100 levels deep")


def test_a_config_path_longer_than_the_file_system_allows(project: Path) -> None:
    refused(dry_run(project, f"configs/{LONG}.yaml"), "name too long")


# ------------------------------------------------------------------------------ overrides and sweeps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("`whoami`", ["`whoami`"]),
        ("@home", ["@home"]),
        ("@a,`b", ["@a", "`b"]),
        ("!!int x,1", ["!!int x", 1]),
        ("&anchor,*alias", ["&anchor", "*alias"]),
        ("|,>", ["|", ">"]),
    ],
)
def test_odd_sweep_values_are_taken_as_strings(project: Path, value: str, expected: list[object]) -> None:
    config = write_config(project, "name: exp\ncommand: echo {tag}\nparams: {tag: a}\n")
    result = dry_run(project, config, "--sweep", f"params.tag={value},plain")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    runs = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()]
    tags = [manifest(r)["config"]["params"]["tag"] for r in runs]
    assert sorted(map(repr, tags)) == sorted(map(repr, [*expected, "plain"]))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("[", ["unclosed '['"]),
        ("[1,2", ["unclosed '['"]),
        ("'a,b", ["unclosed quote"]),
        ("a]", ["unbalanced ']'"]),
        ("", ["bad --sweep"]),
    ],
)
def test_broken_sweep_values_get_one_line(project: Path, value: str, words: list[str]) -> None:
    config = write_config(project, "name: exp\ncommand: echo {tag}\nparams: {tag: a}\n")
    refused(dry_run(project, config, "--sweep", f"params.tag={value}"), *words)


def test_a_bracketed_list_as_a_scalar_param_is_a_config_error(project: Path) -> None:
    config = write_config(project, "name: exp\ncommand: echo {tag}\nparams: {tag: a}\n")
    refused(dry_run(project, config, "--sweep", "params.tag=[1,[2]]"), "params.tag")


def test_a_sweep_of_millions_is_refused_from_its_axes(project: Path) -> None:
    config = write_config(project, "name: exp\ncommand: echo {a} {b}\nparams: {a: 0, b: 0}\n")
    started = time.monotonic()
    result = dry_run(
        project, config, "--sweep", "params.a=range(0,100)", "--sweep", "params.b=range(0,34000)"
    )
    assert time.monotonic() - started < 20  # expanding 3.4 million members took 6.6 s and 1.3 GB
    refused(result, "3,400,000 members", "params.a: 100 x params.b: 34,000", "at most 100,000")
    assert not (project / "runs").exists() or not list((project / "runs").glob("exp*"))


def test_a_config_sweep_over_the_limit_counts_zip_and_random(project: Path) -> None:
    text = (
        "name: exp\ncommand: echo {a} {b} {c}\nparams: {a: 0, b: 0, c: 0.0}\nsweep:\n"
        f"  grid: {{params.a: {list(range(50))}}}\n"
        f"  zip: {{params.b: {list(range(100))}}}\n"
        "  random: {n: 50, axes: {params.c: {uniform: [0, 1]}}}\n"
    )
    refused(
        dry_run(project, write_config(project, text)), "250,000 members", "zip(params.b): 100", "random: 50"
    )


# ---------------------------------------------------------------------------------- names and ids


def test_a_name_longer_than_a_file_name_is_refused(project: Path) -> None:
    result = dry_run(project, "configs/quickstart.yaml", f"name={LONG}")
    refused(result, "name")


@pytest.mark.parametrize(
    "args",
    [
        ["status", LONG],
        ["show", LONG],
        ["logs", LONG],
        ["cancel", LONG],
        ["reproduce", LONG, "--backend", "local"],
        ["compare", LONG, LONG],
        ["plot", LONG],
    ],
    ids=lambda args: args[0],
)
def test_run_ids_longer_than_255_characters(project: Path, args: list[str]) -> None:
    done = dry_run(project, "configs/quickstart.yaml")  # a registry with a run in it
    assert done.returncode == 0, done.stderr
    refused(cli(args, project), "characters")


def test_a_registry_path_with_a_name_too_long(project: Path) -> None:
    result = cli(["--runs-dir", str(project / LONG), "status"], project)
    refused(result, "name too long")


def test_json_output_is_untouched_by_the_checks(project: Path) -> None:
    """The limits cost nothing on an ordinary config: the quickstart loads as before."""
    done = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "--backend",
            "local",
            "--dry-run",
            "--json",
            "--skip-smoke",
            "t",
        ],
        project,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config"]["params"]["steps"] == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLUSTERRUN_WORKERS", "lots"),
        ("CLUSTERRUN_WORKERS", "0"),
        ("CLUSTERRUN_LOST_AFTER", "10m"),
        ("CLUSTERRUN_SBATCH_TIMEOUT", "0"),
        ("CLUSTERRUN_POLL_MAX_AGE", "-1"),
        ("CLUSTERRUN_WAIT_TIMEOUT", "never"),
    ],
)
def test_a_bad_tuning_variable_is_refused_before_anything_is_recorded(
    project: Path, variable: str, value: str
) -> None:
    """A typo in a tuning variable is not silently replaced by the default: the command stops with the
    variable, its value and the fix, and records nothing (no run directory, no registry)."""
    done = dry_run(project, "configs/quickstart.yaml")  # a registry with one run in it, to keep intact
    assert done.returncode == 0, done.stderr
    before = sorted(p.name for p in (project / "runs").iterdir())
    env = {variable: value}
    for args in (["submit", "configs/quickstart.yaml", "--backend", "local", "--yes"], ["status"]):
        line = refused(cli(args, project, env), variable, repr(value))
        assert "Traceback" not in line
    assert sorted(p.name for p in (project / "runs").iterdir()) == before
    assert cli(["status"], project).returncode == 0  # unset again: everything as it was


def test_the_python_api_refuses_a_bad_tuning_variable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clusterrun import api
    from clusterrun.errors import UsageError

    monkeypatch.setenv("CLUSTERRUN_LOST_AFTER", "soon")
    with pytest.raises(UsageError, match="CLUSTERRUN_LOST_AFTER='soon'"):
        api.status(runs_dir=project / "runs")


def test_an_option_given_as_another_options_value_is_refused_not_submitted(project: Path) -> None:
    """`--skip-smoke --dry-run`: click would take `--dry-run` as the skip reason and submit for real.
    clusterrun refuses it (exit 2, the fix in the hint) and nothing is recorded or submitted."""
    submit = ["submit", "configs/quickstart.yaml", "--backend", "local"]
    line = refused(cli([*submit, "--skip-smoke", "--dry-run"], project), "--skip-smoke", "--dry-run")
    assert line.startswith("error: --skip-smoke takes a value")
    assert not (project / "runs").exists() or not [p for p in (project / "runs").iterdir() if p.is_dir()]
    refused(cli(["status", "--name", "--json"], project), "--name", "--json")
    refused(cli(["status", "--state", "--all"], project), "--state", "--all")
    # a value that merely starts with dashes, and is no option of the command, is still a value
    done = cli([*submit, "--dry-run", "--skip-smoke=--no-gpu"], project)
    assert done.returncode == 0, done.stderr


def test_commands_run_outside_the_project_say_where_they_looked(tmp_path: Path) -> None:
    """`clusterrun status` from another directory said 'no runs match; start one with ...' and `show RUN`
    'no run in /tmp/runs', as if the runs were gone: they are in the project's runs/."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = cli(["status"], elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert f"there is no run registry at {elsewhere / 'runs'}" in listed.stdout
    assert "--runs-dir" in listed.stdout
    shown = cli(["show", "quickstart_20261203-101500"], elsewhere)
    assert shown.returncode == 2 and "there is no run registry at" in shown.stderr
    assert "hint: cd into the project that made it" in shown.stderr
    no_traceback(shown)
    assert not (elsewhere / "runs").exists()  # looking made nothing
