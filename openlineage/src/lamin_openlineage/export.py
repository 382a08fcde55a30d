"""Export: runs recorded by lamin-core, emitted as OpenLineage RunEvents to any OpenLineage backend.

The target is `url=` or `LAMIN_OPENLINEAGE_URL` (or `ln.settings.openlineage_url` where the core has it),
with `LAMIN_OPENLINEAGE_API_KEY` sent as a Bearer token; openlineage-python's HTTP transport does the
sending (retries, gzip, auth), so Marquez, DataHub or another `lamin serve` see lamin-core's lineage.

A run is exported as the events it was recorded from: every row the recording path left in
`lineage_events` (its type, time, attempt and producer, and the artifacts it named) becomes one RunEvent
again, with the run's current parameters, facets and parent. Ingesting those events elsewhere therefore
creates the same transform, run and artifacts, and ingesting them into the same instance changes nothing
(each is answered 200). A run recorded without events (older paths) is exported as START and, when it
has finished, its terminal event.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from lamin_core.lineage.events import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.openlineage_ids import dataset_id, job_identity, reference_of
from lamin_core.lineage.openlineage_json import to_openlineage

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Run, Transform
    from sqlalchemy.orm import Session

URL_VARIABLE = "LAMIN_OPENLINEAGE_URL"
API_KEY_VARIABLE = "LAMIN_OPENLINEAGE_API_KEY"
# bookkeeping the recorder keeps among a run's facets: not OpenLineage facets, never exported
_INTERNAL_RUN_FACETS = ("status_order", "attempts")
_TERMINAL_EVENT = {"completed": "COMPLETE", "errored": "FAIL", "aborted": "ABORT"}


class ExportError(RuntimeError):
    """No target configured, or the backend refused an event."""


def target_url(url: str | None = None) -> str:
    """Where to send: the argument, then `LAMIN_OPENLINEAGE_URL`, then `ln.settings.openlineage_url`."""
    if url:
        return url
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    try:
        import lamin_core as ln

        configured = getattr(ln.settings, "openlineage_url", None)
    except Exception:  # no instance connected: fall through to the error below
        configured = None
    if configured:
        return str(configured)
    raise ExportError(f"no OpenLineage backend configured: pass url= or set {URL_VARIABLE}=http://HOST:PORT")


def _job(transform: Transform) -> Job:
    facets = dict(transform.facets or {})
    namespace, name = job_identity(transform.key, transform.uid, facets)
    facets.pop("job", None)
    return Job(
        namespace=namespace,
        name=name,
        kind=transform.kind,
        source_code=transform.source_code,
        version=transform.version,
        description=transform.description,
        facets=facets,
    )


def _dataset(artifact: Artifact) -> Dataset:
    namespace, name = dataset_id(artifact.storage.root, artifact.key, artifact.uid, artifact.suffix)
    return Dataset(
        namespace=namespace,
        name=name,
        facets=dict(artifact.facets or {}),
        kind=artifact.kind,
        hash=artifact.hash,
        hash_type=artifact.hash_type,
        size=artifact.size,
    )


def _reference(run: Run) -> tuple[str, str]:
    return reference_of(run.uid, run.reference, run.reference_type)


def _parent(run: Run) -> ParentRun | None:
    from lamin_core.lineage.runs import UNKNOWN_JOB

    parent = run.initiated_by_run
    if parent is None:
        return None
    reference, reference_type = _reference(parent)
    placeholder = (parent.transform.key or "").startswith(UNKNOWN_JOB + "/")
    return ParentRun(run_id=reference, job=None if placeholder else _job(parent.transform), reference_type=reference_type)


def _error_message(run: Run, attempt: int | None) -> str | None:
    for entry in (run.facets or {}).get("attempts", []):
        if entry.get("status") == "errored" and entry.get("attempt") == attempt and entry.get("error"):
            return str(entry["error"])
    if run.report is None:
        return None
    try:
        return run.report.cache().read_text(errors="replace")
    except Exception:  # the report's file is gone: the run is still worth exporting
        return None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def events_of_run(s: Session, run: Run) -> list[LineageEvent]:
    """The LineageEvents a recorded run is made of, oldest first."""
    from lamin_core.models import Artifact, LineageEventRecord
    from sqlalchemy import select

    reference, reference_type = _reference(run)
    job = _job(run.transform)
    parent = _parent(run)
    run_facets = {k: v for k, v in (run.facets or {}).items() if k not in _INTERNAL_RUN_FACETS}
    rows = s.execute(
        select(LineageEventRecord).where(LineageEventRecord.run_id == run.id).order_by(LineageEventRecord.event_time, LineageEventRecord.id)
    ).scalars().all()
    uids = {u for r in rows for side in ("inputs", "outputs") for u in (r.summary or {}).get(side, [])}
    by_uid = {a.uid: a for a in s.execute(select(Artifact).where(Artifact.uid.in_(uids))).scalars()} if uids else {}

    def info(attempt: int | None, failed: bool) -> RunInfo:
        return RunInfo(
            run_id=reference,
            reference_type=reference_type,
            parent=parent,
            params=run.params,
            facets=run_facets,
            error_message=_error_message(run, attempt) if failed else None,
            attempt=attempt,
            name=run.name,
        )

    events = []
    for r in rows:
        summary = r.summary or {}
        events.append(
            LineageEvent(
                event_type=r.event_type,  # type: ignore[arg-type]  # stored from a validated event
                event_time=_aware(r.event_time),
                job=job,
                run=info(r.attempt, r.event_type == "FAIL"),
                inputs=[_dataset(by_uid[u]) for u in summary.get("inputs", []) if u in by_uid],
                outputs=[_dataset(by_uid[u]) for u in summary.get("outputs", []) if u in by_uid],
                producer=r.producer or "",
            )
        )
    if not rows:  # recorded without the event log: rebuild START and the terminal event
        start = _aware(run.started_at or run.created_at)
        events.append(LineageEvent("START", start, job, info(None, False), inputs=[_dataset(a) for a in run.input_artifacts]))
        terminal = _TERMINAL_EVENT.get(run.status)
        if terminal:
            end = _aware(run.finished_at or start)
            outputs = [_dataset(a) for a in run.output_artifacts]
            events.append(LineageEvent(terminal, end, job, info(None, terminal == "FAIL"), outputs=outputs))  # type: ignore[arg-type]
    return events


def _http_transport(url: str, api_key: str | None) -> Any:
    """openlineage-python's HTTP transport (its session, retries, auth, compression), sending our JSON as is.

    The transport's own `emit` serializes with `Serde`, which drops nulls and empty objects inside lists:
    a run parameter that is `None` would not come back. So we hand it the exact JSON text.
    """
    import json
    from urllib.parse import urljoin

    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

    class ExactJsonHttpTransport(HttpTransport):
        def emit_json(self, body: str) -> Any:
            data, headers = self._prepare_request(body)
            resp = self.session.post(
                urljoin(self.url, self.endpoint), data=data, headers=headers, timeout=self.timeout, verify=self.verify
            )
            resp.close()
            resp.raise_for_status()
            return resp

        def emit(self, event: Any) -> Any:
            return self.emit_json(event if isinstance(event, str) else json.dumps(event))

    auth = ApiKeyTokenProvider({"apiKey": api_key}) if api_key else TokenProvider({})
    return ExactJsonHttpTransport(HttpConfig(url=url, auth=auth, timeout=30.0))


def send(events: Iterable[LineageEvent], url: str | None = None, api_key: str | None = None) -> int:
    """Send LineageEvents as OpenLineage RunEvents; returns how many were sent."""
    from lamin_core.storage.progress import count_progress

    transport = _http_transport(target_url(url), api_key or os.environ.get(API_KEY_VARIABLE) or None)
    events = list(events)
    n = 0
    try:
        with count_progress(len(events), "exporting OpenLineage events") as advance:  # a bar on a terminal only
            for e in events:
                try:
                    transport.emit(to_openlineage(e))
                except Exception as err:  # requests' HTTPError carries the backend's answer
                    body = getattr(getattr(err, "response", None), "text", "") or ""
                    raise ExportError(
                        f"the backend refused event {n + 1} ({e.event_type} of run {e.run.run_id}): {err} {body[:300]}"
                    ) from err
                n += 1
                advance(1)
    finally:
        transport.close()
    return n


def export_run(run: Run, url: str | None = None, api_key: str | None = None) -> int:
    """Emit one recorded run to an OpenLineage backend; returns the number of events sent."""
    return export_runs([run.uid], url=url, api_key=api_key)


def export_runs(uids: Sequence[str] | None = None, url: str | None = None, api_key: str | None = None) -> int:
    """Emit the runs with these uids (every run when None), parents before children."""
    from lamin_core.db import engine as db
    from lamin_core.models import Run
    from sqlalchemy import select

    target = target_url(url)  # fail before reading anything when no backend is configured
    with db.read() as s:
        query = select(Run).order_by(Run.id)
        if uids is not None:
            query = query.where(Run.uid.in_(list(uids)))
        runs = s.execute(query).scalars().all()
        if uids is not None and len(runs) < len(set(uids)):
            missing = sorted(set(uids) - {r.uid for r in runs})
            raise ExportError(f"no run with uid {', '.join(missing)}")
        events = [e for run in runs for e in events_of_run(s, run)]
    return send(events, url=target, api_key=api_key)
