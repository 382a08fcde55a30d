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

from typing import TYPE_CHECKING, Any, Sequence

from ..db.upsert import insert_ignore
from ..tracking.redact import redact
from .annotations import annotate_batch
from .artifact_book import ArtifactBook, ArtifactRow
from .datasets import ResolvedDataset
from .events import Job, LineageEvent
from .outbox import forward_pending
from .recorded import Recorded
from .runs import RunRef, RunRow, apply_event, create_runs, learn_job, load_runs, write_runs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Resolved = tuple[list[ResolvedDataset], list[ResolvedDataset]]  # an event's inputs and outputs


def write_batch(s: "Session", events: Sequence[LineageEvent], identities: list[str],
                resolved: list[Resolved]) -> list[Recorded]:
    recorded_before = _recorded_identities(s, identities)
    runs = _runs_of(s, events)
    book = ArtifactBook(s, [rd for inputs, outputs in resolved for rd in (*inputs, *outputs)])

    results: list[Recorded | None] = []
    pending: list[tuple[RunRow, str, LineageEvent, list[ArtifactRow], list[ArtifactRow]]] = []
    first_of: dict[str, RunRow] = {}  # identities recorded earlier in this batch
    for event, identity, (inputs, outputs) in zip(events, identities, resolved, strict=True):
        if identity in recorded_before or identity in first_of:
            run = first_of.get(identity) or runs[(event.run.reference_type, event.run.run_id)]
            results.append(Recorded(run.id, run.uid, run.transform_id, is_new=False))
            continue
        run = _apply(s, event, runs)
        first_of[identity] = run
        ins = [book.use(rd, None) for rd in inputs]
        outs = [book.use(rd, run.id) for rd in outputs]
        pending.append((run, identity, event, ins, outs))
        results.append(None)  # filled in once the artifacts have ids

    book.write()
    write_runs(s, list(runs.values()))
    _write_links_and_log(s, pending)
    from ..collections.lineage import link_input_collections  # a step that named a collection as its input

    inputs_of = dict(zip(identities, resolved))
    link_input_collections(s, [(p[0].id, rd) for p in pending for rd in inputs_of[p[1]][0]])
    annotate_batch(s, pending, dict(zip(identities, resolved)))  # engine metadata as feature values (lineage/annotations.py)
    forward_pending(s, pending, dict(zip(identities, resolved)))  # live forwarding's outbox rows (lineage/outbox.py)
    new = iter(Recorded(run.id, run.uid, run.transform_id, is_new=True, input_ids=[a.id for a in ins],
                        output_ids=[a.id for a in outs]) for run, _, _, ins, outs in pending)
    return [r if r is not None else next(new) for r in results]


def _recorded_identities(s: "Session", identities: list[str]) -> set[str]:
    """Which of these events are recorded already: a lookup in the identity's unique index each."""
    from ..db.lookups import union_lookup
    from ..models import LineageEventRecord

    c = LineageEventRecord.__table__.c
    keys = [{"i": i} for i in sorted(set(identities))]
    rows = union_lookup(s, "event_identities", "SELECT identity FROM lineage_events", [("identity = :i", keys)], [c.identity])
    return {row.identity for row in rows}


def _runs_of(s: "Session", events: Sequence[LineageEvent]) -> dict[RunRef, RunRow]:
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
    runs = load_runs(s, set(jobs))
    runs.update(create_runs(s, {ref: job for ref, job in jobs.items() if ref not in runs}))
    return runs


def _apply(s: "Session", event: LineageEvent, runs: dict[RunRef, RunRow]) -> RunRow:
    info = event.run
    run = runs[(info.reference_type, info.run_id)]
    learn_job(s, run, event.job)
    if info.parent is not None:
        parent = runs[(info.parent.reference_type or info.reference_type, info.parent.run_id)]
        learn_job(s, parent, info.parent.job)
        if parent.id != run.id:
            run.initiated_by_run_id = parent.id
    apply_event(run, event, redact(dict(info.params)) if info.params else None)
    if info.error_message:
        run.report_id = _report_id(s, run.uid, info.error_message)
    return run


def _write_links_and_log(s: "Session", pending: list) -> None:
    from sqlalchemy import insert

    from ..models import LineageEventRecord
    from ..models.run import run_input_artifacts

    links = {(run.id, a.id) for run, _, _, ins, _ in pending for a in ins if a.run_id != run.id}
    insert_ignore(s, run_input_artifacts, [{"run_id": r, "artifact_id": a} for r, a in sorted(links)])
    if pending:
        table = LineageEventRecord.__table__
        s.execute(insert(table).returning(table.c.id), [_log_row(*p) for p in pending])  # RETURNING: one multi-row INSERT


def _log_row(run: RunRow, identity: str, event: LineageEvent, ins: list[ArtifactRow],
             outs: list[ArtifactRow]) -> dict[str, Any]:
    return dict(
        identity=identity,
        run_id=run.id,
        event_type=event.event_type,
        event_time=event.event_time,
        producer=event.producer[:500] or None,
        attempt=event.run.attempt,
        summary={"inputs": [a.uid for a in ins], "outputs": [a.uid for a in outs]},
    )


def _report_id(s: "Session", run_uid: str, message: str) -> int:
    """Keep a failed run's error message as its report: a text artifact (`run.report.load()`)."""
    from ..artifacts.text import text_artifact

    return text_artifact(s, message, kind="report", suffix=".txt", description=f"report of run {run_uid}").id
