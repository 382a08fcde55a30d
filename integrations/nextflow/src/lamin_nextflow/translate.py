"""Assembled pipeline runs -> `LineageEvent`s (pure: no database).

Per task the events are the ones the weblog sends live, at the same times (START at submit, RUNNING at
start, COMPLETE/FAIL/ABORT at completion, per attempt), so ingesting a run the weblog already recorded
repeats those events (no change) and adds one `OTHER` event carrying the task's files, which the weblog
never knows. Published outputs are outputs of the task that wrote them; work files only with
`intermediates=True`; a task input that another task wrote is its published copy when there is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Sequence

from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo

from ._util import task_hash_from_path, work_key
from .annotations import ENGINE, read_samplesheet, task_annotations
from .assemble import PipelineBundle, Task, local_missing
from .identity import PRODUCER, dataset, pipeline_job, pipeline_run, process_job, storage_root_for, task_run
from .lineage_store import lid_key
from .nfcore import PipelineModules
from .params_check import ParamsCheck, check_params
from .records import FileRef, Skipped, TaskAttempt
from .schema import FILE_FORMATS, ParamSchema, type_params

# a task's RunInfo for (attempt number, error message): the same Run, told which attempt an event is of
RunOf = Callable[[int | None, str | None], RunInfo]
TERMINAL = {"COMPLETED": "COMPLETE", "CACHED": "COMPLETE", "FAILED": "FAIL", "ABORTED": "ABORT"}


@dataclass
class FileIndex:
    """Work files and their published copies across every run of an import (a -resume reads older ones)."""

    work: dict[str, FileRef] = field(default_factory=dict)  # by lid key `<hash>/<rel>` and by path
    published: dict[str, FileRef] = field(default_factory=dict)  # by the work file's lid key and path

    @classmethod
    def build(cls, bundles: list[PipelineBundle]) -> "FileIndex":
        index = cls()
        for bundle in bundles:
            for task in bundle.tasks:
                for ref in task.outputs:
                    index.work[ref.path] = ref
                    key = work_key(ref.path)
                    if key:
                        index.work[key] = ref
                for ref in task.published:
                    index.add_published(ref)
            for ref in bundle.run_outputs:
                index.add_published(ref)
            for _, _, ref in bundle.foreign:
                index.add_published(ref)
        return index

    def add_published(self, ref: FileRef) -> None:
        if ref.work_path:
            self.published.setdefault(ref.work_path, ref)
            work = self.work.get(ref.work_path)
            if work:
                self.published.setdefault(work.path, ref)

    def resolve_input(self, ref: FileRef, intermediates: bool) -> tuple[FileRef | None, str | None]:
        """(file to record, upstream task hash) for a task input."""
        key = lid_key(ref.path)
        if key is None and not task_hash_from_path(ref.path):
            return ref, None  # raw data no task wrote (a samplesheet, reads)
        work = self.work.get(key or ref.path) or (FileRef(path=ref.path) if key is None else None)
        upstream = key.split("/", 1)[0] if key else task_hash_from_path(ref.path)
        copy = self.published.get(key or "") or (self.published.get(work.path) if work else None)
        if copy:
            return copy, upstream
        if intermediates and work:
            return work, upstream
        return None, upstream


@dataclass
class Translation:
    events: list[LineageEvent] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    params_checks: dict[str, ParamsCheck] = field(default_factory=dict)  # pipeline run id -> its params' check


def make_event(
    kind: str, when: datetime, job: Job, run: RunInfo, inputs: Sequence[Dataset] = (), outputs: Sequence[Dataset] = ()
) -> LineageEvent:
    return LineageEvent(
        event_type=kind, event_time=when, job=job, run=run, inputs=list(inputs), outputs=list(outputs), producer=PRODUCER
    )


def attempt_facets(a: TaskAttempt) -> dict[str, Any]:
    data = {
        "hash": a.hash,
        "taskId": a.task_id,
        "attempt": a.attempt,
        "status": a.status,
        "exit": a.exit,
        "errorAction": a.error_action,
        "workdir": a.workdir,
        "container": a.container,
        "nativeId": a.native_id,
        "tag": a.tag,
        "submit": a.submit.isoformat() if a.submit else None,
        "start": a.start.isoformat() if a.start else None,
        "complete": a.complete.isoformat() if a.complete else None,
        "resources": a.resources or None,
    }
    return {k: v for k, v in data.items() if v is not None}


def task_facets(task: Task) -> dict[str, Any]:
    record = task.record
    last = task.attempts[-1] if task.attempts else TaskAttempt(hash=task.hash)
    facets = attempt_facets(last)
    facets["process"] = task.process
    facets["attempts"] = [attempt_facets(a) for a in task.attempts]
    if record:
        extra = {"codeChecksum": record.code_checksum, "moduleId": record.module_id, "conda": record.conda}
        facets.update({k: v for k, v in extra.items() if v})
        facets.setdefault("container", record.container)
    script = (last.script or (record.script if record else None) or "").strip()
    if script:
        facets["script"] = script
    return {k: v for k, v in facets.items() if v not in (None, [], {})}


def attempt_error(a: TaskAttempt, name: str) -> str | None:
    if not a.failed:
        return None
    what = f"exit status {a.exit}" if a.exit is not None else (a.status or "failed").lower()
    action = f"; Nextflow's error strategy: {a.error_action.lower()}" if a.error_action else ""
    return f"Process `{name}` terminated with {what}{action}"


def status_events(task: TaskAttempt, name: str, number: int, job: Job, run_of: RunOf) -> list[LineageEvent]:
    """The live events of one attempt (the weblog sends exactly these)."""
    events = []
    if task.submit:
        events.append(make_event("START", task.submit, job, run_of(number, None)))
    if task.start:
        events.append(make_event("RUNNING" if task.submit else "START", task.start, job, run_of(number, None)))
    terminal = TERMINAL.get(task.status or "")
    when = task.complete or task.start or task.submit
    if terminal and when:
        events.append(make_event(terminal, when, job, run_of(number, attempt_error(task, name))))
    return events


class Translator:
    """Turns assembled runs into events; one instance per import (it holds the file index)."""

    def __init__(
        self, bundles: list[PipelineBundle], *, intermediates: bool = False, schema: ParamSchema | None = None,
        annotate: str = "existing", nf_core: dict[str, PipelineModules] | None = None, backend: str | None = None,
    ) -> None:
        self.bundles = bundles
        self.nf_core = nf_core or {}  # pipeline run id -> its nf-core modules (nfcore.py)
        self.backend = backend  # "nf-core" or "plain" for the params check; None: nf-core's code when installed
        self.intermediates = intermediates
        self.schema = schema
        self.annotate = annotate  # how tasks' meta, tag and samplesheet rows annotate them (annotations.py)
        self.files = FileIndex.build(bundles)
        self.jobs = {b.run_id: pipeline_job(b.meta) for b in bundles}
        self.out = Translation()

    def run(self) -> Translation:
        for bundle in self.bundles:
            self.pipeline(bundle)
        if self.annotate != "existing":  # the contract's default needs no copy
            self.out.events = [replace(e, annotate=self.annotate, engine=ENGINE) for e in self.out.events]  # type: ignore[arg-type]
        return self.out

    def _datasets(self, refs: list[FileRef], roots: list[str | None], what: str) -> list[Dataset]:
        out, seen = [], set()
        for ref in refs:
            if ref.path in seen:
                continue
            seen.add(ref.path)
            if local_missing(ref):
                self.out.skipped.append(Skipped(ref.path, f"{what} not found and Nextflow recorded no checksum"))
                continue
            out.append(dataset(ref, storage_root_for(ref.path, roots)))
        return out

    def _times(self, bundle: PipelineBundle) -> tuple[datetime | None, datetime | None]:
        times = [t for task in bundle.tasks for a in task.attempts for t in (a.submit, a.start, a.complete) if t]
        start = bundle.meta.start or (min(times) if times else None) or bundle.end
        return start, bundle.end or (max(times) if times else None) or start

    def pipeline(self, bundle: PipelineBundle) -> None:
        meta = bundle.meta
        start, end = self._times(bundle)
        if start is None:
            self.out.skipped.append(
                Skipped(f"run {meta.run_name} ({meta.session_id})", "no time is known for it (no trace, no start)")
            )
            return
        job = self.jobs[bundle.run_id]
        params = type_params(meta.params, self.schema)
        roots = [meta.output_dir, meta.work_dir, meta.launch_dir]
        check = self._check_params(bundle.run_id, params)
        run = self._pipeline_run(bundle, params, check)
        self.out.events.append(make_event("START", start, job, run))
        sheet = read_samplesheet(params, meta.launch_dir) if self.annotate != "none" else {}
        for task in bundle.tasks:
            self.task(task, job, bundle.run_id, roots, start, end, sheet)
        foreign: dict[int, tuple[Task, str, list[FileRef]]] = {}
        for task, owner, ref in bundle.foreign:  # -resume: published again from a task of an earlier run
            foreign.setdefault(id(task), (task, owner, []))[2].append(ref)
        for task, owner, refs in foreign.values():  # one event per task: same run, type and time = the same event
            self._files_event(task, self.jobs.get(owner, job), owner, [], refs, roots, end)
        status = bundle.status
        terminal = {"completed": "COMPLETE", "errored": "FAIL"}.get(status or "")
        if terminal:
            if terminal == "FAIL" and not run.error_message:
                failed = bundle.failed_tasks()
                message = (
                    attempt_error(failed[0].attempts[-1], failed[0].name) if failed else "the run ended with an error"
                )
                run = replace(run, error_message=message)
            self.out.events.append(make_event(terminal, end or start, job, run))
        # files in an event of their own, as for tasks: the weblog's START and COMPLETE have the same
        # identity as ingest's and are not recorded twice, so files on them would be lost after a weblog
        inputs = self._datasets(self._param_files(params, meta.launch_dir), roots, "pipeline input")
        outputs = self._datasets(bundle.run_outputs, roots, "published output")
        if inputs or outputs or (check and check.problems):
            # invalid params go into the run's report here, on an event the weblog never sends (its
            # COMPLETE/FAIL are the same events as ingest's and are not recorded twice), after the error
            other = self._pipeline_run(bundle, params, check)
            if check and check.problems:
                other = replace(other, error_message=check.report(run.error_message))
            self.out.events.append(make_event("OTHER", end or start, job, other, inputs, outputs))

    def _check_params(self, run_id: str, params: dict[str, Any]) -> ParamsCheck | None:
        """The run's params against nextflow_schema.json; problems never stop the import (params_check.py)."""
        if self.schema is None:
            return None
        problems, backend = check_params(params, self.schema.path, self.backend)
        check = ParamsCheck(schema=self.schema.path, backend=backend, problems=problems)
        self.out.params_checks[run_id] = check
        return check

    def _pipeline_run(self, bundle: PipelineBundle, params: dict[str, Any], check: ParamsCheck | None) -> RunInfo:
        run = pipeline_run(bundle.meta, params)
        extra: dict[str, Any] = {}
        if check is not None and check.problems:
            extra["paramsInvalid"] = [str(p) for p in check.problems]
            extra["paramsSchema"] = check.schema
        modules = self.nf_core.get(bundle.run_id)
        if modules is not None:
            extra["nfCore"] = {"pipelineDir": modules.directory, "reader": modules.backend, "modules": len(modules.modules)}
        if not extra:
            return run
        return replace(run, facets={**run.facets, "nextflow_run": {**run.facets.get("nextflow_run", {}), **extra}})

    def _process_job(self, pjob: Job, run_ref: str, process: str) -> Job:
        modules = self.nf_core.get(run_ref)
        return process_job(pjob, process, modules.for_process(process) if modules else None)

    def _param_files(self, params: dict[str, Any], launch_dir: str | None) -> list[FileRef]:
        """Files named by the run's params (a samplesheet): by the schema's formats, else existing local files."""
        refs = []
        for name, value in params.items():
            if not isinstance(value, str) or not value:
                continue
            declared = self.schema.formats.get(name) if self.schema else None
            path = value if ("://" in value or os.path.isabs(value)) else os.path.join(launch_dir or "", value)
            if "://" not in path and not os.path.isabs(path):
                continue  # relative to a launch directory nobody recorded: not a file we can name
            if declared in FILE_FORMATS and declared != "directory-path":
                if "://" in path or os.path.isfile(path):
                    refs.append(FileRef(path=path))
            elif self.schema is None and os.path.isabs(path) and os.path.isfile(path):
                refs.append(FileRef(path=path))
        return refs

    def task(
        self, task: Task, pjob: Job, run_ref: str, roots: list[str | None], start: datetime, end: datetime | None,
        sheet: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        job = self._process_job(pjob, run_ref, task.process)
        facets = task_facets(task)
        params = task.record.values if task.record else None
        tag = next((a.tag for a in reversed(task.attempts) if a.tag), None)
        annotations = task_annotations(params, tag, sheet or {}) if self.annotate != "none" else None
        inputs, upstream = [], set()
        for ref in task.inputs:
            resolved, up = self.files.resolve_input(ref, self.intermediates)
            if resolved is not None:
                inputs.append(resolved)
            if up:
                upstream.add(up)
        if upstream:  # kept even when the files between are not registered (no --intermediates)
            facets["upstreamTasks"] = sorted(upstream)

        def run_of(number: int | None, error: str | None) -> RunInfo:
            return task_run(task.hash, task.name, pjob, run_ref, attempt=number, facets=facets, params=params,
                            error_message=error, annotations=annotations)

        if task.attempts:
            for number, attempt in enumerate(task.attempts, start=1):
                self.out.events.extend(status_events(attempt, task.name, attempt.attempt or number, job, run_of))
        else:  # only the lineage store or nf-prov knows it: no times of its own
            self.out.events.append(make_event("START", start, job, run_of(None, None)))
            if task.status == "completed":
                self.out.events.append(make_event("COMPLETE", end or start, job, run_of(None, None)))
        outputs = list(task.published) + (list(task.outputs) if self.intermediates else [])
        last = task.attempts[-1] if task.attempts else None
        when = (last.complete or last.start or last.submit) if last else None
        self._files_event(task, pjob, run_ref, inputs, outputs, roots, when or end or start, run_of=run_of)

    def _files_event(
        self,
        task: Task,
        pjob: Job,
        run_ref: str,
        inputs: list[FileRef],
        outputs: list[FileRef],
        roots: list[str | None],
        when: datetime,
        run_of: RunOf | None = None,
    ) -> None:
        if not inputs and not outputs:
            return
        number = (task.attempts[-1].attempt or len(task.attempts)) if task.attempts else None
        run = run_of(number, None) if run_of else task_run(task.hash, task.name, pjob, run_ref, attempt=number,
                                                           facets=task_facets(task))
        self.out.events.append(
            make_event(
                "OTHER",
                when,
                self._process_job(pjob, run_ref, task.process),
                run,
                inputs=self._datasets(inputs, roots, "task input"),
                outputs=self._datasets(outputs, roots, "task output"),
            )
        )


def translate(bundles: list[PipelineBundle], *, intermediates: bool = False, schema: ParamSchema | None = None,
              annotate: str = "existing", nf_core: dict[str, PipelineModules] | None = None,
              backend: str | None = None) -> Translation:
    return Translator(bundles, intermediates=intermediates, schema=schema, annotate=annotate, nf_core=nf_core,
                      backend=backend).run()
