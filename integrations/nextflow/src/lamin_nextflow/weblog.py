"""The live path: one nf-weblog POST -> `LineageEvent`s -> `record()`.

Nextflow's weblog plugin (`weblog { enabled = true; url = ... }`) POSTs `{runName, runId, event, utcTime,
trace | metadata}` for `started`, `process_submitted`, `process_started`, `process_completed`, `error` and
`completed`. Older Nextflow versions sent `params` beside `metadata` and a top-level `stats`: both are
accepted. The events it yields are the ones `lamin nextflow ingest` yields for the same run, so ingesting
afterwards completes the same records (it adds the files, which the weblog never lists).

Process events carry no pipeline name or version, so the pipeline's Job is remembered from `started`
(in this process) or looked up from the pipeline Run already recorded (another server process, a restart).
A retry arrives with a new task hash: it is filed under the Run of the task's first attempt, found the same
way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from lamin_core.lineage import Job, LineageEvent, RunInfo

from ._util import parse_datetime
from .identity import NAMESPACE, PIPELINE_RUN, TASK_RUN, pipeline_job, pipeline_run, pipeline_run_id, process_job, task_run
from .records import PipelineMeta, TaskAttempt, WeblogEvent
from .trace import row_to_attempt
from .translate import TERMINAL, attempt_error, attempt_facets, make_event

MAX_NAME = 200
EVENTS = ("started", "process_submitted", "process_started", "process_completed", "error", "completed")


class WeblogError(ValueError):
    """A weblog body that cannot be used; `field` names the culprit (the server answers 400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _meta_from(body: dict[str, Any], session_id: str, run_name: str) -> PipelineMeta | None:
    metadata = body.get("metadata")
    if metadata is None and "params" not in body:
        return None
    if metadata is not None and not isinstance(metadata, dict):
        raise WeblogError("metadata must be an object", "metadata")
    metadata = metadata or {}
    workflow = metadata.get("workflow") or {}
    if not isinstance(workflow, dict):
        raise WeblogError("metadata.workflow must be an object", "metadata.workflow")
    params = metadata.get("parameters", body.get("params"))
    if params is not None and not isinstance(params, dict):
        raise WeblogError("parameters must be an object", "metadata.parameters")
    manifest = workflow.get("manifest") if isinstance(workflow.get("manifest"), dict) else {}
    nextflow = workflow.get("nextflow") if isinstance(workflow.get("nextflow"), dict) else {}
    return PipelineMeta(
        session_id=session_id,
        run_name=run_name,
        manifest_name=manifest.get("name"),
        manifest_version=manifest.get("version"),
        description=manifest.get("description"),
        repository=workflow.get("repository"),
        commit_id=workflow.get("commitId"),
        revision=workflow.get("revision"),
        script_file=workflow.get("scriptFile"),
        script_id=workflow.get("scriptId"),
        params=dict(params or {}),
        start=parse_datetime(workflow.get("start")),
        complete=parse_datetime(workflow.get("complete")),
        success=workflow.get("success") if isinstance(workflow.get("success"), bool) else None,
        error_message=workflow.get("errorMessage") or workflow.get("errorReport"),
        launch_dir=workflow.get("launchDir"),
        work_dir=workflow.get("workDir"),
        output_dir=workflow.get("outputDir"),
        project_dir=workflow.get("projectDir"),
        nextflow_version=nextflow.get("version"),
        command_line=workflow.get("commandLine"),
        profile=workflow.get("profile"),
        resume=workflow.get("resume") if isinstance(workflow.get("resume"), bool) else None,
    )


def parse_event(body: Any) -> WeblogEvent:
    """Validate one weblog body; raises `WeblogError` naming the bad field."""
    if not isinstance(body, dict):
        raise WeblogError("expected one JSON object (a Nextflow weblog event)")
    for name in ("runName", "runId", "event"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise WeblogError(f"{name} is required (a non-empty string)", name)
        if len(body[name]) > MAX_NAME:  # run references are stored in 255 characters
            raise WeblogError(f"{name} is longer than {MAX_NAME} characters", name)
    event = body["event"].strip()
    if event not in EVENTS:
        raise WeblogError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}", "event")
    when = parse_datetime(body.get("utcTime"))
    if when is None:
        raise WeblogError("utcTime is required (ISO 8601, e.g. 2025-06-01T12:00:00Z)", "utcTime")
    session_id, run_name = body["runId"].strip(), body["runName"].strip()
    trace = None
    if event.startswith("process_"):
        trace = _task_trace(body.get("trace"), event)
    elif event == "error" and body.get("trace") is not None:
        try:  # the failing task, when Nextflow names it; the run is closed as errored either way
            trace = _task_trace(body.get("trace"), event)
        except WeblogError:
            trace = None
    pipeline = _meta_from(body, session_id, run_name)  # older versions' top-level `stats` carries nothing we keep
    if event == "started" and pipeline is None:
        raise WeblogError("a started event needs metadata.workflow", "metadata")
    return WeblogEvent(event=event, run_name=run_name, session_id=session_id, utc_time=when, trace=trace, pipeline=pipeline)


def _task_trace(raw: Any, event: str) -> TaskAttempt:
    if not isinstance(raw, dict):
        raise WeblogError(f"a {event} event needs a trace object", "trace")
    trace = row_to_attempt(raw)
    if not trace.hash:
        raise WeblogError("trace.workdir must end with the task's full hash (work/ab/cdef...)", "trace.workdir")
    if not trace.name:
        raise WeblogError("trace.name is required", "trace.name")
    return trace


class _Memory:
    """Bounded in-process memory of pipeline Jobs (per run) and first-attempt hashes (per task name)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.first_hash: OrderedDict[tuple[str, str], str] = OrderedDict()

    def _put(self, table: OrderedDict, key: Any, value: Any) -> None:
        with self.lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self.size:
                table.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.first_hash.clear()


MEMORY = _Memory()


def _job_from_db(run_ref: str) -> Job | None:
    """The pipeline Job of a Run already recorded (its Transform's key and version)."""
    import lamin_core as ln

    run = ln.Run.filter(reference=run_ref, reference_type=PIPELINE_RUN).first()
    if run is None or not run.transform.key:
        return None
    key = run.transform.key
    name = key[len(NAMESPACE) + 1 :] if key.startswith(NAMESPACE + "/") else key
    return Job(namespace=NAMESPACE, name=name, kind="pipeline", version=run.transform.version)


def _first_hash_from_db(run_ref: str, task_name: str) -> str | None:
    """The hash naming the task's Run: an earlier attempt of the same task name in the same pipeline run."""
    import lamin_core as ln

    parent = ln.Run.filter(reference=run_ref, reference_type=PIPELINE_RUN).first()
    if parent is None:
        return None
    runs = ln.Run.filter(reference_type=TASK_RUN, name=task_name, initiated_by_run=parent).all()
    runs = sorted(runs, key=lambda r: r.started_at or datetime.min)
    return runs[0].reference if runs else None


def to_events(
    event: WeblogEvent,
    *,
    job_lookup: Callable[[str], Job | None] = _job_from_db,
    first_hash_lookup: Callable[[str, str], str | None] = _first_hash_from_db,
) -> list[LineageEvent]:
    """The LineageEvents one weblog event stands for (pure apart from the two lookups)."""
    run_ref = pipeline_run_id(event.session_id, event.run_name)
    known = event.pipeline and (event.pipeline.manifest_name or event.pipeline.repository or event.pipeline.script_file)
    if event.pipeline is not None and (event.event == "started" or known):
        job = pipeline_job(event.pipeline)
        MEMORY._put(MEMORY.jobs, run_ref, job)
    else:
        job = MEMORY.jobs.get(run_ref) or job_lookup(run_ref)
        if job is None:
            raise WeblogError(
                f"run {event.run_name} ({event.session_id}) is unknown here: its `started` event was not received; "
                "record it afterwards with `lamin nextflow ingest`",
                "runId",
            )
        MEMORY._put(MEMORY.jobs, run_ref, job)
    events: list[LineageEvent] = []
    if event.trace is not None:
        events.extend(_task_events(event, event.trace, job, run_ref, first_hash_lookup))
    if event.event in ("started", "error", "completed"):
        events.extend(_pipeline_events(event, job))
    return events


def _task_events(
    event: WeblogEvent, trace: TaskAttempt, job: Job, run_ref: str, lookup: Callable[[str, str], str | None]
) -> list[LineageEvent]:
    name = trace.name or trace.hash or "task"
    key = (run_ref, name)
    first = trace.hash or ""
    if (trace.attempt or 1) > 1:
        first = MEMORY.first_hash.get(key) or lookup(run_ref, name) or first
    MEMORY._put(MEMORY.first_hash, key, first)
    facets = attempt_facets(trace)
    facets["process"] = trace.process or name.split(" ", 1)[0]
    if trace.script:
        facets["script"] = trace.script.strip()
    pjob = process_job(job, facets["process"])

    def run_of(number: int | None, error: str | None) -> RunInfo:
        # the weblog carries no `meta`, only the tag (nf-core tags a task with meta.id): ingest adds the rest
        return task_run(first, name, job, run_ref, attempt=number, facets=facets, error_message=error,
                        annotations={"tag": trace.tag} if trace.tag else None)

    number = trace.attempt or 1
    if event.event == "process_submitted":
        return [make_event("START", trace.submit or event.utc_time, pjob, run_of(number, None))]
    if event.event == "process_started":
        kind = "RUNNING" if trace.submit else "START"  # as ingest does: START at submit, RUNNING at start
        return [make_event(kind, trace.start or event.utc_time, pjob, run_of(number, None))]
    kind = TERMINAL.get(trace.status or "", "OTHER")
    when = trace.complete or trace.start or trace.submit or event.utc_time
    return [make_event(kind, when, pjob, run_of(number, attempt_error(trace, name)))]


def _pipeline_events(event: WeblogEvent, job: Job) -> list[LineageEvent]:
    meta = event.pipeline or PipelineMeta(session_id=event.session_id, run_name=event.run_name)
    run = pipeline_run(meta) if event.pipeline else replace(pipeline_run(meta), params=None)
    if event.event == "started":
        return [make_event("START", meta.start or event.utc_time, job, run)]
    if event.event == "error":
        message = meta.error_message or (
            attempt_error(event.trace, event.trace.name or "task") if event.trace else None
        ) or "the run failed"
        return [make_event("FAIL", event.utc_time, job, replace(run, error_message=message))]
    # completed: success decides; an older Nextflow without `success` -> the run completed
    failed = meta.success is False
    kind = "FAIL" if failed else "COMPLETE"
    if failed and not run.error_message:
        run = replace(run, error_message="the run failed")
    return [make_event(kind, meta.complete or event.utc_time, job, run)]


def handle_weblog(body: dict[str, Any], *, record: Callable[[LineageEvent], Any] | None = None) -> bool:
    """Validate, translate and record one weblog event; True when it added anything new."""
    return record_weblog_event(parse_event(body), record=record)


def record_weblog_event(event: WeblogEvent, *, record: Callable[[LineageEvent], Any] | None = None) -> bool:
    """Translate and record one parsed weblog event (blocking: database lookups and writes)."""
    events = to_events(event)
    if record is None:
        from lamin_core.lineage import record as default_record  # lazy: SQLAlchemy and the models

        record = default_record
    is_new = False
    for lineage_event in events:
        recorded = record(lineage_event)
        is_new = bool(getattr(recorded, "is_new", False)) or is_new
    return is_new
