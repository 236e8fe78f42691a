"""The committed CLI reference (site/cli.md) matches the CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_reference", REPO / "scripts" / "gen_cli_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path / "cli.md")
    current = (REPO / "site" / "cli.md").read_text()
    assert current == (tmp_path / "cli.md").read_text(), (
        "site/cli.md is out of date: run python scripts/gen_cli_reference.py"
    )
    for command in ("submit", "status", "show", "logs", "cancel", "reproduce", "compare", "doctor"):
        assert f"## `clusterrun {command}`" in current
