"""How `record_many` writes a batch of events: a few set-wide statements, not several per event.

Inside the write transaction, after the batch's locks are taken (so nothing read here can change):

1. read which of the events are already recorded, and every run they name (their own and their
   parents'), one query each;
2. insert the runs seen for the first time as placeholders, in one statement;
3. apply the events in the order given, in memory: status, times, parameters, parents, and the artifacts
   their datasets are (matched or planned by the `ArtifactBook`);
4. write: artifacts, run changes, input links and the event log, one statement each.

An event applied in step 3 sees everything the events before it in the batch did, exactly as if each
had been recorded alone: a run's START and COMPLETE in one batch end up as one run, completed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from ..db import engine as db
from ..tracking.redact import redact
from .artifact_book import ArtifactBook, ArtifactRow
from .datasets import ResolvedDataset
from .events import Job, LineageEvent
from .recorded import Recorded
from .runs import RunRef, RunRow, apply_event, create_runs, learn_job, load_runs, write_runs

if TYPE_CHECKING:
    from ..db.dbapi import Rows

Resolved = tuple[list[ResolvedDataset], list[ResolvedDataset]]  # an event's inputs and outputs
Pending = tuple[RunRow, str, LineageEvent, list[ArtifactRow], list[ArtifactRow]]  # a newly applied event


def write_batch(rows: "Rows", events: Sequence[LineageEvent], identities: list[str],
                resolved: list[Resolved]) -> list[Recorded]:
    """Steps 1-4 on plain rows, then, in the ORM's transaction only, what needs the ORM (`orm_extras`).

    The caller (`recorder.record_many`) chose the ORM's transaction for every batch that has such work."""
    recorded_before = _recorded_identities(rows, identities)
    runs = _runs_of(rows, events)
    book = ArtifactBook(rows, [rd for inputs, outputs in resolved for rd in (*inputs, *outputs)])

    results: list[Recorded | None] = []
    pending: list[Pending] = []
    first_of: dict[str, RunRow] = {}  # identities recorded earlier in this batch
    for event, identity, (inputs, outputs) in zip(events, identities, resolved, strict=True):
        if identity in recorded_before or identity in first_of:
            run = first_of.get(identity) or runs[(event.run.reference_type, event.run.run_id)]
            results.append(Recorded(run.id, run.uid, run.transform_id, is_new=False))
            continue
        run = _apply(rows, event, runs)
        first_of[identity] = run
        ins = [book.use(rd, None) for rd in inputs]
        outs = [book.use(rd, run.id) for rd in outputs]
        pending.append((run, identity, event, ins, outs))
        results.append(None)  # filled in once the artifacts have ids

    book.write()
    write_runs(rows, list(runs.values()))
    _write_links_and_log(rows, pending)
    if db.in_write():  # the ORM's transaction: its extras, on the same connection
        orm_extras(pending, dict(zip(identities, resolved)))
    new = iter(Recorded(run.id, run.uid, run.transform_id, is_new=True, input_ids=[a.id for a in ins],
                        output_ids=[a.id for a in outs]) for run, _, _, ins, outs in pending)
    return [r if r is not None else next(new) for r in results]


def orm_extras(pending: list[Pending], inputs_of: dict[str, Resolved]) -> None:
    """What stays on the ORM (each costs nothing when the batch does not ask for it); `recorder.needs_orm`
    says in advance whether a batch asks for any of it."""
    from ..collections.lineage import link_input_collections  # a step that named a collection as its input
    from .annotations import annotate_batch
    from .outbox import forward_pending

    s = db.session()
    link_input_collections(s, [(p[0].id, rd) for p in pending for rd in inputs_of[p[1]][0]])
    annotate_batch(s, pending, inputs_of)  # engine metadata as feature values (lineage/annotations.py)
    forward_pending(s, pending, inputs_of)  # live forwarding's outbox rows (lineage/outbox.py)


def _recorded_identities(rows: "Rows", identities: list[str]) -> set[str]:
    """Which of these events are recorded already: a lookup in the identity's unique index each."""
    from ..db.lookups import union_rows

    keys = [{"i": i} for i in sorted(set(identities))]
    return {r[0] for r in union_rows(rows, "event_identities", "SELECT identity FROM lineage_events", [("identity = :i", keys)])}


def _runs_of(rows: "Rows", events: Sequence[LineageEvent]) -> dict[RunRef, RunRow]:
    """Every run the batch names, stored or created now; a new run gets the first job that names it."""
    jobs: dict[RunRef, Job | None] = {}
    for e in events:
        parent = e.run.parent
        if parent is not None:
            ref = (parent.reference_type or e.run.reference_type, parent.run_id)
            if jobs.get(ref) is None:
                jobs[ref] = parent.job
        ref = (e.run.reference_type, e.run.run_id)
        if jobs.get(ref) is None:
            jobs[ref] = e.job
    runs = load_runs(rows, set(jobs))
    runs.update(create_runs(rows, {ref: job for ref, job in jobs.items() if ref not in runs}))
    return runs


def _apply(rows: "Rows", event: LineageEvent, runs: dict[RunRef, RunRow]) -> RunRow:
    info = event.run
    run = runs[(info.reference_type, info.run_id)]
    learn_job(rows, run, event.job)
    if info.parent is not None:
        parent = runs[(info.parent.reference_type or info.reference_type, info.parent.run_id)]
        learn_job(rows, parent, info.parent.job)
        if parent.id != run.id:
            run.initiated_by_run_id = parent.id
    apply_event(run, event, redact(dict(info.params)) if info.params else None)
    if info.error_message:
        run.report_id = _report_id(rows, run.uid, info.error_message)
    return run


def _write_links_and_log(rows: "Rows", pending: list[Pending]) -> None:
    links = {(run.id, a.id) for run, _, _, ins, _ in pending for a in ins if a.run_id != run.id}
    rows.insert_many("run_input_artifacts", [{"run_id": r, "artifact_id": a} for r, a in sorted(links)],
                     returning="", conflict="ON CONFLICT DO NOTHING")
    if pending:
        received = datetime.now(timezone.utc)
        rows.insert_many("lineage_events", [_log_row(*p, received) for p in pending], returning="")


def _log_row(run: RunRow, identity: str, event: LineageEvent, ins: list[ArtifactRow],
             outs: list[ArtifactRow], received: datetime) -> dict[str, Any]:
    return dict(
        identity=identity,
        run_id=run.id,
        event_type=event.event_type,
        event_time=event.event_time,
        producer=event.producer[:500] or None,
        attempt=event.run.attempt,
        received_at=received,
        summary={"inputs": [a.uid for a in ins], "outputs": [a.uid for a in outs]},
    )


def _report_id(rows: "Rows", run_uid: str, message: str) -> int:
    """Keep a failed run's error message as its report: a text artifact (`run.report.load()`)."""
    from ..artifacts.text import text_artifact_id

    return text_artifact_id(rows, message, kind="report", suffix=".txt", description=f"report of run {run_uid}")
