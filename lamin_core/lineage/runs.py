"""Runs by their engine's id, and how events move a run's status, times and attempts.

Events may arrive in any order. A run's status is that of its latest attempt, and within an attempt a
final status (completed, errored, aborted) beats `started`: a late START never reopens a finished run.
"""

from __future__ import annotations

import pickle
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .. import ids
from .events import STATUS_OF_EVENT, Job, LineageEvent
from .transforms import upsert_transform

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Run

TERMINAL = ("completed", "errored", "aborted")
UNKNOWN_JOB = "unknown"  # the placeholder job of a parent run known only by id, until its own events arrive


_transform_ids: dict[tuple, tuple] = {}  # (database, job identity) -> (Transform.id, key, facets): jobs repeat


def _register_cache() -> None:
    from ..db import engine as db

    db.ROLLBACK_HOOKS.append(_transform_ids.clear)


_register_cache()


def transform_for_job(s: "Session", job: Job) -> tuple[int, str]:
    """The (id, key) of the Transform a job is: its key's version with this source, created if new.

    Jobs repeat (every task of a workflow names the same few), so the answer is cached per process:
    after the first event of a job, no query at all.
    """
    from ..db import engine as db
    from ..models import Transform
    from ..models.transform import TRANSFORM_KINDS

    facets = dict(job.facets)
    cache_key = (db.settings().db_url, job.namespace, job.name, job.kind, job.version, job.source_code, job.description)
    cached = _transform_ids.get(cache_key)
    if cached is not None and cached[2] == facets:
        return cached[0], cached[1]
    key = f"{job.namespace}/{job.name}" if job.namespace else job.name
    transform = Transform(
        key=key,
        kind=job.kind if job.kind in TRANSFORM_KINDS else "pipeline",
        version=job.version,
        description=job.description,
        source_code=job.source_code,
        facets={"job": {"namespace": job.namespace, "name": job.name}, **facets} if facets or job.namespace else None,
    )
    stored = upsert_transform(s, transform)
    if stored is not transform:
        if job.description and not stored.description:
            stored.description = job.description
        if facets and any((stored.facets or {}).get(k) != v for k, v in facets.items()):
            stored.facets = {**(stored.facets or {}), **facets}
    s.flush()
    entry = (stored.id, stored.key or key, facets)
    db.after_commit(lambda: _remember(_transform_ids, cache_key, entry))  # other threads read it: committed rows only
    return stored.id, stored.key or key


def _remember(cache: dict, key: object, value: object) -> None:
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = value


# the columns of a run that events move; read and written as plain rows, not ORM objects (per event,
# the ORM's loading and unit of work cost more than everything else the recorder does)
RUN_FIELDS = ("id", "uid", "transform_id", "name", "started_at", "finished_at", "status", "params", "facets",
              "initiated_by_run_id", "report_id")
MOVABLE = ("transform_id", "name", "started_at", "finished_at", "status", "params", "facets", "initiated_by_run_id",
           "report_id")


class RunRow(SimpleNamespace):
    """A run's row as the recorder sees it; `changes()` lists what the event moved."""

    def snapshot(self) -> None:
        self._before = {f: _copy(getattr(self, f)) for f in MOVABLE}

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in MOVABLE if getattr(self, f) != self._before.get(f)}


def _copy(value: Any) -> Any:
    # params and facets are JSON-shaped: a pickle round trip copies them several times faster than deepcopy
    if isinstance(value, (dict, list)):
        return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value  # str, int, datetime, None: immutable


RunRef = tuple[str, str]  # (reference_type, reference): how an engine names a run


def load_runs(s: "Session", refs: "set[RunRef]") -> dict[RunRef, RunRow]:
    """The stored runs among `refs`: one lookup in the (reference_type, reference) index each, one statement."""
    from ..db.lookups import union_lookup
    from ..models import Run, Transform

    runs, transforms = Run.__table__, Transform.__table__
    names = (*RUN_FIELDS, "reference_type", "reference")
    select_sql = (f"SELECT {', '.join('runs.' + f for f in names)}, transforms.key AS transform_key "
                  "FROM runs JOIN transforms ON runs.transform_id = transforms.id")
    columns = [*(runs.c[f] for f in names), transforms.c.key.label("transform_key")]
    keys = [{"t": t, "r": r} for t, r in sorted(refs)]
    found: dict[RunRef, RunRow] = {}
    for row in union_lookup(s, "runs", select_sql, [("runs.reference_type = :t AND runs.reference = :r", keys)], columns):
        found[(row.reference_type, row.reference)] = _run_row({f: row._mapping[f] for f in (*RUN_FIELDS, "transform_key")})
    return found


def create_runs(s: "Session", missing: "dict[RunRef, Job | None]") -> dict[RunRef, RunRow]:
    """Insert placeholder runs (status `scheduled`) for engine ids seen for the first time, all at once.

    No savepoint or conflict handling: the recorder holds a lock named after each run (PostgreSQL) or the
    database's write lock (SQLite), so nobody can insert one of them between `load_runs` and here.
    """
    from sqlalchemy import insert

    from ..models import Run

    if not missing:
        return {}
    refs = list(missing)
    values, keys = [], []
    for reference_type, reference in refs:
        job = missing[(reference_type, reference)]
        transform_id, transform_key = transform_for_job(s, job or Job(namespace=UNKNOWN_JOB, name=reference_type))
        values.append(dict(uid=ids.base62(Run._uid_length), transform_id=transform_id, reference=reference,
                           reference_type=reference_type, status="scheduled"))
        keys.append(transform_key)
    table = Run.__table__
    # matched back by uid: asking for the rows' order made SQLite insert them one statement each
    stmt = insert(table).returning(*(table.c[f] for f in RUN_FIELDS))
    by_uid = {row.uid: row for row in s.execute(stmt, values)}
    return {
        ref: _run_row({**by_uid[v["uid"]]._mapping, "transform_key": key})
        for ref, v, key in zip(refs, values, keys, strict=True)
    }


def learn_job(s: "Session", run: RunRow, job: Job | None) -> None:
    """A run first known only by id (a parent named by its children) takes its job's Transform once known."""
    if job is not None and run.transform_key.startswith(UNKNOWN_JOB + "/"):
        run.transform_id, run.transform_key = transform_for_job(s, job)


def write_runs(s: "Session", runs: "list[RunRow]") -> None:
    """Write what events moved on these runs, in one statement."""
    from sqlalchemy import bindparam, update

    from ..models import Run

    changed = [run for run in runs if run.changes()]
    if not changed:
        return
    table = Run.__table__
    rows = [{"_id": run.id, **{f: getattr(run, f) for f in MOVABLE}} for run in changed]
    if len(rows) > 1 and s.get_bind().dialect.name == "postgresql":
        # UPDATE ... FROM (VALUES ...): one round trip, where psycopg's executemany takes three
        params = {f"{k}_{i}": row[k] for i, row in enumerate(rows) for k in ("_id", *MOVABLE)}
        s.execute(_update_from_values(len(rows), s.get_bind().dialect), params)
    else:  # SQLite: executemany is in-process and cheap
        stmt = update(table).where(table.c.id == bindparam("_id")).values({f: bindparam(f) for f in MOVABLE})
        s.execute(stmt, rows if len(rows) > 1 else rows[0])
    for run in changed:
        run.snapshot()
        expire_loaded(s, Run, run.id)  # an ORM object of it in this session shows the change


_UPDATE_STATEMENTS: dict[int, Any] = {}


def _update_from_values(n: int, dialect: Any) -> Any:
    """`UPDATE runs ... FROM (VALUES <n rows>)` as SQL text, made once per n: a Core `values()` construct
    is compiled anew at every execution (its rows are part of it), which cost more than the round trips."""
    stmt = _UPDATE_STATEMENTS.get(n)
    if stmt is None:
        from sqlalchemy import bindparam, text

        from ..models import Run

        table = Run.__table__
        types = {"_id": "INTEGER", **{f: table.c[f].type.compile(dialect=dialect) for f in MOVABLE}}
        rows = ", ".join("(" + ", ".join(f"CAST(:{k}_{i} AS {types[k]})" for k in types) + ")" for i in range(n))
        sql = (f"UPDATE runs SET {', '.join(f'{f} = v.{f}' for f in MOVABLE)} "
               f"FROM (VALUES {rows}) AS v(_id, {', '.join(MOVABLE)}) WHERE runs.id = v._id")
        binds = [bindparam(f"{k}_{i}", type_=table.c[k].type) for i in range(n) for k in MOVABLE]
        stmt = _UPDATE_STATEMENTS.setdefault(n, text(sql).bindparams(*binds))
    return stmt


def _run_row(fields: dict[str, Any]) -> RunRow:
    run = RunRow(**fields)
    run.snapshot()
    return run


def expire_loaded(s: "Session", model: type, row_id: int) -> None:
    obj = s.identity_map.get(s.identity_key(model, row_id))  # type: ignore[arg-type]
    if obj is not None:
        s.expire(obj)


def _order_of(attempt: int | None, status: str) -> list[int]:
    return [attempt or 0, 2 if status in TERMINAL else 1]


def apply_event(run: "Run | RunRow", event: LineageEvent, params: dict[str, Any] | None) -> None:
    """Move the run's status, times, parameters and attempts as this event says."""
    info = event.run
    time: datetime = event.event_time
    facets = dict(run.facets or {})
    status = STATUS_OF_EVENT[event.event_type]
    if status is not None:
        order = _order_of(info.attempt, status)
        current = facets.get("status_order")
        if current is None or order >= current:
            run.status = status
            facets["status_order"] = order
        if info.attempt is not None:
            attempts = [a for a in facets.get("attempts", []) if not (a["attempt"] == info.attempt and a["status"] == status)]
            entry = {"attempt": info.attempt, "status": status, "time": time.isoformat()}
            if info.error_message:
                entry["error"] = info.error_message[:2000]
            facets["attempts"] = sorted(attempts + [entry], key=lambda a: (a["attempt"], a["time"]))
    if event.event_type in ("START", "RUNNING") or status is None:
        if run.started_at is None or _aware(time) < _aware(run.started_at):
            run.started_at = time
    elif status in TERMINAL:
        run.finished_at = time if run.finished_at is None or status == run.status else run.finished_at
        if run.started_at is None:
            run.started_at = time
    if params:
        run.params = {**(run.params or {}), **params}
    if info.name and not run.name:
        run.name = info.name
    if info.facets:
        facets.update({k: v for k, v in info.facets.items()})
    run.facets = facets or None


def _aware(t: datetime) -> datetime:
    from datetime import timezone

    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
