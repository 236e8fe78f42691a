"""Sweep expansion, cluster profiles, estimates and the cost gate: pure logic."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from clusterrun.analysis.estimate import Timing, estimate, fit_points, gate, two_runs
from clusterrun.config.experiment import check_members_differ, load_experiment
from clusterrun.config.models import spec_from_data
from clusterrun.config.profiles import DEFAULT, ClusterProfile, apply_profile, load_profile
from clusterrun.config.sections import Sweep
from clusterrun.config.sweep import expand, parse_cli_axis
from clusterrun.errors import ConfigError, UsageError
from clusterrun.services.smoke_tests import shape_key

BASE = {"name": "x", "command": "python t.py --lr {lr} --steps {steps}", "params": {"lr": 0.1, "steps": 100}}


def test_grid_is_a_cartesian_product_in_stable_order() -> None:
    sweep = Sweep.model_validate({"grid": {"params.lr": [0.1, 0.01], "params.steps": [1, 2, 3]}})
    members = expand(sweep)
    assert len(members) == 6 and members[0] == {"params.lr": 0.1, "params.steps": 1}
    assert members[-1] == {"params.lr": 0.01, "params.steps": 3}


def test_zip_grid_and_cli_axes_combine() -> None:
    sweep = Sweep.model_validate({"zip": {"params.lr": [0.1, 0.2], "seed": [1, 2]}})
    members = expand(sweep, ["data.split=train,val,test"])
    assert len(members) == 6
    assert {(m["params.lr"], m["seed"]) for m in members} == {(0.1, 1), (0.2, 2)}
    assert {m["data.split"] for m in members} == {"train", "val", "test"}


def test_random_sampling_is_reproducible_and_in_range() -> None:
    spec = {
        "random": {
            "n": 50,
            "seed": 7,
            "axes": {
                "params.lr": {"loguniform": [1e-4, 1e-1]},
                "params.steps": {"randint": [2, 5]},
                "params.opt": {"choice": ["adam", "sgd"]},
                "params.drop": {"uniform": [0.0, 0.5]},
            },
        }
    }
    first, second = expand(Sweep.model_validate(spec)), expand(Sweep.model_validate(spec))
    assert first == second and len(first) == 50
    assert all(1e-4 <= m["params.lr"] <= 1e-1 and 2 <= m["params.steps"] <= 5 for m in first)
    assert {m["params.opt"] for m in first} == {"adam", "sgd"}
    other = expand(Sweep.model_validate({**spec, "random": {**spec["random"], "seed": 8}}))
    assert other != first


@pytest.mark.parametrize(
    "bad",
    [
        {"zip": {"params.lr": [1, 2], "seed": [1]}},
        {"grid": {"params.lr": []}},
        {"grid": {"params.lr": [1]}, "zip": {"params.lr": [2]}},
        {"random": {"n": 3, "axes": {"params.lr": {"uniform": [1, 0]}}}},
        {"random": {"n": 3, "axes": {"params.lr": {"uniform": [0, 1], "choice": [1]}}}},
        {"random": {"n": 3, "axes": {"params.lr": {"loguniform": [0, 1]}}}},
        {"grid": {"../etc": [1]}},
    ],
)
def test_bad_sweeps_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        spec_from_data({**BASE, "sweep": bad}, "x.yaml")


def test_cli_axis_parsing() -> None:
    assert parse_cli_axis("params.lr=0.1,1e-3") == ("params.lr", [0.1, 0.001])
    for bad in ["params.lr", "=1,2", "params.lr="]:
        with pytest.raises(UsageError):
            parse_cli_axis(bad)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("params.n=range(1,4)", [1, 2, 3]),
        ("params.n= range(5)", [0, 1, 2, 3, 4]),
        ("params.n=range(10, 0, -4)", [10, 6, 2]),
        ("params.name='a,b',c", ["a,b", "c"]),
        ('params.name="x, y",[1,2],@raw', ["x, y", [1, 2], "@raw"]),
        ("params.s=it's,a: b", ["it's", "a: b"]),
        ("params.s=a,''", ["a", ""]),
    ],
)
def test_cli_axis_splits_at_top_level_commas_and_accepts_range(text: str, values: list) -> None:
    assert parse_cli_axis(text) == (text.partition("=")[0], values)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("params.n=range(0.1,1)", "range() takes integers"),
        ("params.n=range(1,2,3,4)", "1 to 3 integers"),
        ("params.n=range(3,1)", "the range is empty"),
        ("params.n=range(1,5,0)", "must not be zero"),
        ("params.n=range(10**9)", "takes integers"),
        ("params.n=range(1000000000)", "1000000000 values"),
        ("params.n=range(1,3),7", "must be the whole list"),
        ("params.name='a,b", "unclosed quote"),
        ("params.name=[1,2", "unclosed '['"),
        ("params.config=a.json,,b.json", "an empty value"),
        ("params.lr=0.1,0.2,", "an empty value"),
    ],
)
def test_bad_cli_axes_say_why_and_how(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_cli_axis(text)
    assert needle in info.value.message and info.value.hint


SAME = "name: x\ncommand: python t.py --lr {lr}\nparams: {lr: 0.1, unused: 1}\n"


@pytest.mark.parametrize("axis", ["params.unused=1,2", "description=a,b", "data.path=a,b"])
def test_a_sweep_whose_members_run_the_same_thing_is_refused(tmp_path: Path, axis: str) -> None:
    config = _write(tmp_path / "x.yaml", SAME + "data: {path: p}\n")
    exp = load_experiment(config, cli_axes=[axis], cwd=tmp_path)
    with pytest.raises(UsageError) as info:
        check_members_differ(exp.members)
    message = info.value.message
    key = axis.partition("=")[0]
    assert "sweep members 0 and 1 run the same command with the same environment" in message
    assert key in message and info.value.hint
    if key.startswith(("params.", "data.")):
        assert f"{key} is not used by the command or env" in message


def test_members_that_render_alike_are_refused_even_with_the_param_used(tmp_path: Path) -> None:
    config = _write(tmp_path / "x.yaml", SAME)
    exp = load_experiment(config, cli_axes=["params.lr=true,'true'"], cwd=tmp_path)
    with pytest.raises(UsageError, match="render the same"):
        check_members_differ(exp.members)


@pytest.mark.parametrize(
    "axes",
    [
        ["params.lr=0.1,0.2"],
        ["resources.mem=1G,2G"],  # the same command with other resources: a scaling study
        ["params.lr=0.1,0.1"],  # identical members are the duplicate check's business
    ],
)
def test_sweeps_that_change_something_pass(tmp_path: Path, axes: list[str]) -> None:
    config = _write(tmp_path / "x.yaml", SAME)
    assert check_members_differ(load_experiment(config, cli_axes=axes, cwd=tmp_path).members) == []


def test_exported_param_sweep_passes(tmp_path: Path) -> None:
    config = _write(tmp_path / "x.yaml", SAME + "env: {UNUSED: '{unused}'}\n")
    exp = load_experiment(config, cli_axes=["params.unused=1,2"], cwd=tmp_path)
    assert check_members_differ(exp.members) == []


def test_a_seed_sweep_without_seed_in_the_command_is_a_warning(tmp_path: Path) -> None:
    config = _write(tmp_path / "x.yaml", SAME)
    exp = load_experiment(config, cli_axes=["seed=1,2,3"], cwd=tmp_path)
    assert check_members_differ(exp.members) == [
        "sweep members differ only in CLUSTERRUN_SEED; make sure your script reads it, "
        "or add {seed} to the command"
    ]
    with_seed = _write(tmp_path / "y.yaml", SAME.replace("{lr}", "{lr} --seed {seed}"))
    assert check_members_differ(load_experiment(with_seed, cli_axes=["seed=1,2"], cwd=tmp_path).members) == []


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_experiment_members_validate_each_value(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "configs" / "x.yaml",
        "name: x\ncommand: python t.py {lr}\nparams: {lr: 0.1}\nresources: {mem: 1G}\n",
    )
    exp = load_experiment(config, cli_axes=["params.lr=0.1,0.2", "resources.mem=2G,4G"], cwd=tmp_path)
    assert len(exp.members) == 4 and exp.is_sweep
    assert {m.spec.resources.mem for m in exp.members} == {"2G", "4G"}
    assert all(m.spec.sweep is None for m in exp.members)
    with pytest.raises(ConfigError, match="sweep member 1"):
        load_experiment(config, cli_axes=["resources.mem=2G,lots"], cwd=tmp_path)
    with pytest.raises(UsageError, match="no param 'lrr'"):
        load_experiment(config, cli_axes=["params.lrr=1,2"], cwd=tmp_path)


def test_cluster_profile_defaults_sit_under_the_experiment(tmp_path: Path) -> None:
    _write(
        tmp_path / "configs" / "clusters" / "site.yaml",
        "resources: {partition: gpu, mem: 8G, time: '02:00:00'}\nsetup: ['module load cuda']\n"
        "prices: {gpu_hour: 2.0, cpu_hour: 0.1}\nmax_array_size: 10\n",
    )
    config = _write(
        tmp_path / "configs" / "x.yaml",
        "name: x\ncommand: echo\nresources: {mem: 2G}\nsetup: ['source .venv/bin/activate']\ncluster: site\n",
    )
    exp = load_experiment(config, cwd=tmp_path)
    spec = exp.members[0].spec
    assert (
        spec.resources.partition == "gpu" and spec.resources.mem == "2G" and spec.resources.time == "02:00:00"
    )
    assert spec.setup == ["module load cuda", "source .venv/bin/activate"]
    assert exp.profile.max_array_size == 10 and spec.cluster == "site"
    with pytest.raises(UsageError, match="no cluster profile 'nope'") as info:
        load_experiment(config, cluster="nope", cwd=tmp_path)
    assert info.value.hint == "available: site"
    with pytest.raises(UsageError):
        load_profile("../etc/passwd", [tmp_path])
    _write(tmp_path / "configs" / "clusters" / "bad.yaml", "resources: {mem: lots}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_experiment(config, cluster="bad", cwd=tmp_path)
    assert apply_profile({"name": "x"}, DEFAULT)["resources"] == {}


def test_fit_points_recovers_startup_and_step_time() -> None:
    points = [(s, 2.0 + 0.5 * s) for s in range(1, 6)]
    timing = fit_points(points)
    assert timing is not None and timing.seconds_per_step == pytest.approx(0.5)
    assert timing.startup_seconds == pytest.approx(2.0) and timing.method == "step-metrics"
    assert fit_points([(1, 3.0)]) is None and fit_points([(2, 1.0), (2, 2.0)]) is None
    two = two_runs(1, 3.0, 2, 3.5)
    assert two is not None and two.seconds_per_step == pytest.approx(0.5) and two.startup_seconds == 2.5


def _spec(**resources: object) -> object:
    return spec_from_data({**BASE, "estimate": {"steps_param": "steps"}, "resources": resources}, "x.yaml")


def test_estimate_scales_the_measured_step_time() -> None:
    spec = _spec(time="00:05:00", cpus_per_task=4, gpus=2, mem="1G")
    profile = ClusterProfile(name="site", prices={"gpu_hour": 2.0, "cpu_hour": 0.5})
    est = estimate(spec, Timing(10.0, 1.0, 5, "step-metrics"), 300.0, 3, profile)  # type: ignore[arg-type]
    assert est.wall_seconds == pytest.approx(110.0)
    assert est.cpu_hours == pytest.approx(110 / 3600 * 4 * 3) and est.gpu_hours == pytest.approx(
        110 / 3600 * 2 * 3
    )
    assert est.cost == pytest.approx(est.cpu_hours * 0.5 + est.gpu_hours * 2.0)
    assert est.warnings == [] and est.suggestions == {}


def test_low_time_and_mem_get_suggestions() -> None:
    spec = _spec(time="00:01:00", mem="100M")
    est = estimate(spec, Timing(0.0, 1.0, 5, "step-metrics"), 200.0, 1, DEFAULT)  # type: ignore[arg-type]
    assert est.suggestions == {"resources.time": "00:03:00", "resources.mem": "300M"}  # 150 s; 260 MB -> 300M
    assert len(est.warnings) == 2
    assert "will likely kill the job for memory" in est.warnings[1]  # 100M is below the 200M peak itself
    within_peak = estimate(_spec(mem="220M"), None, 200.0, 1, DEFAULT)  # type: ignore[arg-type]
    assert within_peak.suggestions == {"resources.mem": "300M"}  # below the margin only: no forecast
    assert "kill" not in within_peak.warnings[0]


def test_gate_uses_profile_thresholds_and_requested_time_without_estimate() -> None:
    cheap = estimate(_spec(time="00:05:00"), None, None, 1, DEFAULT)  # type: ignore[arg-type]
    assert not gate(cheap, _spec(time="00:05:00"), DEFAULT).needs_confirmation  # type: ignore[arg-type]
    long = _spec(time="02:00:00")
    decision = gate(estimate(long, None, None, 1, DEFAULT), long, DEFAULT)  # type: ignore[arg-type]
    assert decision.needs_confirmation and "not estimated" in decision.reasons[0]
    assert "its whole requested time, 02:00:00 per run (> 10 min)" in decision.reasons[0]
    gpu = _spec(time="00:05:00", gpus=8)
    many = estimate(gpu, None, None, 10, DEFAULT)  # type: ignore[arg-type]
    assert any("GPU-hours" in r for r in gate(many, gpu, DEFAULT).reasons)  # type: ignore[arg-type]


def test_shape_key_ignores_swept_values_but_not_command_changes() -> None:
    a = spec_from_data({**BASE, "params": {"lr": 0.1, "steps": 100}}, "x")
    b = spec_from_data({**BASE, "params": {"lr": 0.2, "steps": 100}}, "x")
    c = spec_from_data({**BASE, "command": "python other.py {lr} {steps}"}, "x")
    assert shape_key(a, ["params.lr"]) == shape_key(b, ["params.lr"])
    assert shape_key(a, []) != shape_key(b, [])
    assert shape_key(a, ["params.lr"]) != shape_key(c, ["params.lr"])


def test_a_total_at_the_limit_is_not_over_it_and_one_over_reads_so() -> None:
    """A sweep of 120 runs of 5 minutes summed to 10.000000000000002 CPU-hours and asked '10 CPU-hours >
    10'. At the limit it does not ask; a little over, its figure shows the digits that make it more."""
    spec = _spec(time="00:05:00")
    est = estimate(spec, None, None, 1, DEFAULT)  # type: ignore[arg-type]
    limit = DEFAULT.confirm_above.cpu_hours
    at = dataclasses.replace(est, cpu_hours=sum([limit / 120] * 120))
    assert at.cpu_hours != limit and not gate(at, spec, DEFAULT).needs_confirmation  # type: ignore[arg-type]
    over = gate(dataclasses.replace(est, cpu_hours=limit + 0.02), spec, DEFAULT)  # type: ignore[arg-type]
    assert over.reasons == [f"{limit + 0.02:.4g} CPU-hours > {limit:g}"], over.reasons


def test_a_cost_at_its_limit_is_not_over_it_and_one_over_reads_so() -> None:
    """The money limit and the wall-time limit compare as the hours do: beyond float rounding, and a figure
    a little over its limit shows the digits that make it more ('cost 100.004 > 100', not '100.00')."""
    spec = _spec(time="00:05:00")
    est = estimate(spec, None, None, 1, DEFAULT)  # type: ignore[arg-type]
    limits = DEFAULT.confirm_above.model_copy(update={"cost": 100.0})
    profile = DEFAULT.model_copy(update={"confirm_above": limits})
    at = dataclasses.replace(est, cost=sum([100.0 / 120] * 120))
    assert at.cost != 100.0 and not gate(at, spec, profile).needs_confirmation  # type: ignore[arg-type]
    over = gate(dataclasses.replace(est, cost=100.004), spec, profile)  # type: ignore[arg-type]
    assert over.reasons == ["cost 100.004 > 100"], over.reasons
    far = gate(dataclasses.replace(est, cost=250.0), spec, profile)  # type: ignore[arg-type]
    assert far.reasons == ["cost 250.00 > 100"], far.reasons
    minutes = DEFAULT.confirm_above.wall_minutes
    edge = dataclasses.replace(est, wall_seconds=sum([minutes * 60 / 7] * 7))  # the limit, summed
    roomy = _spec(time="01:00:00")  # (under a 5-minute limit, a 10-minute estimate is a risk of its own)
    assert not gate(edge, roomy, DEFAULT).needs_confirmation  # type: ignore[arg-type]
    # the time limit itself compares the same way: an estimate of it, summed, is not past it
    at_limit = dataclasses.replace(est, wall_seconds=sum([300 / 17] * 17))  # 300.00000000000006
    assert not gate(at_limit, spec, DEFAULT).risks  # type: ignore[arg-type]


def test_the_estimate_line_says_hours_as_a_person_would() -> None:
    """'1 CPU-hours' and '0.000556 CPU-hours' were printed in the manifest block (a user trial)."""
    from clusterrun.analysis.estimate import describe

    base = {"wall_seconds": 2.0, "basis": "b"}
    assert describe({**base, "cpu_hours": 1}).endswith("1 CPU-hour")
    assert describe({**base, "cpu_hours": 0.000556}).endswith("under 0.01 CPU-hours")
    assert describe({**base, "cpu_hours": 2.5, "gpu_hours": 1.0}).endswith("2.5 CPU-hours, 1 GPU-hour")
    assert describe({**base, "cpu_hours": 0}).endswith("0 CPU-hours")
