"""`clusterrun site`: a static dashboard of the registry, regenerated incrementally.

Layout of the output directory (default `runs/site/`), all relative links, so it works from file:// and
can be copied anywhere (the links to run files need the registry beside it):

    index.html            every selected run: state, name, sweep, started, duration, params, metrics
    runs/<run_id>.html    one run: manifest and results blocks, curves, config, git, environment, logs...
    sweeps/<sweep>.html   one sweep: every member's curves, final metric against each axis, right-sizing
    compare.html          any two runs, chosen in the page (?a=RUN&b=RUN): differences and curves overlaid
    data/<run_id>.js      a run's metrics and what compare needs, loaded by <script> (file:// allows it)
    static/               uPlot (MIT, vendored), site.css, site.js
    .clusterrun-site.json what each page was made from (sizes and mtimes), for the next build

A run's pages are made again only when one of its files changed (or a run it is linked with, as original
or reproduction); the index when any run did. Nothing is fetched from the network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterrun.dashboard import pages
from clusterrun.dashboard.records import file_signature, read_run, read_sweep, signature
from clusterrun.dashboard.render import ASSETS, STATIC, render, script_json, templates_digest
from clusterrun.errors import ClusterrunError
from clusterrun.records import index as registry_index
from clusterrun.records.jsonio import read_json_or_empty, write_text_atomic
from clusterrun.records.registry import SWEEP_FILE, Registry
from clusterrun.scheduler.base import TERMINAL
from clusterrun.services.fanout import fanout_map

SITE_FORMAT = 1
STATE_FILE = ".clusterrun-site.json"
#: States after which nothing changes unless the record does (no scheduler poll needed).
SETTLED = TERMINAL | {"smoke_failed", "interrupted", "dry_run", "submit_failed", "not_submitted", "damaged"}


@dataclass
class Blocks:
    """The CLI's text renderers (the manifest and results blocks of DESIGN.md), so the pages show exactly
    what the terminal shows; the dashboard does not import the CLI."""

    manifest: Callable[[dict[str, Any]], str]
    results: Callable[[dict[str, Any], str, str], str]  # (summary, run directory, the run it reproduces)


@dataclass
class SiteReport:
    out: Path
    runs: int
    sweeps: int
    written: list[str] = field(default_factory=list)  # pages made in this build, relative to `out`
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def as_record(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "index": str(self.index),
            "runs": self.runs,
            "sweeps": self.sweeps,
            "written": self.written,
            "seconds": round(self.seconds, 3),
            "warnings": self.warnings,
        }


def default_out(registry: Registry) -> Path:
    return registry.root / "site"


def select(registry: Registry, ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """(run ids, sweep ids) to show: the named runs and sweeps (a sweep brings its members), else all;
    unknown ids are refused with the registry's hint (close matches)."""
    named = list(ids)
    if not named:
        return [run.id for run in registry.runs()], sorted(registry.sweep_ids(), reverse=True)
    runs: list[str] = []
    sweeps: list[str] = []
    for run_id in named:
        if registry.is_sweep(run_id):
            sweeps.append(run_id)
            record = read_sweep(registry.get(run_id, allow_sweep=True).path)
            runs += [str(m.get("run_id")) for m in record.get("members") or []]
        else:
            runs.append(registry.get(run_id).id)
    return list(dict.fromkeys(runs)), list(dict.fromkeys(sweeps))


def _assets_digest(blocks_id: str) -> str:
    digest = hashlib.sha256(f"{SITE_FORMAT}\0{blocks_id}\0{templates_digest()}".encode())
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


#: The runs read for the index whose records are kept for their pages; the others' are read again for
#: theirs. A first build of 10,000 runs held every record until its page was written: 532 MB.
FRESH_KEPT = 256


def _write(out: Path, rel: str, text: str, written: list[str]) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    written.append(rel)


def build(
    registry: Registry,
    ids: Iterable[str] = (),
    out: Path | None = None,
    blocks: Blocks | None = None,
    poll: Callable[[list[str]], list[str]] | None = None,
) -> SiteReport:
    """Make or bring up to date the site of the selected runs and sweeps (default: all of them).

    `poll(run_ids) -> warnings` refreshes the runs that may still change (one scheduler query); the
    CLI passes the status service's refresh, a test or benchmark nothing."""
    started = time.perf_counter()
    out = (out or default_out(registry)).absolute()
    if out.exists() and not out.is_dir():
        raise ClusterrunError(f"--out {out} is a file", hint="give a directory (it is created if missing)")
    run_ids, sweep_ids = select(registry, ids)
    report = SiteReport(out, len(run_ids), len(sweep_ids))
    blocks = blocks or Blocks(pages.plain_block, lambda summary, _d, _r: pages.plain_block(summary))
    assets = _assets_digest(f"{blocks.manifest.__module__}.{blocks.manifest.__qualname__}")
    state = read_json_or_empty(out / STATE_FILE)
    if state.get("assets") != assets:
        state = {}
    cached: dict[str, Any] = dict(state.get("runs") or {})
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClusterrunError(
            f"cannot create {out}: {exc.strerror or exc}", hint="choose another directory with --out"
        ) from None

    if poll is not None:
        unsettled = [i for i in run_ids if (cached.get(i) or {}).get("row", {}).get("state") not in SETTLED]
        if any(i not in cached for i in unsettled):  # a first build: the registry index says which may change
            known = registry_index.entries(registry.root)
            unsettled = [i for i in unsettled if i in cached or _may_change(known.get(i))]
        if unsettled:
            report.warnings += poll(unsettled)

    # 1. what changed: read only those runs again
    rows: dict[str, dict[str, Any]] = {}
    sigs: dict[str, Any] = {}
    fresh: dict[str, Any] = {}
    changed: list[str] = []
    for run_id in run_ids:
        entry = cached.get(run_id) or {}
        sig = signature(
            registry.root / run_id, str((entry.get("row") or {}).get("metrics_file") or "metrics.jsonl")
        )
        if entry.get("sig") == sig and entry.get("row"):
            rows[run_id] = entry["row"]
            sigs[run_id] = sig
        else:
            changed.append(run_id)

    def looked(run_id: str) -> tuple[dict[str, Any], Any, str]:
        """A changed run's index row, its signature and its problem, read over the cores (a record read
        in this process is kept for its page: FRESH_KEPT)."""
        path = registry.root / run_id
        record = read_run(path)
        if len(fresh) < FRESH_KEPT:
            fresh[run_id] = record
        row = pages.index_row(record)
        return row, signature(path, row["metrics_file"]), record.problem or ""

    for run_id, (row, sig, problem) in zip(changed, fanout_map(looked, changed), strict=True):
        if problem:
            report.warnings.append(problem)
        rows[run_id], sigs[run_id] = row, sig

    # 2. links between runs: a page shows its original and its reproductions, with their states
    reproduced_by: dict[str, list[str]] = {}
    for run_id, row in rows.items():
        if row.get("reproduces"):
            reproduced_by.setdefault(str(row["reproduces"]), []).append(run_id)
    page_keys: dict[str, Any] = {}
    for run_id in run_ids:
        linked = [rows[run_id].get("reproduces"), *reproduced_by.get(run_id, [])]
        page_keys[run_id] = [sigs[run_id], [[i, sigs.get(i)] for i in linked if i]]
    todo = [
        run_id
        for run_id in run_ids
        if (cached.get(run_id) or {}).get("page") != page_keys[run_id]
        or not (out / "runs" / f"{run_id}.html").is_file()
    ]

    def made(run_id: str) -> list[str]:
        """A run's page and data script, written; what was written (done over the cores: pages of
        10,000 runs are most of a first build)."""
        record = fresh.get(run_id) or read_run(registry.root / run_id)
        context = pages.run_page(registry, record, rows, reproduced_by.get(run_id, []), blocks, out)
        written: list[str] = []
        _write(out, f"data/{run_id}.js", pages.data_script(record, rows[run_id]), written)
        _write(out, f"runs/{run_id}.html", render("run.html.j2", context), written)
        return written

    for written in fanout_map(made, todo):
        report.written += written
    fresh.clear()

    # 3. sweeps: remade when the sweep record or a member changed
    sweep_state: dict[str, Any] = dict(state.get("sweeps") or {})
    new_sweeps: dict[str, Any] = {}
    for sweep_id in sweep_ids:
        sweep_dir = registry.root / sweep_id
        try:
            sweep = read_sweep(sweep_dir)
        except ClusterrunError as exc:  # a damaged sweep record hides only its own page
            report.warnings.append(exc.message)
            continue
        members = [str(m.get("run_id")) for m in sweep.get("members") or []]
        key = [file_signature(sweep_dir / SWEEP_FILE), [sigs.get(m) for m in members]]
        new_sweeps[sweep_id] = {"key": key, "name": sweep.get("name"), "members": len(members)}
        if (sweep_state.get(sweep_id) or {}).get("key") == key and (
            out / "sweeps" / f"{sweep_id}.html"
        ).is_file():
            continue
        member_rows = [rows[m] for m in members if m in rows]
        _write(
            out,
            f"sweeps/{sweep_id}.html",
            render("sweep.html.j2", pages.sweep_page(sweep, member_rows)),
            report.written,
        )

    # 4. the index, compare page and static files: when anything changed
    index_key = [[i, sigs[i]] for i in run_ids] + [[s, new_sweeps[s]["key"]] for s in new_sweeps]
    if state.get("index") != index_key or not (out / "index.html").is_file():
        context = pages.index_page([rows[i] for i in run_ids], new_sweeps, registry.root)
        _write(out, "index.html", render("index.html.j2", context), report.written)
        _write(out, "data/index.js", f"CR.index = {script_json(context['choices'])};\n", report.written)
    if state.get("assets") != assets or not (out / "compare.html").is_file():
        _copy_static(out / "static")
        _write(out, "compare.html", render("compare.html.j2", pages.compare_page()), report.written)

    cached.update({i: {"sig": sigs[i], "row": rows[i], "page": page_keys[i]} for i in run_ids})
    saved = {
        "format": SITE_FORMAT,
        "assets": assets,
        "runs": cached,
        "sweeps": {**sweep_state, **new_sweeps},
        "index": index_key,
    }
    # compact, by json's C encoder (a cache for the next build, not for people): json indents in pure
    # Python (the state of 2,000 runs: 0.9 s)
    write_text_atomic(out / STATE_FILE, json.dumps(saved, separators=(",", ":"), default=str) + "\n")
    report.seconds = time.perf_counter() - started
    return report


def _may_change(entry: registry_index.Entry | None) -> bool:
    """Whether a run the site has not shown yet may still change, as the registry index says (polling
    every run of a first build read each manifest in one process: 10,000 runs, about 4 s)."""
    return entry is None or entry.damaged or entry.state.lower() not in SETTLED


def _copy_static(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(STATIC / name, target / name)
