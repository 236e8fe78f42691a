"""Shell completion of the values clusterrun knows: config files, cluster profiles, run and sweep ids
(newest first; a unique prefix is enough on the command line, @latest and @latest-failed too).

Each function is a typer `autocompletion` callback: it reads files only (no scheduler, nothing run) and
never fails; a broken registry completes nothing. Install with `clusterrun --install-completion`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from clusterrun.records.registry import Registry

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
MAX_IDS = 200  # newest first; enough for a menu


def _registry(ctx: typer.Context | None) -> Registry:
    root = ctx.find_root() if ctx is not None else None
    runs_dir = root.params.get("runs_dir") if root is not None else None
    from clusterrun.records.registry import Registry  # when completing: `--help` stays light

    return Registry.default(Path(runs_dir) if runs_dir else None)


def _ids(ctx: typer.Context | None, incomplete: str, sweeps: bool) -> list[tuple[str, str]]:
    try:
        registry = _registry(ctx)
        runs = [(run.id, "") for run in registry.runs()]
        swept = [(i, "sweep") for i in registry.sweep_ids()] if sweeps else []
    except (OSError, ValueError):
        return []
    specials = [("@latest", "the newest run"), ("@latest-failed", "the newest run that did not succeed")]
    if incomplete.startswith("@"):
        return [s for s in specials if s[0].startswith(incomplete)]
    newest = sorted([*runs, *swept], key=lambda item: _stamp(item[0]), reverse=True)
    return [item for item in newest if item[0].startswith(incomplete)][:MAX_IDS]


def _stamp(run_id: str) -> tuple[str, int]:
    stamp = run_id.rsplit("_", 1)[-1].split("-")
    suffix = int(stamp[2]) if len(stamp) > 2 and stamp[2].isdigit() else 0
    return "-".join(stamp[:2]), suffix


def complete_runs(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Run ids, newest first."""
    return _ids(ctx, incomplete, sweeps=False)


def complete_targets(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Run and sweep ids, newest first (a sweep stands for its members)."""
    return _ids(ctx, incomplete, sweeps=True)


def complete_configs(incomplete: str) -> list[str]:
    """Config files under configs/ (not the cluster profiles); for a path typed further than those, the
    directories and config files there."""
    here = Path.cwd()
    found: list[str] = []
    configs = here / "configs"
    if configs.is_dir():
        for path in sorted(configs.rglob("*")):
            rel = path.relative_to(here)
            if path.suffix in CONFIG_SUFFIXES and "clusters" not in rel.parts and path.is_file():
                found.append(str(rel))
    matches = [c for c in found if c.startswith(incomplete)]
    if matches or not incomplete:
        return matches
    folder = here / incomplete if incomplete.endswith("/") else (here / incomplete).parent
    try:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []
    listed = [
        (str(p.relative_to(here)) if p.is_relative_to(here) else str(p)) + ("/" if p.is_dir() else "")
        for p in entries
        if not p.name.startswith(".") and (p.is_dir() or p.suffix in CONFIG_SUFFIXES)
    ]
    return [c for c in listed if c.startswith(incomplete)]


def complete_clusters(ctx: typer.Context, incomplete: str) -> list[str]:
    """Cluster profiles: configs/clusters/*.yaml (and $CLUSTERRUN_CLUSTERS_DIR)."""
    from clusterrun.config import profiles

    config = ctx.params.get("config") if ctx is not None else None
    dirs = profiles.search_dirs(Path(config) if config else None, Path.cwd())
    return [name for name in profiles.available(dirs) if name.startswith(incomplete)]


def complete_states(incomplete: str) -> list[str]:
    from clusterrun.cli.choices import complete_states as states

    return states(incomplete)


def complete_where_keys(ctx: typer.Context, incomplete: str) -> list[str]:
    """Keys of the newest runs (params.*, metrics.*, data.*, resources.*) and the run fields."""
    from clusterrun.services.listing import record_fields
    from clusterrun.services.query import FIELDS

    keys: dict[str, Any] = dict.fromkeys(FIELDS)
    try:
        registry = _registry(ctx)
        for run in list(registry.runs())[:20]:
            keys |= dict.fromkeys(k for k in record_fields(registry, run.id) if "." in k)
            keys |= dict.fromkeys(f"metrics.{m}" for m in _metric_names(run.path))
    except Exception:  # completion never fails
        pass
    head, sep, last = incomplete.rpartition(",")
    prefix = head + sep
    return [prefix + k for k in keys if k.startswith(last)]


def _metric_names(run_dir: Path) -> list[str]:
    from clusterrun.records import store

    summary = store.read_summary(run_dir)
    return list(summary.metrics) if summary is not None else []
