"""Live forwarding, the writing side: recorded events become rows of the OpenLineage outbox.

When an OpenLineage target is configured (see `target()`), every event the recording path applies is also
written, as an OpenLineage 2-0-2 RunEvent, to `openlineage_outbox`, in the same transaction as the records
it describes: an event is forwarded if and only if it was recorded, and a crash between the two cannot
lose or invent one. `lineage/forwarding.py` sends the rows. Without a target this module costs two
dictionary lookups per recorded batch.

The events are named as the exporter names records (`openlineage_ids.py`, `openlineage_json.py`): the same
job, the run's own reference (in the `lamin_run` facet), the parent run, and datasets as the storage root
and key they were registered at, with their hash and size, so that ingesting a forwarded event into
another instance yields the same transform, run and artifacts, and into this instance changes nothing.

Events that reached the instance from an OpenLineage producer (`lamin serve`'s `POST /api/v1/lineage`,
the `lamin` transport of openlineage-python) are recorded inside `ingested(events)` and not forwarded
unless `forward_ingested` is set: the producer may have sent them to the same place, and two lamin-core
instances forwarding to each other would loop.
"""

from __future__ import annotations

import contextvars
import json
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Run
    from .datasets import ResolvedDataset
    from .events import LineageEvent

from .forwarding_target import Target, target

logger = logging.getLogger("lamin_core")

# ---- events that came from an OpenLineage producer ---------------------------------------------------------

_ingested: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("lamin_openlineage_ingested", default=frozenset())


@contextmanager
def ingested(events: Sequence[Any]) -> Iterator[None]:
    """Record `events` inside this block as ingested from an OpenLineage producer: not forwarded back.

    By object identity, so that one batch may mix ingested events with others (the server batches its
    Nextflow weblog events, which are forwarded, with POSTed OpenLineage events, which are not)."""
    token = _ingested.set(_ingested.get() | {id(e) for e in events})
    try:
        yield
    finally:
        _ingested.reset(token)


# ---- writing rows ---------------------------------------------------------------------------------------------


def forward_pending(s: "Session", pending: Sequence[tuple[Any, str, "LineageEvent", Sequence[Any], Sequence[Any]]],
                    resolved: Mapping[str, tuple[Sequence["ResolvedDataset"], Sequence["ResolvedDataset"]]]) -> None:
    """Called by `batch.write_batch` in its transaction: an outbox row for each event it applied."""
    if not pending:
        return
    t = target()
    if t is None:
        return
    skip = frozenset() if t.forward_ingested else _ingested.get()
    rows = []
    for _run, identity, event, _ins, _outs in pending:
        if id(event) in skip:
            continue
        inputs, outputs = resolved[identity]
        rows.append(_row(forwarded_event(event, inputs, outputs)))
    _insert(s, rows, t)


def forwarded_event(event: "LineageEvent", inputs: Sequence["ResolvedDataset"],
                    outputs: Sequence["ResolvedDataset"]) -> "LineageEvent":
    """The event as it is forwarded: parameters redacted as they were recorded, datasets as registered."""
    from ..tracking.redact import redact

    run = event.run
    if run.params:
        run = replace(run, params=redact(dict(run.params)))
    return replace(event, run=run, inputs=[_dataset(rd) for rd in inputs], outputs=[_dataset(rd) for rd in outputs])


def _dataset(rd: "ResolvedDataset") -> Any:
    from .events import Dataset
    from .openlineage_ids import dataset_id

    namespace, name = dataset_id(rd.storage_root, rd.key, "", rd.suffix)
    return Dataset(namespace=namespace, name=name, facets=rd.facets, kind=rd.kind, hash=rd.hash,
                   hash_type=rd.hash_type, size=rd.size, storage_root=rd.storage_root)


def _row(event: "LineageEvent") -> dict[str, Any]:
    from .openlineage_json import to_openlineage

    body = json.dumps(to_openlineage(event), default=str, separators=(",", ":"))
    run_key = f"{event.run.reference_type}:{event.run.run_id}"[:300]
    return {"run_key": run_key, "event_type": event.event_type, "event": body, "created_at": datetime.now(timezone.utc)}


def _insert(s: "Session", rows: list[dict[str, Any]], t: Target) -> None:
    from sqlalchemy import insert

    from ..db import engine as db
    from ..models import OpenLineageOutboxEvent

    if not rows:
        return
    s.execute(insert(OpenLineageOutboxEvent.__table__), rows)
    _enforce_cap(s, t.backlog_cap)
    db.after_commit(_kick)  # the sender must not look before the rows are visible


def _kick() -> None:
    from .forwarding import kick

    kick()


def _enforce_cap(s: "Session", cap: int) -> None:
    """Keep the newest `cap` events; say what was dropped (log and `lamin openlineage status`)."""
    from sqlalchemy import delete, func, select

    from ..models import OpenLineageOutboxEvent as E

    low, high = s.execute(select(func.min(E.id), func.max(E.id))).one()
    if low is None or high - low + 1 <= cap:  # ids only grow: the span bounds the count, from the index alone
        return
    n = s.execute(select(func.count()).select_from(E)).scalar_one()
    if n <= cap:
        return
    keep_from = s.execute(select(E.id).order_by(E.id.desc()).offset(cap - 1).limit(1)).scalar_one()
    first, last, k = s.execute(
        select(func.min(E.created_at), func.max(E.created_at), func.count()).where(E.id < keep_from)
    ).one()
    s.execute(delete(E).where(E.id < keep_from))
    note = (f"dropped the {k} oldest events (recorded {first} .. {last}) when the backlog passed its cap of {cap};"
            " `lamin openlineage export --run UID` sends a run's events again")
    _note_drop(s, k, note)
    logger.warning("lamin: OpenLineage forwarding: %s", note)


def _note_drop(s: "Session", k: int, note: str) -> None:
    from sqlalchemy import update

    from ..db.upsert import insert_ignore
    from ..models import OpenLineageForwarding as F

    insert_ignore(s, F.__table__, {"id": 1, "delivered": 0, "dropped": 0})
    s.execute(update(F).where(F.id == 1).values(dropped=F.dropped + k, dropped_note=note))


# ---- runs written outside record(): ln.track() ----------------------------------------------------------------


def forward_tracked_run(s: "Session", run: "Run", event_type: str, *, when: datetime, error: str | None = None) -> None:
    """`ln.track()` writes its run directly (not through `record()`): its START and its end, forwarded here,
    named as the exporter names such a run (reference = the run's uid), with the artifacts it loaded and saved."""
    t = target()
    if t is None:
        return
    from ..models import Transform
    from .events import Job, LineageEvent, RunInfo
    from .openlineage_ids import job_identity, reference_of

    transform = s.get(Transform, run.transform_id)
    assert transform is not None
    namespace, name = job_identity(transform.key, transform.uid, transform.facets)
    job = Job(namespace=namespace, name=name, kind=transform.kind, source_code=transform.source_code,
              version=transform.version, description=transform.description)
    ended = event_type != "START"
    reference, reference_type = reference_of(run.uid, run.reference, run.reference_type)
    info = RunInfo(run_id=reference, reference_type=reference_type, params=run.params, error_message=error, name=run.name)
    inputs, outputs = _tracked_datasets(s, run.id) if ended else ([], [])
    event = LineageEvent(event_type=event_type, event_time=when if when.tzinfo else when.replace(tzinfo=timezone.utc),  # type: ignore[arg-type]
                         job=job, run=info, inputs=inputs, outputs=outputs)
    _insert(s, [_row(event)], t)


def _tracked_datasets(s: "Session", run_id: int) -> tuple[list[Any], list[Any]]:
    from sqlalchemy import select

    from ..models import Artifact, Storage
    from ..models.run import run_input_artifacts
    from .events import Dataset
    from .openlineage_ids import dataset_id

    cols = (Artifact.uid, Artifact.key, Artifact.suffix, Artifact.kind, Artifact.hash, Artifact.hash_type, Artifact.size, Storage.root)
    base = select(*cols).join(Storage, Storage.id == Artifact.storage_id)
    outs = s.execute(base.where(Artifact.run_id == run_id).order_by(Artifact.id)).all()
    ins = s.execute(base.join(run_input_artifacts, run_input_artifacts.c.artifact_id == Artifact.id)
                    .where(run_input_artifacts.c.run_id == run_id).order_by(Artifact.id)).all()

    def ds(r: Any) -> Dataset:
        namespace, name = dataset_id(r.root, r.key, r.uid, r.suffix)
        return Dataset(namespace=namespace, name=name, kind=r.kind, hash=r.hash, hash_type=r.hash_type, size=r.size,
                       storage_root=r.root)

    return [ds(r) for r in ins], [ds(r) for r in outs if r.kind not in ("environment", "report")]
