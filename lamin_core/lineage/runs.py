"""Runs by their engine's id, and how events move a run's status, times and attempts.

Events may arrive in any order. A run's status is that of its latest attempt, and within an attempt a
final status (completed, errored, aborted) beats `started`: a late START never reopens a finished run.
"""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .. import ids
from ..db import dbapi
from .events import STATUS_OF_EVENT, Job, LineageEvent

if TYPE_CHECKING:
    from ..db.dbapi import Rows
    from ..models import Run

TERMINAL = ("completed", "errored", "aborted")
UNKNOWN_JOB = "unknown"  # the placeholder job of a parent run known only by id, until its own events arrive
# models.transform.TRANSFORM_KINDS and models.Run._uid_length, not imported: the models load SQLAlchemy
# (tests/test_recording_rows.py checks they agree)
TRANSFORM_KINDS = ("pipeline", "notebook", "script", "function", "upload", "linker")
RUN_UID_LENGTH = 20


_transform_ids: dict[tuple, tuple] = {}  # (database, job identity) -> (Transform.id, key, facets): jobs repeat


def _register_cache() -> None:
    from ..db import engine as db

    db.ROLLBACK_HOOKS.append(_transform_ids.clear)


_register_cache()


def transform_for_job(rows: "Rows", job: Job) -> tuple[int, str]:
    """The (id, key) of the Transform a job is: its key's version with this source, created if new.

    Jobs repeat (every task of a workflow names the same few), so the answer is cached per process:
    after the first event of a job, no query at all.
    """
    from ..db import engine as db
    from .transforms import upsert_transform_row

    facets = dict(job.facets)
    cache_key = (db.settings().db_url, job.namespace, job.name, job.kind, job.version, job.source_code, job.description)
    cached = _transform_ids.get(cache_key)
    if cached is not None and cached[2] == facets:
        return cached[0], cached[1]
    key = f"{job.namespace}/{job.name}" if job.namespace else job.name
    fields = {
        "key": key,
        "kind": job.kind if job.kind in TRANSFORM_KINDS else "pipeline",
        "version": job.version,
        "description": job.description,
        "source_code": job.source_code,
        "facets": {"job": {"namespace": job.namespace, "name": job.name}, **facets} if facets or job.namespace else None,
    }
    stored = upsert_transform_row(rows, {k: v for k, v in fields.items() if v is not None})
    if not stored.created:
        # a known version learns what its first events did not say; `updated_at` moves as the ORM's onupdate would
        changes: dict[str, Any] = {}
        if job.description and not stored.description:
            changes["description"] = job.description
        stored_facets = json_of(stored.facets) or {}
        if facets and any(stored_facets.get(k) != v for k, v in facets.items()):
            changes["facets"] = {**stored_facets, **facets}
        if changes:
            changes["updated_at"] = datetime.now(timezone.utc)
            assignments = ", ".join(f"{name} = :{name}" for name in changes)
            rows.execute(f"UPDATE transforms SET {assignments} WHERE id = :id", {**changes, "id": stored.id})
            dbapi.expire_if_loaded("Transform", [stored.id])
    entry = (stored.id, stored.key or key, facets)
    dbapi.after_commit(lambda: _remember(_transform_ids, cache_key, entry))  # other threads read it: committed rows only
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
# the MOVABLE columns' PostgreSQL types, for `UPDATE ... FROM (VALUES ...)` (models/run.py)
_PG_TYPES = {"_id": "INTEGER", "transform_id": "INTEGER", "name": "VARCHAR(150)", "started_at": "TIMESTAMP WITH TIME ZONE",
             "finished_at": "TIMESTAMP WITH TIME ZONE", "status": "VARCHAR(20)", "params": "JSON", "facets": "JSON",
             "initiated_by_run_id": "INTEGER", "report_id": "INTEGER"}


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


def json_of(value: Any) -> Any:
    """A JSON column's value as read: SQLite returns the text, psycopg the parsed value."""
    return json.loads(value) if isinstance(value, str) else value


RunRef = tuple[str, str]  # (reference_type, reference): how an engine names a run


def load_runs(rows: "Rows", refs: "set[RunRef]") -> dict[RunRef, RunRow]:
    """The stored runs among `refs`: one lookup in the (reference_type, reference) index each, one statement."""
    from ..db.lookups import union_rows

    names = (*RUN_FIELDS, "reference_type", "reference")
    select_sql = (f"SELECT {', '.join('runs.' + f for f in names)}, transforms.key AS transform_key "
                  "FROM runs JOIN transforms ON runs.transform_id = transforms.id")
    keys = [{"t": t, "r": r} for t, r in sorted(refs)]
    found: dict[RunRef, RunRow] = {}
    for row in union_rows(rows, "runs", select_sql, [("runs.reference_type = :t AND runs.reference = :r", keys)]):
        fields = dict(zip((*names, "transform_key"), row))
        found[(fields.pop("reference_type"), fields.pop("reference"))] = _run_row(rows, fields)
    return found


def create_runs(rows: "Rows", missing: "dict[RunRef, Job | None]") -> dict[RunRef, RunRow]:
    """Insert placeholder runs (status `scheduled`) for engine ids seen for the first time, all at once.

    No savepoint or conflict handling: the recorder holds a lock named after each run (PostgreSQL) or the
    database's write lock (SQLite), so nobody can insert one of them between `load_runs` and here.
    """
    if not missing:
        return {}
    refs = list(missing)
    values, keys = [], []
    defaults = dbapi.record_defaults(rows)
    for reference_type, reference in refs:
        job = missing[(reference_type, reference)]
        transform_id, transform_key = transform_for_job(rows, job or Job(namespace=UNKNOWN_JOB, name=reference_type))
        values.append(dict(defaults, uid=ids.base62(RUN_UID_LENGTH), transform_id=transform_id, reference=reference,
                           reference_type=reference_type, status="scheduled"))
        keys.append(transform_key)
    # one multi-row INSERT; matched back by uid: SQLite does not return the rows in the VALUES order
    by_uid = {row[1]: row for row in rows.insert_many("runs", values, returning=", ".join(RUN_FIELDS))}
    return {
        ref: _run_row(rows, {**dict(zip(RUN_FIELDS, by_uid[v["uid"]])), "transform_key": key})
        for ref, v, key in zip(refs, values, keys, strict=True)
    }


def learn_job(rows: "Rows", run: RunRow, job: Job | None) -> None:
    """A run first known only by id (a parent named by its children) takes its job's Transform once known."""
    if job is not None and run.transform_key.startswith(UNKNOWN_JOB + "/"):
        run.transform_id, run.transform_key = transform_for_job(rows, job)


def write_runs(rows: "Rows", runs: "list[RunRow]") -> None:
    """Write what events moved on these runs: one statement on PostgreSQL (SQLite: in-process statements)."""
    changed = [run for run in runs if run.changes()]
    if not changed:
        return
    values = [{"_id": run.id, **{f: getattr(run, f) for f in MOVABLE}} for run in changed]
    if len(values) > 1 and rows.dialect == "postgresql":
        # UPDATE ... FROM (VALUES ...): one round trip, where a statement per run takes one each
        per_row = dbapi.MAX_PARAMETERS // len(_PG_TYPES)
        for start in range(0, len(values), per_row):
            chunk = values[start : start + per_row]
            params = {f"{k}_{i}": row[k] for i, row in enumerate(chunk) for k in _PG_TYPES}
            rows.execute(_update_from_values(len(chunk)), params)
    else:  # SQLite: each statement is an in-process call
        sql = f"UPDATE runs SET {', '.join(f'{f} = :{f}' for f in MOVABLE)} WHERE id = :_id"
        for row in values:
            rows.execute(sql, row)
    for run in changed:
        run.snapshot()
    dbapi.expire_if_loaded("Run", [run.id for run in changed])  # an ORM object of it in this session shows the change


_UPDATE_STATEMENTS: dict[int, str] = {}


def _update_from_values(n: int) -> str:
    """`UPDATE runs ... FROM (VALUES <n rows>)`, made once per n."""
    sql = _UPDATE_STATEMENTS.get(n)
    if sql is None:
        values = ", ".join("(" + ", ".join(f"CAST(:{k}_{i} AS {t})" for k, t in _PG_TYPES.items()) + ")" for i in range(n))
        sql = _UPDATE_STATEMENTS.setdefault(n, f"UPDATE runs SET {', '.join(f'{f} = v.{f}' for f in MOVABLE)} "
                                               f"FROM (VALUES {values}) AS v(_id, {', '.join(MOVABLE)}) WHERE runs.id = v._id")
    return sql


def _run_row(rows: "Rows", fields: dict[str, Any]) -> RunRow:
    """A run as read back, in the types the recorder compares: aware datetimes, parsed JSON."""
    for name in ("started_at", "finished_at"):
        fields[name] = rows.datetime_of(fields[name])
    for name in ("params", "facets"):
        fields[name] = json_of(fields[name])
    run = RunRow(**fields)
    run.snapshot()
    return run


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
