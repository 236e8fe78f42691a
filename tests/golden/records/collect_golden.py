"""Copy the records of a registry made by make_golden.sh to OUT/<role>/ (used by make_golden.sh)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any


def main(runs: Path, out: Path) -> None:
    def manifest(run: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((run / "manifest.json").read_text())
        return data

    found = sorted(p for p in runs.iterdir() if (p / "manifest.json").is_file())
    plain = [
        p
        for p in found
        if p.name.startswith("quickstart_")
        and not manifest(p).get("sweep")
        and not manifest(p).get("reproduces")
    ]
    roles: dict[str, Path] = {"completed": plain[0], "failed": plain[1]}
    for run in found:
        data = manifest(run)
        if run.name.startswith("withdata_"):
            roles["data"] = run
        if data["git"].get("dirty"):
            roles["dirty"] = run
        if data.get("reproduces"):
            roles["reproduction"] = run
        if data.get("sweep"):
            roles.setdefault("sweep-member", run)
        if data["state"] == "smoke_failed":
            roles["smoke-failed"] = run
    for role, run in roles.items():
        (out / role).mkdir(parents=True, exist_ok=True)
        for name in ("manifest.json", "summary.json"):
            if (run / name).is_file():
                shutil.copy(run / name, out / role / name)
    for sweep in sorted(p for p in runs.iterdir() if (p / "sweep.json").is_file()):
        (out / "sweep").mkdir(parents=True, exist_ok=True)
        shutil.copy(sweep / "sweep.json", out / "sweep" / "sweep.json")
    print(f"{out}: {', '.join(sorted(roles))}{', sweep' if (out / 'sweep').is_dir() else ''}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
