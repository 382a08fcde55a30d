"""`record(event)`: the one path by which engine events become Transforms, Runs and Artifacts.

One event is one write transaction. Deliveries are idempotent: each accepted event leaves a row in
`lineage_events` keyed by its identity (run id, event type, event time), and an event whose identity is
already there changes nothing. Concurrent writers of the same run or dataset meet at unique
constraints; the loser of such a race retries the whole event and then finds the winner's rows.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timezone
from typing import TYPE_CHECKING, Sequence

from ..db import engine as db
from ..db.upsert import is_retryable, lock_names
from .datasets import ResolvedDataset, resolve
from .events import EVENT_TYPES, Dataset, LineageEvent
from .recorded import Recorded

if TYPE_CHECKING:
    from .batch import Resolved

__all__ = ["Recorded", "record", "record_each", "record_many"]

logger = logging.getLogger("lamin_core")
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
    from sqlalchemy.exc import DBAPIError

    from .batch import write_batch

    for event in events:
        validate(event)
    # read and hash files before taking the write lock
    resolved = [(_resolved(e.inputs), _resolved(e.outputs)) for e in events]
    names = _lock_names(events, resolved)
    identities = [event_identity(e) for e in events]
    attempts = 1 if db.in_write() else MAX_ATTEMPTS  # inside a caller's transaction, the caller retries
    for attempt in range(attempts):
        try:
            with db.write() as s:
                lock_names(s, names)
                return write_batch(s, events, identities, resolved)
        except DBAPIError as e:  # a unique race, a deadlock: run the whole event again
            if attempt == attempts - 1 or not is_retryable(e):
                raise
        time.sleep(0.005 * (attempt + 1))
    raise RuntimeError("unreachable")


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
