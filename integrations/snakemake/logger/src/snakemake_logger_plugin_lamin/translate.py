"""Snakemake log records -> `LineageEvent`s.

Pure translation, no I/O except reading the Snakefile and config files once per invocation: the
handler feeds every record to `Translator.handle()` and sends what comes back to the recording path.

What Snakemake logs, and what it becomes (see docs/snakemake.md):

- `workflow_started` (once per invocation; `workflow_id` is a fresh uuid4): START of the workflow Run
  (reference_type `snakemake_workflow`) of the workflow Transform (kind pipeline, source = Snakefile +
  config files), with the command line and the config as params.
- `job_info` (when a job is handed to its executor): START of the job's Run, a child of the workflow
  run, of the rule's Transform (kind function); its inputs are the job's input files.
- `job_finished` / `job_error`: COMPLETE (with outputs, log and benchmark files) or FAIL. A job with
  `retries:` is logged again with the same jobid: the next attempt of the same run.
- `error`: the message of the `job_error` that follows it; an error that no job claims fails the
  workflow, and so does a job whose last attempt failed.
- `progress`: the last one tells whether every job ran.
- There is no "workflow finished" record: `finish()` (called from the handler's `close()`) derives the
  workflow run's end from the records seen, and aborts jobs that never finished.
"""

import dataclasses
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging import LogRecord
from typing import Any, Literal

from lamin_core.lineage.events import Dataset, Job, LineageEvent, ParentRun, RunInfo

from .files import FileRef, absolute, parse_files, split_uri
from .redact import redact_command, redact_value
from .sources import load_config, snakefile_rule_blocks, workflow_source

NAMESPACE = "snakemake"
WORKFLOW_REFERENCE_TYPE = "snakemake_workflow"
JOB_REFERENCE_TYPE = "snakemake_job"
PRODUCER = "https://github.com/laminlabs/lamin-core/integrations/snakemake"

Role = Literal["input", "output"]
# Turns a URI such as `lamin://raw/a.csv` or `s3://bucket/key` into the dataset it stands for; None: skip it.
UriResolver = Callable[[str, Role], Dataset | None]


def default_uri_resolver(uri: str, role: Role) -> Dataset | None:
    """A storage file (`s3://bucket/key`) is the dataset at that URI, as OpenLineage names it."""
    namespace, name = split_uri(uri)
    return Dataset(namespace=namespace, name=name)


@dataclass
class _Workflow:
    run_id: str
    job: Job
    workdir: str
    rule_sources: dict[str, str]
    name: str


@dataclass
class _JobState:
    jobid: int
    rule: str
    run: RunInfo
    job: Job
    inputs: list[FileRef]
    outputs: list[FileRef]
    logs: list[FileRef]
    benchmarks: list[FileRef]
    attempt: int = 1
    ended: bool = False
    failed: bool = False  # the latest attempt failed (a retry that succeeds clears it)


@dataclass
class Translator:
    """Turns the records of one Snakemake invocation into lineage events, in the order they arrive.

    `workdir` is where relative file names point (default: the process's working directory when the
    workflow starts, which Snakemake has already moved into any `workdir:` of the Snakefile).
    `exists` decides which output and log files are reported (Snakemake deletes the outputs of failed
    jobs, and optional logs may never be written).
    """

    register_unproduced_inputs: bool = True
    workflow_name: str | None = None
    workdir: str | None = None
    resolve_uri: UriResolver = default_uri_resolver
    exists: Callable[[str], bool] = os.path.exists
    # a job's wildcards and params annotate its run and outputs (lamin_core/lineage/annotations.py)
    annotate: str = "existing"
    job_params: Callable[[int], dict[str, Any]] | None = None  # jobid -> the job's named params
    # an output URI -> why it was not stored (the storage plugin refused it): fails its job's run
    storage_refusal: Callable[[str], str | None] | None = None
    _workflow: _Workflow | None = field(default=None, init=False)
    _jobs: dict[int, _JobState] = field(default_factory=dict, init=False)
    _produced: set[str] = field(default_factory=set, init=False)
    _pending_error: str | None = field(default=None, init=False)
    _workflow_errors: list[str] = field(default_factory=list, init=False)
    _progress: tuple[int, int] | None = field(default=None, init=False)
    _finished: bool = field(default=False, init=False)

    # -- dispatch -----------------------------------------------------------------------------------

    def handle(self, record: LogRecord) -> list[LineageEvent]:
        """The events a record stands for (most records stand for none)."""
        event = str(getattr(record, "event", "") or "")
        handler = getattr(self, f"_on_{event}", None) if event else None
        if handler is None or self._finished:
            return []
        return self._with_mode(handler(record, _time_of(record)))

    def _with_mode(self, events: list[LineageEvent]) -> list[LineageEvent]:
        """Events carry the annotate mode; the default one ("existing") is the contract's default: no copy."""
        if self.annotate == "existing" or not events:
            return events
        return [dataclasses.replace(e, annotate=self.annotate, engine=NAMESPACE) for e in events]  # type: ignore[arg-type]

    # -- workflow -----------------------------------------------------------------------------------

    def _on_workflow_started(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        workdir = self.workdir or os.getcwd()
        # `snakefile_main`, not `snakefile` (that one names Snakemake's own workflow.py)
        snakefile = str(getattr(record, "snakefile_main", None) or "Snakefile")
        snakefile = absolute(snakefile, str(getattr(record, "cwd", None) or workdir))
        configfiles = [str(c) for c in (getattr(record, "configfiles", None) or [])]
        config_dir = str(getattr(record, "cwd", None) or workdir)  # config paths are relative to the launch dir
        name = self.workflow_name or _workflow_name(snakefile, config_dir)
        job = Job(
            namespace=NAMESPACE,
            name=name,
            kind="pipeline",
            source_code=workflow_source(snakefile, configfiles, config_dir),
            description=f"Snakemake workflow {snakefile}",
        )
        params: dict[str, Any] = {
            "command": redact_command(str(getattr(record, "cmd", "") or "")),
            "config": redact_value(load_config(configfiles, config_dir)),
            "snakemake_version": getattr(record, "snakemake_version", None),
            "host": getattr(record, "host", None),
            "workdir": workdir,
        }
        run_id = str(getattr(record, "workflow_id", None) or uuid.uuid4())
        self._workflow = _Workflow(run_id, job, workdir, snakefile_rule_blocks(snakefile), name)
        run = RunInfo(run_id=run_id, reference_type=WORKFLOW_REFERENCE_TYPE, params=params, name=name)
        return [_event("START", when, job, run)]

    def _ensure_workflow(self, when: datetime) -> _Workflow:
        """Records of jobs without a `workflow_started` before them still get a workflow run."""
        if self._workflow is None:
            workdir = self.workdir or os.getcwd()
            name = self.workflow_name or f"{os.path.basename(workdir) or 'workflow'}/Snakefile"
            job = Job(namespace=NAMESPACE, name=name, kind="pipeline")
            self._workflow = _Workflow(str(uuid.uuid4()), job, workdir, {}, name)
        return self._workflow

    def _on_error(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        # Snakemake logs a job's exception as an `error` record right before that job's `job_error`;
        # an error no `job_error` claims (a failed DAG, "At least one job did not complete") belongs to
        # the workflow. A job error alone does not fail the workflow: the job may be retried.
        self._claim_pending_error_for_workflow()
        self._pending_error = _message(record) or "error"
        return []

    def _claim_pending_error_for_workflow(self) -> None:
        if self._pending_error is not None:
            self._workflow_errors.append(self._pending_error)
            self._pending_error = None

    def _on_progress(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        done, total = getattr(record, "done", None), getattr(record, "total", None)
        if isinstance(done, int) and isinstance(total, int):
            self._progress = (done, total)
        return []

    # -- jobs ---------------------------------------------------------------------------------------

    def _on_job_info(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        wf = self._ensure_workflow(when)
        jobid = int(record.jobid)
        rule = str(getattr(record, "rule_name", "") or "rule")
        previous = self._jobs.get(jobid)
        attempt = previous.attempt + 1 if previous is not None else 1  # a retried job is logged again
        run_id = str(uuid.uuid5(uuid.UUID(wf.run_id), str(jobid))) if _is_uuid(wf.run_id) else f"{wf.run_id}-{jobid}"
        shellcmd = getattr(record, "shellcmd", None)
        params: dict[str, Any] = {
            "rule": rule,
            "jobid": jobid,
            "wildcards": redact_value(dict(getattr(record, "wildcards", None) or {})),
            "threads": getattr(record, "threads", None),
            "resources": _resources(getattr(record, "resources", None)),
        }
        if shellcmd:
            params["shell"] = redact_command(str(shellcmd))
        job = Job(
            namespace=NAMESPACE,
            name=f"{wf.name}:{rule}",
            kind="function",
            source_code=wf.rule_sources.get(rule),
            description=f"Snakemake rule {rule}",
        )
        run = RunInfo(
            run_id=run_id,
            reference_type=JOB_REFERENCE_TYPE,
            parent=ParentRun(run_id=wf.run_id, job=wf.job, reference_type=WORKFLOW_REFERENCE_TYPE),
            params=params,
            attempt=attempt,
            name=_run_name(rule, jobid, params["wildcards"]),
            annotations=self._annotations(jobid, params["wildcards"]),
        )
        benchmark = getattr(record, "benchmark", None)  # one file name or None
        state = _JobState(
            jobid=jobid,
            rule=rule,
            run=run,
            job=job,
            inputs=parse_files(getattr(record, "input", None)),
            outputs=parse_files(getattr(record, "output", None)),
            logs=parse_files(getattr(record, "log", None)),
            benchmarks=parse_files(benchmark),
            attempt=attempt,
        )
        self._jobs[jobid] = state
        inputs = self._datasets(state.inputs, "input", wf.workdir, check_exists=False)
        for ref in state.outputs:
            if not ref.is_uri:
                self._produced.add(absolute(ref.name, wf.workdir))
        return [_event("START", when, job, run, inputs=inputs)]

    def _annotations(self, jobid: int, wildcards: dict[str, Any]) -> dict[str, Any] | None:
        """Wildcards and params, the values a job is "for": `ln.Artifact.filter(sample="A")` finds every
        output of every job whose `{sample}` was A. Params that are not plain values (functions,
        objects) are left out; a param named like a wildcard loses to it."""
        if self.annotate == "none":
            return None
        values: dict[str, Any] = {}
        if self.job_params is not None:
            for name, value in self.job_params(jobid).items():
                plain = _plain(value)
                if plain is not None:
                    values[name] = plain
            values = redact_value(values)
        values.update(wildcards)
        return values or None

    def _on_job_finished(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        state = self._jobs.get(int(getattr(record, "job_id", -1)))
        if state is None or state.ended:
            return []
        state.ended = True
        wf = self._ensure_workflow(when)
        outputs = self._datasets(state.outputs, "output", wf.workdir, check_exists=True)
        outputs += self._attachments(state, wf.workdir)
        return [_event("COMPLETE", when, state.job, state.run, outputs=outputs)]

    def _on_job_error(self, record: LogRecord, when: datetime) -> list[LineageEvent]:
        state = self._jobs.get(int(getattr(record, "jobid", -1)))
        if state is None:
            return []
        state.ended = state.failed = True
        wf = self._ensure_workflow(when)
        message = self._pending_error or _message(record)
        self._pending_error = None
        run = _with_error(state.run, message)
        return [_event("FAIL", when, state.job, run, outputs=self._attachments(state, wf.workdir))]

    # -- end of the invocation ----------------------------------------------------------------------

    def finish(self, when: datetime | None = None) -> list[LineageEvent]:
        """End the workflow run (and any job that never ended); later records are ignored."""
        if self._finished or self._workflow is None:
            self._finished = True
            return []
        self._finished = True
        when = when or datetime.now(UTC)
        wf = self._workflow
        events: list[LineageEvent] = []
        unfinished = [s for s in self._jobs.values() if not s.ended]
        for state in unfinished:  # interrupted, or cancelled after another job failed
            state.ended = True
            refusal = self._refusal(state)
            if refusal is not None:  # storing its output failed (e.g. schema validation): Snakemake logs no job_error
                state.failed = True
                events.append(_event("FAIL", when, state.job, state.run, outputs=self._attachments(state, wf.workdir)))
                events[-1] = dataclasses.replace(events[-1], run=_with_error(state.run, refusal))
                continue
            events.append(_event("ABORT", when, state.job, state.run))
        self._claim_pending_error_for_workflow()
        failed_jobs = [s for s in self._jobs.values() if s.failed]
        ran_all = self._progress is None or self._progress[0] >= self._progress[1]
        run = RunInfo(run_id=wf.run_id, reference_type=WORKFLOW_REFERENCE_TYPE, name=wf.name)
        if self._workflow_errors or failed_jobs:
            message = self._workflow_errors[-1] if self._workflow_errors else f"job {failed_jobs[-1].run.name} failed"
            events.append(_event("FAIL", when, wf.job, _with_error(run, message)))
        elif unfinished or not ran_all:
            events.append(_event("ABORT", when, wf.job, run))
        else:
            events.append(_event("COMPLETE", when, wf.job, run))
        return self._with_mode(events)

    def _refusal(self, state: _JobState) -> str | None:
        if self.storage_refusal is None:
            return None
        for ref in state.outputs:
            if ref.is_uri:
                message = self.storage_refusal(ref.name)
                if message:
                    return message
        return None

    # -- files --------------------------------------------------------------------------------------

    def _datasets(self, refs: list[FileRef], role: Role, workdir: str, check_exists: bool) -> list[Dataset]:
        datasets: list[Dataset] = []
        for ref in refs:
            if ref.is_uri:
                resolved = self.resolve_uri(ref.name, role)
                if isinstance(resolved, list):  # lamin://collection/KEY: its members
                    datasets.extend(resolved)
                elif resolved is not None:
                    datasets.append(resolved)
                continue
            path = absolute(ref.name, workdir)
            if role == "input" and not self.register_unproduced_inputs and path not in self._produced:
                continue
            if check_exists and not self.exists(path):
                continue
            datasets.append(Dataset(namespace="file", name=path, storage_root=workdir))
        return datasets

    def _attachments(self, state: _JobState, workdir: str) -> list[Dataset]:
        """Log and benchmark files: attached to the run with their kind, never as outputs."""
        out: list[Dataset] = []
        for kind, refs in (("log", state.logs), ("benchmark", state.benchmarks)):
            for ref in refs:
                if ref.is_uri:
                    continue
                path = absolute(ref.name, workdir)
                if self.exists(path):
                    out.append(Dataset(namespace="file", name=path, storage_root=workdir, kind=kind))
        return out


# -- helpers ----------------------------------------------------------------------------------------


def _event(
    event_type: Literal["START", "COMPLETE", "FAIL", "ABORT"],
    when: datetime,
    job: Job,
    run: RunInfo,
    inputs: list[Dataset] | None = None,
    outputs: list[Dataset] | None = None,
) -> LineageEvent:
    return LineageEvent(
        event_type=event_type,
        event_time=when,
        job=job,
        run=run,
        inputs=tuple(inputs or ()),
        outputs=tuple(outputs or ()),
        producer=PRODUCER,
    )


def _time_of(record: LogRecord) -> datetime:
    # `created` is when Snakemake logged the record, not when the queue thread got to it
    return datetime.fromtimestamp(getattr(record, "created", None) or datetime.now().timestamp(), tz=UTC)


def _message(record: LogRecord) -> str | None:
    msg = getattr(record, "msg", None)
    if msg is None:
        return None
    try:
        return str(record.getMessage())
    except Exception:  # a record whose args don't fit its format string
        return str(msg)


def _with_error(run: RunInfo, message: str | None) -> RunInfo:
    return dataclasses.replace(run, error_message=message)


def _resources(resources: Any) -> dict[str, Any]:
    """Snakemake's resources (a Namedlist) without its internal `_cores`/`_nodes` entries."""
    if resources is None:
        return {}
    items = resources.items() if hasattr(resources, "items") else []
    out: dict[str, Any] = {}
    for name, value in items:
        if str(name).startswith("_"):
            continue
        out[str(name)] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return redact_value(out)


def _run_name(rule: str, jobid: int, wildcards: dict[str, Any]) -> str:
    """`count[sample=a] #4`: readable in listings; cut to the 150 characters a run name holds."""
    wc = ",".join(f"{k}={v}" for k, v in wildcards.items())
    name = f"{rule}[{wc}] #{jobid}" if wc else f"{rule} #{jobid}"
    return name if len(name) <= 150 else name[:140] + f"… #{jobid}"


def _plain(value: Any) -> Any:
    """A param as a feature value: str, number or bool, or a list of these (a Namedlist of files too)."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, bool, int, float)) for v in value):
        return [v if isinstance(v, (bool, int, float)) else str(v) for v in value]
    return None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _workflow_name(snakefile: str, launch_dir: str) -> str:
    """`<project folder>/<Snakefile path in it>`, e.g. `rnaseq/workflow/Snakefile`.

    The project folder is where Snakemake was launched; a Snakefile outside of it is named by its own
    folder. The name keys the workflow's Transform: every run of the same project is a Run of it.
    """
    launch_dir = os.path.normpath(launch_dir)
    parent = os.path.dirname(launch_dir)
    if os.path.commonpath([snakefile, launch_dir]) == launch_dir and parent != launch_dir:
        return os.path.relpath(snakefile, parent)
    return f"{os.path.basename(os.path.dirname(snakefile)) or 'workflow'}/{os.path.basename(snakefile)}"
