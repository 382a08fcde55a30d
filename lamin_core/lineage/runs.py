"""Runs by their engine's id, and how events move a run's status, times and attempts.

Events may arrive in any order. A run's status is that of its latest attempt, and within an attempt a
final status (completed, errored, aborted) beats `started`: a late START never reopens a finished run.
"""

from __future__ import annotations

import copy
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .events import STATUS_OF_EVENT, Job, LineageEvent
from .transforms import upsert_transform

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Run

TERMINAL = ("completed", "errored", "aborted")
UNKNOWN_JOB = "unknown"  # the placeholder job of a parent run known only by id, until its own events arrive


_transform_ids: dict[tuple, int] = {}  # (database, job identity) -> Transform.id: jobs repeat, rows don't move
_parent_ids: dict[tuple[str, str, str], int] = {}  # (database, reference_type, reference) -> Run.id


def _register_cache() -> None:
    from ..db import engine as db

    db.ROLLBACK_HOOKS.append(_transform_ids.clear)
    db.ROLLBACK_HOOKS.append(_parent_ids.clear)


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
        self._before = {f: copy.deepcopy(getattr(self, f)) for f in MOVABLE}

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in MOVABLE if getattr(self, f) != self._before.get(f)}


def get_or_create_run(
    s: "Session", reference_type: str, reference: str, job: Job | None, known: "dict[tuple[str, str], RunRow] | None" = None
) -> RunRow:
    """The run an engine names (reference_type, reference), created if new.

    `known` holds the runs already met in this transaction (`record_many`): a run met again there is the
    same row, so it is not queried again.
    """
    from sqlalchemy import insert

    from ..models import Run, Transform

    run = known.get((reference_type, reference)) if known is not None else None
    if run is None:
        runs, transforms = Run.__table__, Transform.__table__
        row = s.execute(
            select(*(runs.c[f] for f in RUN_FIELDS), transforms.c.key.label("transform_key"))
            .join_from(runs, transforms, runs.c.transform_id == transforms.c.id)
            .where(runs.c.reference_type == reference_type, runs.c.reference == reference)
        ).first()
        if row is not None:
            run = RunRow(**row._mapping)
            run.snapshot()
    if run is not None:
        if job is not None and run.transform_key.startswith(UNKNOWN_JOB + "/"):
            run.transform_id, run.transform_key = transform_for_job(s, job)
    else:
        transform_id, transform_key = transform_for_job(s, job or Job(namespace=UNKNOWN_JOB, name=reference_type))
        values = dict(transform_id=transform_id, reference=reference, reference_type=reference_type, status="scheduled")
        # no savepoint needed: the recorder holds a lock named after this run (PostgreSQL) or the database's
        # write lock (SQLite), so nobody else can insert it between the SELECT above and this INSERT
        row = s.execute(insert(Run.__table__).values(**values).returning(*(Run.__table__.c[f] for f in RUN_FIELDS))).one()
        run = RunRow(**row._mapping, transform_key=transform_key)
        run.snapshot()
    if known is not None:
        known[(reference_type, reference)] = run
    return run


def save_run(s: "Session", run: RunRow) -> None:
    """Write what the event moved, and let ORM objects of this run that are in memory see it."""
    from sqlalchemy import update

    from ..models import Run

    changes = run.changes()
    if changes:
        s.execute(update(Run.__table__).where(Run.__table__.c.id == run.id).values(**changes))
        run.snapshot()
    expire_loaded(s, Run, run.id)


def expire_loaded(s: "Session", model: type, row_id: int) -> None:
    obj = s.identity_map.get(s.identity_key(model, row_id))  # type: ignore[arg-type]
    if obj is not None:
        s.expire(obj)


def parent_run_id(s: "Session", reference_type: str, reference: str, job: Job | None, known: "dict | None" = None) -> int:
    """The id of an enclosing run. Every job of a workflow names the same parent: after the first time,
    and once the parent is more than a placeholder, its id comes from memory instead of a query."""
    from ..db import engine as db

    cache_key = (db.settings().db_url, reference_type, reference)
    cached = _parent_ids.get(cache_key)
    if cached is not None:
        return cached
    parent = get_or_create_run(s, reference_type, reference, job, known)
    save_run(s, parent)  # a placeholder that just learnt its job
    if not parent.transform_key.startswith(UNKNOWN_JOB + "/"):
        parent_id = int(parent.id)
        db.after_commit(lambda: _remember(_parent_ids, cache_key, parent_id))  # committed rows only
    return int(parent.id)


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
