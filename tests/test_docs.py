"""The documentation site in site/: generated pages are current, every diagnosis has its fix documented,
and the JSON Schema shipped for editors accepts the bundled configs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from clusterrun.diagnose.rules import CATEGORIES

REPO = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", REPO / "scripts" / "gen_config_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_and_schema_are_current(tmp_path: Path) -> None:
    _generator().generate(tmp_path / "config.md", tmp_path / "schema.json")
    hint = "run: python scripts/gen_config_reference.py"
    assert (REPO / "site" / "config.md").read_text() == (tmp_path / "config.md").read_text(), hint
    shipped = REPO / "clusterrun" / "schemas" / "experiment.schema.json"
    assert shipped.read_text() == (tmp_path / "schema.json").read_text(), hint


def test_every_diagnosis_category_is_documented() -> None:
    guide = (REPO / "site" / "guides" / "failures.md").read_text()
    missing = [c for c in CATEGORIES if f"| `{c}` |" not in guide]
    assert not missing, f"site/guides/failures.md lacks {missing}: add a row with the fix"


def test_every_page_in_the_nav_exists() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    listed = pages(config["nav"])
    assert "cli.md" in listed and "config.md" in listed
    assert [p for p in listed if not (REPO / "site" / p).is_file()] == []


@pytest.mark.parametrize(
    "config", sorted((REPO / "configs" / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_the_schema_accepts_the_bundled_configs(config: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "clusterrun" / "schemas" / "experiment.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(config.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "command": "python t.py", "resourcez": {}}, schema)
