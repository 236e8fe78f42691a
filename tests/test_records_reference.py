"""The committed records reference (site/records.md) matches the record models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from clusterrun.records import models

REPO = Path(__file__).resolve().parents[1]


def test_records_reference_is_current(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_records_reference", REPO / "scripts" / "gen_records_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path / "records.md")
    current = (REPO / "site" / "records.md").read_text()
    assert current == (tmp_path / "records.md").read_text(), (
        "site/records.md is out of date: run python scripts/gen_records_reference.py"
    )
    for name in ("manifest.json", "summary.json", "sweep.json"):
        assert f"## `{name}`" in current
    parts = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, models.RecordModel)]
    for model in parts:  # every field of every part is documented, with a description
        if model is models.RecordModel:
            continue
        assert f'<a id="{model.__name__.lower()}"></a>' in current, model
        for field_name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{field_name} has no description"
            assert f"| `{field_name}` |" in current
