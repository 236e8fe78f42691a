"""Write site/cli.md, the CLI reference, with typer's own docs generator (from the app itself).

tests/test_cli_reference.py keeps it current.  Run:  python scripts/gen_cli_reference.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "site" / "cli.md"


def generate(out: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "clusterrun.cli.app",
            "utils",
            "docs",
            "--name",
            "clusterrun",
            "--title",
            "clusterrun command reference",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


if __name__ == "__main__":
    generate(OUT)
    print(f"wrote {OUT}")
