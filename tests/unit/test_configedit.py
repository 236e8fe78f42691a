"""The edits of an uncommitted config, said as the overrides that record the same run."""

from __future__ import annotations

from pathlib import Path

from clusterrun.config.overrides import parse_override_full
from clusterrun.inputs.configedit import dirty_config_hint, edits_as_overrides
from clusterrun.inputs.gitstate import capture
from tests.helpers import git

BASE = "name: t\nparams:\n  lr: 0.1\n  epochs: 10\n  tag: base\nresources: {mem: 4G}\n"


def test_changed_values_become_overrides_that_parse_back_to_them() -> None:
    edited = BASE.replace("lr: 0.1", "lr: 0.2").replace("mem: 4G", "mem: 8G")
    assert edits_as_overrides(BASE, edited) == ["params.lr=0.2", "resources.mem=8G"]


def test_a_new_key_is_set_or_added_and_text_is_quoted_for_the_shell() -> None:
    edited = BASE.replace("tag: base", "tag: two words\n  dropout: 0.5")
    tokens = edits_as_overrides(BASE, edited)
    assert tokens == ["'params.tag=two words'", "++params.dropout=0.5"]
    assert parse_override_full("params.tag=two words").value == "two words"


def test_a_type_change_is_kept_as_its_type() -> None:
    # 10 -> '10' (a quoted string) is a change; an override of 10 would give the int back: not offered
    assert edits_as_overrides(BASE, BASE.replace("epochs: 10", "epochs: '10'")) is None
    assert edits_as_overrides(BASE, BASE.replace("epochs: 10", "epochs: 10.0")) == ["params.epochs=10.0"]
    # true is not 1
    assert edits_as_overrides("a: 1\n", "a: true\n") == ["a=true"]


def test_what_overrides_cannot_say_exactly_is_not_offered() -> None:
    assert edits_as_overrides(BASE, BASE.replace("  tag: base\n", "")) is None  # a key removed
    assert edits_as_overrides(BASE, BASE + "sweep: {grid: {lr: [0.1, 0.2]}}\n") is None  # the sweep
    assert edits_as_overrides(BASE, BASE.replace("tag: base", "tag: [a, b]")) is None  # a list
    assert edits_as_overrides(BASE, BASE.replace("tag: base", "tag: a,b")) is None  # a comma: a sweep
    assert edits_as_overrides(BASE, BASE) is None  # nothing changed (a comment, say)
    assert edits_as_overrides(BASE, "params: [\n") is None  # not YAML
    many = BASE.replace("lr: 0.1", "lr: 1").replace("epochs: 10", "epochs: 2").replace("base", "x")
    assert edits_as_overrides(BASE, many.replace("4G", "1G") + "seed: 3\n") is None  # too many to read


def test_the_hint_keeps_the_command_line_and_drops_what_it_already_sets(tmp_path: Path) -> None:
    config = tmp_path / "configs" / "t.yaml"
    config.parent.mkdir()
    config.write_text(BASE)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "c")
    config.write_text(BASE.replace("lr: 0.1", "lr: 0.2").replace("epochs: 10", "epochs: 3"))
    state = capture(tmp_path)
    hint = dirty_config_hint(state, config, "configs/t.yaml", ["params.epochs=5"])
    assert hint is not None
    assert "clusterrun submit configs/t.yaml params.epochs=5 params.lr=0.2)" in hint  # not epochs=3 as well
    assert dirty_config_hint(state, config, "configs/t.yaml", ["params.epochs=5", "params.lr=1"]) is not None
    assert "is the config you submit" in str(
        dirty_config_hint(state, config, "t.yaml", ["params.epochs=5", "params.lr=1"])
    )
    git(tmp_path, "commit", "-qam", "edited")
    (tmp_path / "other.py").write_text("x = 1\n")
    git(tmp_path, "add", "other.py")  # dirty, and not the config: the general refusal
    assert dirty_config_hint(capture(tmp_path), config, "configs/t.yaml") is None
