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

from sqlalchemy import select

from ..db import engine as db
from ..db.upsert import insert_ignore, is_retryable, lock_names
from ..tracking.redact import redact
from .datasets import ResolvedDataset, resolve, upsert_artifact
from .events import EVENT_TYPES, LineageEvent
from .runs import apply_event, get_or_create_run, parent_run_id, save_run

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Run, Transform

logger = logging.getLogger("lamin_core")
MAX_ATTEMPTS = 8


class Recorded:
    """What `record()` did: whether the event was new, and the records it touched.

    `run`, `transform`, `inputs` and `outputs` are loaded when first read: a server that answers
    201 or 200 needs `is_new` and `run_uid` only, and per event every avoided query counts.
    """

    def __init__(self, run_id: int, run_uid: str, transform_id: int, is_new: bool,
                 input_ids: Sequence[int] = (), output_ids: Sequence[int] = ()) -> None:
        self.run_id, self.run_uid, self.transform_id, self.is_new = run_id, run_uid, transform_id, is_new
        self.input_ids, self.output_ids = list(input_ids), list(output_ids)

    @property
    def run(self) -> "Run":
        from ..models import Run

        with db.read() as s:  # ends its transaction: a lazy read must not hold a snapshot or locks
            return s.get(Run, self.run_id)  # type: ignore[return-value]

    @property
    def transform(self) -> "Transform":
        from ..models import Transform

        with db.read() as s:
            return s.get(Transform, self.transform_id)  # type: ignore[return-value]

    @property
    def inputs(self) -> list["Artifact"]:
        return self._artifacts(self.input_ids)

    @property
    def outputs(self) -> list["Artifact"]:
        return self._artifacts(self.output_ids)

    @staticmethod
    def _artifacts(artifact_ids: list[int]) -> list["Artifact"]:
        from ..models import Artifact

        with db.read() as s:
            return [s.get(Artifact, i) for i in artifact_ids]  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Recorded(run={self.run_uid}, is_new={self.is_new})"


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

    for event in events:
        validate(event)
    # read and hash files before taking the write lock
    resolved = [([resolve(d) for d in e.inputs], [resolve(d) for d in e.outputs]) for e in events]
    names = _lock_names(events, resolved)
    attempts = 1 if db.in_write() else MAX_ATTEMPTS  # inside a caller's transaction, the caller retries
    for attempt in range(attempts):
        try:
            with db.write() as s:
                lock_names(s, names)
                known: dict = {}  # runs met in this transaction, by (reference_type, reference)
                return [_record(s, e, inputs, outputs, known) for e, (inputs, outputs) in zip(events, resolved)]
        except DBAPIError as e:  # a unique race, a deadlock: run the whole event again
            if attempt == attempts - 1 or not is_retryable(e):
                raise
        time.sleep(0.005 * (attempt + 1))
    raise RuntimeError("unreachable")


def _lock_names(events: "Sequence[LineageEvent]", resolved: list) -> list[str]:
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


def _record(
    s: "Session",
    event: LineageEvent,
    inputs: list[ResolvedDataset],
    outputs: list[ResolvedDataset],
    known: "dict | None" = None,
) -> Recorded:
    from sqlalchemy import insert

    from ..models import LineageEventRecord, Run
    from ..models.run import run_input_artifacts

    events = LineageEventRecord.__table__
    identity = event_identity(event)
    seen = s.execute(select(events.c.run_id).where(events.c.identity == identity)).scalar()
    if seen is not None:
        row = s.execute(select(Run.__table__.c.uid, Run.__table__.c.transform_id).where(Run.__table__.c.id == seen)).one()
        return Recorded(run_id=seen, run_uid=row.uid, transform_id=row.transform_id, is_new=False)

    info = event.run
    run = get_or_create_run(s, info.reference_type, info.run_id, event.job, known)
    if info.parent is not None:
        parent_type = info.parent.reference_type or info.reference_type
        parent_id = parent_run_id(s, parent_type, info.parent.run_id, info.parent.job, known)
        if parent_id != run.id:
            run.initiated_by_run_id = parent_id
    apply_event(run, event, redact(dict(info.params)) if info.params else None)
    if info.error_message:
        run.report_id = _report_id(s, run.uid, info.error_message)
    save_run(s, run)

    in_rows = [upsert_artifact(s, rd, None) for rd in inputs]
    out_rows = [upsert_artifact(s, rd, run.id) for rd in outputs]
    links = [{"run_id": run.id, "artifact_id": a.id} for a in in_rows if a.run_id != run.id]
    insert_ignore(s, run_input_artifacts, links)
    s.execute(
        insert(events).values(
            identity=identity,
            run_id=run.id,
            event_type=event.event_type,
            event_time=event.event_time,
            producer=event.producer[:500] or None,
            attempt=info.attempt,
            summary={"inputs": [a.uid for a in in_rows], "outputs": [a.uid for a in out_rows]},
        )
    )
    return Recorded(run_id=run.id, run_uid=run.uid, transform_id=run.transform_id, is_new=True,
                    input_ids=[a.id for a in in_rows], output_ids=[a.id for a in out_rows])


def _report_id(s: "Session", run_uid: str, message: str) -> int:
    """Keep a failed run's error message as its report: a text artifact (`run.report.load()`)."""
    from ..artifacts.text import text_artifact

    return text_artifact(s, message, kind="report", suffix=".txt", description=f"report of run {run_uid}").id
