"""The committed CLI reference (site/cli.md) matches the CLI."""

from __future__ import annotations

import importlib.util
import re
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
    fresh = (tmp_path / "cli.md").read_text()
    current = (REPO / "site" / "cli.md").read_text()
    hint = "site/cli.md is out of date: run python scripts/gen_cli_reference.py"
    if current.splitlines()[0] == fresh.splitlines()[0]:  # same typer: the text must match exactly
        assert current == fresh, hint
    else:  # another typer formats differently: every command and option must still be documented
        names = re.findall(r"`(--[a-z-]+)[` ]", fresh) + re.findall(r"`(clusterrun [a-z]+)`", fresh)
        assert len(names) > 20
        for name in names:
            assert name in current, f"{name} missing; {hint}"
    for command in ("submit", "status", "show", "logs", "cancel", "reproduce", "compare", "doctor"):
        assert f"## `clusterrun {command}`" in current
