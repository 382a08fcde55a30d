"""`record(event)`: the one path by which engine events become Transforms, Runs and Artifacts.

One event is one write transaction. Deliveries are idempotent: each accepted event leaves a row in
`lineage_events` keyed by its identity (run id, event type, event time), and an event whose identity is
already there changes nothing. Concurrent writers of the same run or dataset meet at unique
constraints; the loser of such a race retries the whole event and then finds the winner's rows.

Two routes, one implementation: the batch is written on plain DB-API statements (`db.dbapi.Rows`, see
`batch.py`), either on a connection of their own (a process that has not started SQLAlchemy: the adapters'
recording process records its first event ~100 ms after it starts, where importing SQLAlchemy and the models
alone takes several hundred) or in the ORM's transaction. A batch that asks for what only the ORM does
(feature values from annotations, live OpenLineage forwarding, collections named as inputs; `needs_orm`)
starts the ORM before its transaction, so the whole unit of work is one transaction on one connection.
"""

from __future__ import annotations

import hashlib
from datetime import timezone
from typing import TYPE_CHECKING, Sequence

from ..db import dbapi
from ..db import engine as db
from .datasets import ResolvedDataset, resolve
from .feature_names import names_features
from .events import ANNOTATE_MODES, EVENT_TYPES, Dataset, LineageEvent
from .recorded import Recorded

if TYPE_CHECKING:
    from ..db.dbapi import Rows
    from .batch import Resolved

__all__ = ["Recorded", "record", "record_each", "record_many"]

MAX_ATTEMPTS = 8


def validate(event: LineageEvent) -> None:
    if event.event_type not in EVENT_TYPES:
        raise ValueError(f"eventType must be one of {', '.join(EVENT_TYPES)}, not {event.event_type!r}")
    if not event.run.run_id:
        raise ValueError("run.runId is empty")
    if not event.job.name:
        raise ValueError("job.name is empty")
    if event.event_time.tzinfo is None:
        raise ValueError("eventTime must carry a timezone")


def event_identity(event: LineageEvent) -> str:
    reference_type, run_id, event_type, _ = event.identity
    instant = event.event_time.astimezone(timezone.utc).isoformat()  # the same instant, however it was written
    return hashlib.sha256("\x1f".join((reference_type, run_id, event_type, instant)).encode()).hexdigest()


def record(event: LineageEvent) -> Recorded:
    """Record one event. Safe to call again with the same event, in any order, from many processes."""
    return record_many([event])[0]


def record_many(events: "Sequence[LineageEvent]") -> list[Recorded]:
    """Record several events in one transaction, each exactly as `record()` would, in the order given.

    For producers that know several events at once (the core's `@ln.step` sends a short call's START and
    COMPLETE together): one commit instead of one per event. All or nothing: on error none is recorded.
    """
    from .batch import write_batch

    for event in events:
        validate(event)
    # read and hash files before taking the write lock
    resolved = [(_resolved(e.inputs), _resolved(e.outputs)) for e in events]
    names = _lock_names(events, resolved)
    identities = [event_identity(e) for e in events]
    features = _feature_names(events)
    orm = needs_orm(events, resolved)
    if orm and not dbapi.in_write():
        db.engine()  # from here on, dbapi.write() is a transaction of the ORM's session

    def work(rows: "Rows") -> list[Recorded]:
        if not db.in_write() and (orm or features and names_features(rows, features)):
            raise _NeedsORM  # nothing written yet: the ORM's transaction does it all
        return write_batch(rows, events, identities, resolved)

    # inside a caller's transaction, the caller retries (write_retrying raises at once there)
    try:
        return dbapi.write_retrying(work, names, attempts=MAX_ATTEMPTS)
    except _NeedsORM:
        if dbapi.in_write():  # a caller's plain transaction: one unit of work never spans two connections
            raise RuntimeError("these events need the ORM (annotations, forwarding or collections): record them "
                               "outside a plain db.dbapi transaction, or start the ORM (db.engine()) before it") from None
        db.engine()
        return dbapi.write_retrying(work, names, attempts=MAX_ATTEMPTS)


class _NeedsORM(Exception):
    """The batch annotates existing features: record it in the ORM's transaction instead."""


def needs_orm(events: "Sequence[LineageEvent]", resolved: "list[Resolved]") -> bool:
    """Whether the batch asks for what only the ORM writes, as far as the events alone say (whether their
    annotations name existing features is asked in the transaction: `feature_names.names_features`). Conservative: an
    event that carries labels or columns, or annotations in `auto` mode, takes the ORM's route."""
    from ..collections.lineage import collection_uid_of
    from .forwarding_target import target

    for event, (inputs, _) in zip(events, resolved):
        if event.annotate not in ANNOTATE_MODES:
            return True  # annotate_batch says why it is not annotated
        if event.annotate != "none":
            datasets = (*event.inputs, *event.outputs)
            if any(d.labels or d.columns for d in datasets):
                return True
            if event.annotate == "auto" and (event.run.annotations or any(d.annotations for d in datasets)):
                return True  # features are made
        if any(collection_uid_of(rd.facets) for rd in inputs):
            return True
    return bool(events) and target() is not None  # live forwarding: outbox rows in the same transaction


def _feature_names(events: "Sequence[LineageEvent]") -> list[str]:
    """The names that `existing` mode annotates when a feature of that name exists."""
    names: set[str] = set()
    for event in events:
        if event.annotate == "none":
            continue
        names.update(event.run.annotations or ())
        for d in (*event.inputs, *event.outputs):
            names.update(d.annotations or ())
    return sorted(names)


def record_each(events: "Sequence[LineageEvent]") -> "list[Recorded | Exception]":
    """Record events together and, when that fails, each alone: one bad event fails only itself.

    For producers that batch other parties' events (the server's concurrent requests, a recording
    process's queue): each event gets its own `Recorded`, or the exception recording it alone raised.
    """
    if len(events) > 1:
        try:
            return list(record_many(events))
        except Exception:
            pass  # someone's event spoiled the batch: find out whose, one by one
    out: "list[Recorded | Exception]" = []
    for event in events:
        try:
            out.append(record(event))
        except Exception as e:
            out.append(e)
    return out


def _resolved(datasets: "Sequence[Dataset]") -> "list[ResolvedDataset]":
    """The datasets as they are now; `only_if_file` ones that are not files are left out."""
    return [rd for rd in map(resolve, datasets) if rd is not None]


def _lock_names(events: "Sequence[LineageEvent]", resolved: "list[Resolved]") -> list[str]:
    """What concurrent writers of these events could race on: runs, jobs, dataset keys and contents."""
    names: list[str] = []
    for e, (inputs, outputs) in zip(events, resolved):
        names.append(f"run:{e.run.reference_type}:{e.run.run_id}")
        names.append(f"transform:{e.job.namespace}/{e.job.name}")
        if e.run.parent is not None:
            names.append(f"run:{e.run.parent.reference_type or e.run.reference_type}:{e.run.parent.run_id}")
            if e.run.parent.job is not None:
                names.append(f"transform:{e.run.parent.job.namespace}/{e.run.parent.job.name}")
        for rd in [*inputs, *outputs]:
            names.append(f"key:{rd.key}")
            if rd.hash:
                names.append(f"hash:{rd.hash}")
    return names
