"""What the parsers produce: small dataclasses, one per thing Nextflow describes.

Every source (weblog event, trace file, lineage store, nf-prov manifest, history file) is parsed into
these shapes, so the translation to `LineageEvent`s is written once. Parsers never raise on bad input:
what they cannot use becomes a `Skipped` with the reason, for the user to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Skipped:
    """Something left out of an import, and why (printed to the user, never a traceback)."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class FileRef:
    """A file Nextflow read or wrote: a local absolute path or a URI (`s3://bucket/key`).

    `path` may also be a lineage id (`lid://<hash>/<rel>`) for a task input that another task wrote;
    the assembly step resolves it to the work file it names.
    """

    path: str
    checksum: str | None = None
    algorithm: str | None = None  # Nextflow's own ("nextflow"): comparable only with itself
    size: int | None = None
    task_hash: str | None = None  # the task that wrote it (for a published copy: the task whose output it copies)
    work_path: str | None = None  # a published copy: the work file it was copied from
    published: bool = False
    labels: tuple[str, ...] = ()


@dataclass
class TaskAttempt:
    """One execution attempt of a task: a trace row or a weblog `trace` object.

    Nextflow gives each retry a new task id, a new hash and a new work directory; `attempt` counts them.
    """

    hash: str | None = None  # full 32-hex hash, when known
    short_hash: str | None = None  # `3a/9f2c1d`, as the trace prints it
    task_id: str | None = None
    name: str | None = None
    process: str | None = None
    tag: str | None = None
    status: str | None = None  # NEW, SUBMITTED, RUNNING, COMPLETED, FAILED, ABORTED, CACHED
    exit: int | None = None
    attempt: int | None = None
    error_action: str | None = None  # RETRY, IGNORE, TERMINATE, FINISH for failed attempts
    workdir: str | None = None
    container: str | None = None
    native_id: str | None = None
    submit: datetime | None = None
    start: datetime | None = None
    complete: datetime | None = None
    script: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)  # requested and measured: cpus, memory, peak_rss, ...

    @property
    def failed(self) -> bool:
        return (self.status or "").upper() in ("FAILED", "ABORTED")

    @property
    def cached(self) -> bool:
        return (self.status or "").upper() == "CACHED"


@dataclass
class PipelineMeta:
    """What is known about one pipeline run (one `nextflow run`: session id + run name)."""

    session_id: str
    run_name: str
    manifest_name: str | None = None
    manifest_version: str | None = None
    repository: str | None = None
    commit_id: str | None = None
    revision: str | None = None
    script_file: str | None = None
    script_id: str | None = None
    description: str | None = None
    params: dict[str, Any] | None = None
    start: datetime | None = None
    complete: datetime | None = None
    success: bool | None = None
    error_message: str | None = None
    launch_dir: str | None = None
    work_dir: str | None = None
    output_dir: str | None = None
    project_dir: str | None = None
    nextflow_version: str | None = None
    command_line: str | None = None
    profile: str | None = None
    resume: bool | None = None
    lineage_id: str | None = None  # the lineage store's run hash (`lid://<this>`)


@dataclass
class TaskRecord:
    """A lineage-store TaskRun: what the task read (files and values), keyed by its full hash."""

    hash: str
    name: str
    session_id: str | None = None
    workflow_lid: str | None = None
    code_checksum: str | None = None
    script: str | None = None
    container: str | None = None
    conda: str | None = None
    module_id: str | None = None
    inputs: list[FileRef] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class WeblogEvent:
    """One POST of the nf-weblog plugin."""

    event: str  # started, process_submitted, process_started, process_completed, error, completed
    run_name: str
    session_id: str
    utc_time: datetime
    trace: TaskAttempt | None = None
    pipeline: PipelineMeta | None = None
