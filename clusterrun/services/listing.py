"""What `clusterrun status` lists: the runs named (a sweep stands for its members, ranked), else the
newest runs filtered by name, state, age, tags and `--where` conditions on params, metrics and notes
(services/query.py); sorted by any key; brought up to date once, or until every one has ended."""

from __future__ import annotations

import fnmatch
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from clusterrun.config.resources import duration_seconds
from clusterrun.errors import ClusterrunError, UsageError
from clusterrun.records import index as registry_index
from clusterrun.records import prettyjson, rowcache, store
from clusterrun.records.models import SUMMARY_FILE, Manifest
from clusterrun.records.registry import Registry, Run
from clusterrun.records.rowcache import RowCache
from clusterrun.records.summary import folders_checked as summaries_folders_checked
from clusterrun.records.summary import read as summary_data
from clusterrun.records.summary import read_nested as summary_nested
from clusterrun.scheduler import TERMINAL
from clusterrun.services import Notify, counting, quiet
from clusterrun.services import notes as notebook
from clusterrun.services.fanout import fanout_map
from clusterrun.services.query import (
    RECORD_KEYS,
    STATE_GROUPS,
    Condition,
    check_keys,
    lookup,
    parse_states,
    parse_where,
    sort_rows,
    split_sort,
)
from clusterrun.services.status import (
    Glance,
    RunStatus,
    StatusReport,
    glance,
    refresh,
    settled,
    settled_status,
    wait,
)
from clusterrun.services.sweeps import SweepView, cpu_hours_estimated, sweep_view, table_part

#: Listings of at least this many runs use the status row cache (records/rowcache.py).
ROW_CACHE_FROM = 100


@dataclass
class StatusQuery:
    run_ids: list[str] = field(default_factory=list)  # runs or sweeps; none: the newest runs, filtered
    name: str | None = None  # glob over run names, e.g. 'resnet*'
    state: str | None = None  # comma-separated states, e.g. 'failed,timeout' (or active, ended)
    since: str | None = None  # '2h', '3d', an ISO date
    limit: int | None = 20  # when no run is named
    sort: str | None = None  # any key (`-key`: descending); for a sweep: the metric that ranks members
    mode: str | None = None  # a sweep's 'min' or 'max' (default: the sweep's own)
    where: list[str] = field(default_factory=list)  # KEY OP VALUE conditions, all of them must hold
    tags: list[str] = field(default_factory=list)  # runs with every one of these tags
    columns: list[str] = field(default_factory=list)  # keys to show instead of the default columns
    descending: bool = False  # --desc
    summaries: bool = True  # each run's whole summary in the view (JSON, a run's results); else not kept
    table: bool = False  # shown as a text table: a sweep's members then need only a few summary fields


@dataclass
class StatusView:
    """The runs of a status query, brought up to date; a sweep's members ranked when one was named."""

    report: StatusReport
    sweep: SweepView | None = None
    single: bool = False  # one run was named and it has ended: its results come with it
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> its flat record (query.py)
    columns: list[str] = field(default_factory=list)  # chosen columns, if any
    no_registry: Path | None = None  # nothing listed because no registry is there (a command run elsewhere)
    filters: list[str] = field(default_factory=list)  # the query's filters as options (an empty listing says)
    #: where the whole summaries of the runs shown from their rows are read, when they are wanted: read
    #: by as_record, or a chunk at a time by json_text (a wide listing's are never all held at once)
    summaries_from: Registry | None = None
    #: run id -> the stamp of its summary file when its row found the file as written
    #: (store.summary_as_written): its JSON is that file's text while the file is that one
    as_written: dict[str, str] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return self.sweep.warnings if self.sweep is not None else self.report.warnings

    @property
    def run_ids(self) -> list[str]:
        return self.sweep.run_ids if self.sweep is not None else self.report.run_ids

    @property
    def done(self) -> int:
        return sum(r.done for r in self.report.runs)

    @property
    def tagged(self) -> bool:
        """Whether any listed run has a tag (the table then shows a TAGS column)."""
        return any(row.get("tag") for row in self.rows.values())

    def tags(self, run_id: str) -> list[str]:
        return list(self.rows.get(run_id, {}).get("tag") or [])

    def cell(self, run_id: str, key: str) -> Any:
        return lookup(self.rows.get(run_id, {}), key)[1]

    def with_summaries(self) -> StatusView:
        """The view with every shown run's whole summary in it (read now if they were left to be read)."""
        if self.summaries_from is not None:
            _with_summaries(self.summaries_from, self.report.runs)
            self.summaries_from = None
        return self

    def json_text(self) -> Iterator[str]:
        """The text of `prettyjson.dumps(self.as_record())`, in pieces: a listing whose summaries are
        left to be read has them read and encoded SUMMARY_CHUNK runs at a time, over the machine's
        cores, and written before the next are read (`status --json` of 10,000 runs: 292 MB -> 70 MB)."""
        if self.sweep is not None or self.summaries_from is None:
            yield prettyjson.dumps(self.as_record())
            return
        head: dict[str, Any] = {"warnings": self.report.warnings}
        if self.columns:
            head["columns"] = self.columns
        yield from prettyjson.stream(head, "runs", self._items(self.summaries_from))

    def _items(self, registry: Registry) -> Iterator[dict[str, Any]]:
        runs = self.report.runs
        for start in range(0, len(runs), SUMMARY_CHUNK):
            part = runs[start : start + SUMMARY_CHUNK]
            texts: dict[str, str | None] = {}
            without = _without_summary(part)
            for shown in without:  # a summary found as written: its file's text, if the file is the same
                stamp = self.as_written.get(shown.run_id)
                if stamp is not None:
                    texts[shown.run_id] = store.summary_text_verified(
                        registry.listed(shown.run_id).path, stamp
                    )
            missing = [r for r in without if texts.get(r.run_id) is None]
            texts |= dict(zip([r.run_id for r in missing], _summary_texts(registry, missing), strict=True))
            for shown in part:
                item = shown.as_record()
                text = texts.get(shown.run_id)
                if text is not None:
                    item["summary"] = prettyjson.Encoded(text)
                self._annotate(item)
                yield item

    def _annotate(self, item: dict[str, Any]) -> None:
        item["tags"] = self.tags(str(item.get("run_id")))
        if self.columns:
            item["columns"] = {key: self.cell(str(item.get("run_id")), key) for key in self.columns}

    def as_record(self) -> dict[str, Any]:
        self.with_summaries()
        record = self.sweep.as_record() if self.sweep is not None else self.report.as_record()
        listed = record.get("members") if self.sweep is not None else record.get("runs")
        for item in listed or []:
            self._annotate(item)
        if self.columns:
            record["columns"] = self.columns
        return record


def filters_of(query: StatusQuery) -> list[str]:
    """The query's filters, as the options that give them (`--where 'params.lr<0.1'`): what an empty
    listing names as having matched nothing."""
    found = [f"--name {shlex.quote(query.name)}"] if query.name else []
    found += [f"--state {query.state}"] if query.state else []
    found += [f"--since {query.since}"] if query.since else []
    found += [f"--where {shlex.quote(text)}" for text in query.where]
    found += [f"--tag {shlex.quote(tag)}" for tag in query.tags]
    return found


def status(
    registry: Registry,
    query: StatusQuery,
    watch: bool = False,
    on_refresh: Callable[[StatusView], None] = lambda _v: None,
    notify: Notify = quiet,
) -> StatusView:
    """The query's runs brought up to date (one scheduler query per backend); with `watch`, again and
    again until every one has ended, each view (also an empty one) passed to `on_refresh` as it comes.
    Bad states, conditions, sort keys and columns are usage errors before anything is polled. `notify`
    sees a bar while many runs are read or recorded (not while watching: the table is drawn then)."""
    states = parse_states(query.state)
    conditions = [parse_where(text) for text in query.where]
    tags = notebook.check_tags(query.tags)
    sort_key, descending = split_sort(query.sort, query.descending)
    named = [registry.resolve(text, allow_sweep=True) for text in query.run_ids]  # prefixes, @latest
    sweep_id = named[0] if len(named) == 1 and registry.is_sweep(named[0]) else None
    ranked_by_key = bool(conditions or tags or states or (sort_key and sweep_id is None))
    ids = (
        expand_ids(registry, named)
        if named
        else select(
            registry,
            query.name,
            query.state,
            query.since,
            None if ranked_by_key else query.limit,
            keep_active=True,
        )
    )
    early = [c for c in conditions if c.key.split(".")[0] in (*RECORD_KEYS, "params", "data", "resources")]
    # each manifest is read once, here: a run that may still change is handed on to refresh with it; a
    # settled run is shown at once (when no filter may drop it) and its manifest is not kept
    manifests: dict[str, Manifest] = {}
    glances: dict[str, Glance] = {}  # runs only a poll may change, known without their manifests (_look)
    done: dict[str, RunStatus] = {}
    records: dict[str, dict[str, Any]] = {}
    # a plain table needs only each run's tags of its record; filters, columns, sorts and sweeps all of it
    full = bool(conditions or tags or states or sort_key or query.columns or sweep_id or watch)
    # a plain table of settled runs comes from the row cache, without opening their records; so does a
    # sweep's table (its rows also hold what its totals need: SWEEP_KEY, sweeps.table_part)
    wide = len(ids) >= ROW_CACHE_FROM  # a short listing reads its few records faster than the cache
    swept_rows = sweep_id is not None and query.table and not _chosen(query, watch)
    plain_rows = not full  # with query.summaries (JSON), the shown runs' whole summaries are read at the end
    # a filtered or sorted listing's settled runs come from rows of their whole records, kept apart (a
    # tag filter alone reads each run's notes first, below: faster than the rows when few runs are tagged)
    full_rows = full and not watch and sweep_id is None and bool(early or not tags)
    kept_in = rowcache.RECORDS_FILE if full_rows else rowcache.CACHE_FILE
    cache = RowCache(registry.root, kept_in) if wide and (plain_rows or swept_rows or full_rows) else None
    changing: dict[str, tuple[Run, rowcache.Stamps]] = {}  # runs handed to refresh, with their stamps
    as_written: dict[str, str] = {}  # runs whose row found their summary as written: its file's stamp
    # named runs (a sweep's members) are checked as registry.get does, a thousand with one listing
    checked = registry.get_many(ids) if named else {}
    if cache is not None:  # the runs the cache does not hold, looked at over the machine's cores
        left: list[tuple[Run, rowcache.Stamps]] = []
        for run_id in ids:
            run = checked[run_id] if named else registry.listed(run_id)
            before = rowcache.stamps(run.path)  # taken before anything of the run is read
            cached = cache.get(run_id, before)
            if cached is None or not _from_cache(run_id, cached, records, done, swept_rows):
                left.append((run, before))
            elif cached.get(AS_WRITTEN):
                as_written[run_id] = before.split(",")[1]  # (the stamps of manifest, summary, notes)
        reading = counting(notify, f"reading {len(left):,} runs", len(left))
        # (a sweep's one scheduler folder checked once per worker, not once per member)
        # (no whole summary: JSON reads it last, and a plain table's row says whether it may take its text)
        look = partial(_look, swept=swept_rows, full=full_rows, plain=plain_rows)
        with reading as step, summaries_folders_checked():
            looked_at = fanout_map(look, left, step)
        for seen, looked in zip(left, looked_at, strict=True):
            _take(seen, looked, cache, records, manifests, done, glances)
            if looked[1] is not None:
                changing[seen[0].id] = seen
        cache.save()
        ids_read: Sequence[str] = ()
    else:
        ids_read = ids
    requested: dict[str, float] = {}  # a sweep's members' estimated CPU-hours, read once, here
    for run_id in ids_read:
        # ids the registry listed need no second look; named ones (and sweep members) were checked
        run = checked[run_id] if named else registry.listed(run_id)
        if tags and not early and not _keep(tags_of(run), (), tags):
            continue  # a tag filter reads a run's notes first: the runs it drops are not read whole
        manifest = _manifest(run)
        records[run_id] = fields_of(run, manifest) if full else tags_of(run)
        if sweep_id is not None and manifest is not None:
            requested[run_id] = cpu_hours_estimated(manifest)
        if manifest is None:
            continue
        if not settled(manifest):
            manifests[run_id] = manifest
        elif not (early or tags):  # a watch keeps its summaries (its refreshes do)
            try:
                done[run_id] = settled_status(run, manifest, query.summaries or watch)
            except ClusterrunError:  # a summary from a newer clusterrun: refresh reports it (one row)
                manifests[run_id] = manifest
    for run_id, record in records.items():  # a sweep's rows the cache held, or _look made
        if SWEEP_KEY in record:
            requested[run_id] = float(record[SWEEP_KEY])
    check_keys([c.key for c in early], list(records.values()), "--where")
    ids = [i for i in ids if i in records and _keep(records[i], early, tags)]
    late = [c for c in conditions if c not in early]
    limit = query.limit if not named else None
    if not ids:
        # no registry yet at the top of a git repository: a project without runs yet, not a wrong directory
        project = (registry.root.parent / ".git").exists()
        missing = None if registry.root.is_dir() or project else registry.root
        empty = StatusView(
            StatusReport([], [], 0), columns=query.columns, no_registry=missing, filters=filters_of(query)
        )
        if watch:
            on_refresh(empty)
        return empty

    def view(report: StatusReport) -> StatusView:
        if not full:
            rows = records
        elif watch:  # each refresh's view starts from the records as read
            rows = {r.run_id: records.get(r.run_id, {}) | run_fields(r) for r in report.runs}
        else:  # one view, after the row cache's last save: the shown runs' records updated in place
            rows = {}  # (a copy of 10,000 was 7 MB)
            for r in report.runs:
                row = rows[r.run_id] = records.setdefault(r.run_id, {})
                row.update(run_fields(r))
        if states is not None:  # what the runs are now, the scheduler asked (select kept what may change)
            report = _only(report, [r.run_id for r in report.runs if r.state in states])
        if late:
            check_keys([c.key for c in late], list(rows.values()), "--where")
            report = _only(report, [r.run_id for r in report.runs if _keep(rows[r.run_id], late, [])])
        if query.columns:
            check_keys(query.columns, list(rows.values()), "--columns")
        if sweep_id is not None:
            mode = "max" if descending and query.mode is None else query.mode
            swept = sweep_view(registry, sweep_id, report, sort_key, mode, requested)
            return StatusView(report, swept, rows=rows, columns=query.columns)
        if sort_key:
            check_keys([sort_key], list(rows.values()), "--sort")
            ordered = sort_rows([rows[r.run_id] for r in report.runs], sort_key, descending)
            report = _only(report, [str(row["run_id"]) for row in ordered])
        if limit is not None and len(report.runs) > limit:
            report = _only(report, report.run_ids[:limit])
        # rows hold no whole summary: read when the view is shown (StatusView.json_text, as_record)
        source = registry if cache is not None and query.summaries and not swept_rows else None
        single = len(named) == 1 and all(r.done for r in report.runs)
        return StatusView(
            report,
            single=single,
            rows=rows,
            columns=query.columns,
            summaries_from=source,
            filters=filters_of(query),
            as_written=as_written,
        )

    if not watch:
        report = refresh(
            registry,
            ids,
            known=manifests,
            done=done,
            keep_summaries=query.summaries,
            notify=notify,
            glances=glances,
        )
        if cache is not None and report.settled_writes:
            _keep_rows(cache, report, changing, records, swept_rows)
        return view(report)
    last: list[StatusView] = []

    def refreshed(report: StatusReport) -> None:
        last[:] = [view(report)]
        on_refresh(last[0])

    wait(registry, ids, on_refresh=refreshed, known=manifests, done=done)
    return last[0]


def _keep(row: Mapping[str, Any], conditions: Sequence[Condition], tags: Sequence[str]) -> bool:
    have = row.get("tag") or []
    return all(t in have for t in tags) and all(c.matches(row) for c in conditions)


def _only(report: StatusReport, run_ids: Sequence[str]) -> StatusReport:
    """The report with these runs only, in this order."""
    by_id = {r.run_id: r for r in report.runs}
    return StatusReport([by_id[i] for i in run_ids if i in by_id], report.warnings, report.queries)


#: (a run's record, what refresh needs of it when it may still change: a Glance, or its manifest when
#: more than a poll may change it; its row when it is settled), for the run and stamps looked at: what a
#: worker hands back (not the run and stamps the parent has: 10,000 copies of them were 5 MB more)
Looked = tuple[dict[str, Any], Glance | Manifest | None, RunStatus | None]

#: a row's key saying its run's summary file was found as written (store.summary_as_written) when the
#: row was made: `status --json` takes the file's text while the file is the same one
AS_WRITTEN = "summary_as_written"


#: a sweep member's row in the row cache holds its estimated CPU-hours (the sweep's totals) under this
#: key, and the few summary fields its table shows (sweeps.table_part): a row without it is a plain one
SWEEP_KEY = "cpu_hours_estimated"


def _chosen(query: StatusQuery, watch: bool) -> bool:
    """Anything that makes a sweep's view read each member's whole record: filters, a sort, columns."""
    return bool(query.where or query.tags or query.state or query.sort or query.columns or watch)


def _look(
    seen: tuple[Run, rowcache.Stamps], swept: bool = False, full: bool = False, plain: bool = False
) -> Looked:
    """A run of a plain table (`swept`: of a sweep's; `full`: of a listing that filters or sorts) the
    row cache does not hold, with its stamps (taken before anything was read): its tags (`full`: its
    whole record), and, for a run that may still change, a glance of it (or its manifest when more than
    a poll may change it: status.glance), or, settled, its row. A glance, not the manifest: the worker
    that records the run reads it again, and the listing never holds every manifest of a big registry
    at once."""
    run, _before = seen
    manifest = _manifest(run)
    record = fields_of(run, manifest) if full else tags_of(run)
    if swept and manifest is not None:
        record[SWEEP_KEY] = cpu_hours_estimated(manifest)
    if manifest is None or not settled(manifest):
        return record, None if manifest is None else glance(run, manifest) or manifest, None
    try:
        shown = settled_status(run, manifest, swept)
    except ClusterrunError:  # a summary from a newer clusterrun: refresh reports it (one row, a warning)
        return record, manifest, None
    if swept:
        shown.summary = table_part(shown.summary)
    elif plain and store.summary_as_written(run.path):  # (a listing whose JSON will want it)
        record[AS_WRITTEN] = True
    return record, None, shown


def _take(
    seen: tuple[Run, rowcache.Stamps],
    looked: Looked,
    cache: RowCache,
    records: dict[str, dict[str, Any]],
    manifests: dict[str, Manifest],
    done: dict[str, RunStatus],
    glances: dict[str, Glance],
) -> None:
    run, before = seen
    record, changing, shown = looked
    written = bool(record.pop(AS_WRITTEN, False))
    records[run.id] = record
    if isinstance(changing, Glance):
        glances[run.id] = changing
    elif changing is not None:
        manifests[run.id] = changing
    if shown is not None:
        done[run.id] = shown
        if shown.state in TERMINAL:
            # made when the rows are saved, before anything changes the record (the view comes last)
            cache.put_held(run.id, run.path, before, partial(_row, shown, record, written))


def _row(shown: RunStatus, record: dict[str, Any], as_written: bool = False) -> dict[str, Any]:
    """A settled run's row in the row cache: its status and its record (and AS_WRITTEN)."""
    return {"status": shown.as_record(), **record, **({AS_WRITTEN: True} if as_written else {})}


def _keep_rows(
    cache: RowCache,
    report: StatusReport,
    changing: Mapping[str, tuple[Run, rowcache.Stamps]],
    records: Mapping[str, dict[str, Any]],
    swept: bool = False,
) -> None:
    """The rows of runs the refresh has just settled, kept: made from the manifest read before (its
    stamps taken before the read) or the one the refresh wrote, and likewise the summary, with each
    file's stamps as it was read or written (a later writer's file never passes for it)."""
    for shown in report.runs:
        written = report.settled_writes.get(shown.run_id)
        seen = changing.get(shown.run_id)
        if written is None or seen is None:
            continue
        run, before = seen
        # (the notes, whose tags the row shows, are appended to, never written by the refresh)
        made_from = rowcache.merged(before, written)
        status = shown.as_record()
        # a sweep member's row: the summary fields its table shows; another's none (JSON reads it whole)
        status["summary"] = table_part(shown.summary) if swept else None
        record = records[run.id]
        if "state" in record:  # a whole record, read before the refresh recorded the end
            record = record | {"state": shown.state}
        if SUMMARY_FILE in written and not swept:  # written just now by write_summary, where it is
            record = record | {AS_WRITTEN: True}
        cache.put(run.id, run.path, made_from, {"status": status, **record})
    cache.save()


def _with_summaries(registry: Registry, runs: Sequence[RunStatus]) -> None:
    """The whole summary of each run shown without one (a settled run shown from its row), read over the
    machine's cores: `status --json --limit 10000` read every run's records in one process (8 s)."""
    missing = _without_summary(runs)
    found = fanout_map(lambda shown: _summary(registry.listed(shown.run_id)), missing)
    for shown, summary in zip(missing, found, strict=True):
        shown.summary = summary


def _without_summary(runs: Sequence[RunStatus]) -> list[RunStatus]:
    """The runs shown without their summary (from their rows), whose summary is to be read."""
    return [r for r in runs if r.summary is None and r.state != "damaged"]


#: StatusView.json_text reads and encodes this many runs' summaries at a time
SUMMARY_CHUNK = 1000


def _summary_texts(registry: Registry, runs: Sequence[RunStatus]) -> list[str | None]:
    """The summaries of `runs` as prettyjson.nested encodes them (None: none, or unreadable), read and
    encoded over the machine's cores: a worker hands back text, a third of the memory of the data."""

    def text(shown: RunStatus) -> str | None:
        try:
            return summary_nested(registry.listed(shown.run_id))
        except ClusterrunError:  # unreadable (written by a newer clusterrun): shown without, as _summary
            return None

    return fanout_map(text, runs)


def _summary(run: Run) -> dict[str, Any] | None:
    """A run's summary as data; None when it has none (still going) or it cannot be read."""
    try:
        return summary_data(run)
    except ClusterrunError:
        return None


def _from_cache(
    run_id: str,
    cached: dict[str, Any],
    records: dict[str, dict[str, Any]],
    done: dict[str, RunStatus],
    swept: bool = False,
) -> bool:
    """A settled run shown from its cached row (False: a row of another shape, made afresh instead;
    `swept`: a sweep's table, which needs a row a sweep's table made)."""
    if swept and SWEEP_KEY not in cached:
        return False
    try:
        done[run_id] = RunStatus(**cached["status"])
    except (KeyError, TypeError):
        return False
    records[run_id] = {key: value for key, value in cached.items() if key not in ("status", AS_WRITTEN)}
    return True


def _manifest(run: Run) -> Manifest | None:
    try:
        return run.load_manifest()
    except ClusterrunError:
        return None  # damaged: refresh reports it


def record_fields(registry: Registry, run_id: str) -> dict[str, Any]:
    """A run's flat record from its manifest and notes (no scheduler): run_id, name, backend, created,
    seed, sweep, tag, note, params.*, data.*, resources.*. A damaged record gives what it can."""
    run = registry.get(run_id)
    return fields_of(run, _manifest(run))


def fields_of(run: Run, manifest: Manifest | None) -> dict[str, Any]:
    """record_fields of a run whose manifest is already read (None: it could not be)."""
    row: dict[str, Any] = {"run_id": run.id}
    if manifest is None:
        return row
    row |= manifest_fields(manifest)
    try:
        noted = notebook.read(run)
    except ClusterrunError:
        return row
    row["tag"] = noted.tags
    if noted.texts:
        row["note"] = "\n".join(noted.texts)
    return row


def tags_of(run: Run) -> dict[str, Any]:
    """The part of a run's record a plain table shows: its tags."""
    try:
        tags = notebook.read(run).tags
    except ClusterrunError:
        tags = []
    return {"run_id": run.id, "tag": tags} if tags else {"run_id": run.id}


def manifest_fields(manifest: Manifest) -> dict[str, Any]:
    config = manifest.config
    row: dict[str, Any] = {
        "name": manifest.name,
        "backend": manifest.backend,
        "created": manifest.created,
        "seed": manifest.seed,
        "state": manifest.state,
    }
    if manifest.sweep:
        row["sweep"] = manifest.sweep
    row |= {f"params.{k}": v for k, v in config.params.items()}
    row |= {f"data.{k}": v for k, v in config.data.items()}
    row |= {f"resources.{k}": v for k, v in manifest.resources.items()}
    return row


def run_fields(run: RunStatus) -> dict[str, Any]:
    """The fields the scheduler brings up to date: state, job, node, elapsed, metrics.*."""
    row: dict[str, Any] = {"state": run.state, "job_id": run.job_id, "node": run.node}
    if run.elapsed_seconds is not None:
        row["elapsed_seconds"] = run.elapsed_seconds
    row |= {f"metrics.{k}": v for k, v in run.metrics.items()}
    return row


def parse_since(text: str) -> float:
    """'90m', '2h', '3d', '1w' or an ISO date -> a POSIX timestamp."""
    seconds = duration_seconds(text)
    if seconds is not None:
        return time.time() - seconds
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a duration or a date", hint="e.g. --since 2h, 3d, 2026-11-01"
        ) from None


def select(
    registry: Registry,
    name: str | None = None,
    state: str | None = None,
    since: str | None = None,
    limit: int | None = 20,
    keep_active: bool = False,
) -> list[str]:
    """Run ids, newest first, filtered by name (glob), recorded state and creation time. With
    `keep_active`, a run whose recorded state may still change (submitted, pending, running...) is kept
    whatever the states asked for: the caller asks the scheduler what it is now."""
    after = parse_since(since) if since else None
    wanted_states = parse_states(state)
    out: list[str] = []
    # filters read the registry index (records/index.py), which opens only manifests changed since
    known = registry_index.entries(registry.root) if wanted_states or after is not None else {}
    for run in registry.runs():
        if limit is not None and len(out) >= limit:
            break
        if name and not fnmatch.fnmatch(run.id.rsplit("_", 1)[0], name):
            continue
        if wanted_states is None and after is None:
            out.append(run.id)
            continue
        entry = known.get(run.id)
        if entry is None or entry.damaged:
            continue
        state = entry.state.lower()
        may_change = keep_active and state in STATE_GROUPS["active"]
        if wanted_states is not None and state not in wanted_states and not may_change:
            continue
        if after is not None:
            try:
                if datetime.fromisoformat(entry.created).timestamp() < after:
                    continue
            except ValueError:
                continue
        out.append(run.id)
    return out


def expand_ids(registry: Registry, ids: list[str]) -> list[str]:
    """Sweep ids stand for their members."""
    out: list[str] = []
    for run_id in ids:
        if registry.is_sweep(run_id):
            record = store.read_sweep(registry.get(run_id, allow_sweep=True).path)
            out += [m.run_id for m in record.members]
        else:
            out.append(run_id)
    return out
