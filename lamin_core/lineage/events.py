"""The one input of the recording path: an OpenLineage-shaped event.

Every adapter (Prefect, Snakemake, Nextflow, OpenLineage, and the core's own `@ln.flow`) translates what
its engine reports into a `LineageEvent` and hands it to `lamin_core.lineage.record()`. Nothing else
writes Transforms, Runs or Artifacts on an engine's behalf.

The shapes follow OpenLineage 2-0-x (job, run, inputs, outputs, facets) with a few fields made explicit
because every adapter needs them (a run's parameters, its attempt number, a dataset's known checksum).
These classes import nothing heavy: adapters build them in hot paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Mapping, Sequence

EventType = Literal["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]
EVENT_TYPES: tuple[str, ...] = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")

# How an event's annotations become feature values (lamin_core/lineage/annotations.py):
#   "none"      nothing is annotated
#   "existing"  only features (and labels) that exist in the instance get values: the registry stays curated
#   "auto"      missing features are made, typed from the values, under a feature type named after the
#               engine (`LineageEvent.engine`), and missing ULabels of label-typed values are made too
AnnotateMode = Literal["none", "existing", "auto"]
ANNOTATE_MODES: tuple[str, ...] = ("none", "existing", "auto")

# Run.status that each event type moves a run to; OTHER leaves the status alone.
STATUS_OF_EVENT: dict[str, str | None] = {
    "START": "started",
    "RUNNING": "started",
    "COMPLETE": "completed",
    "FAIL": "errored",
    "ABORT": "aborted",
    "OTHER": None,
}


@dataclass(frozen=True)
class Job:
    """What runs: becomes a Transform.

    `namespace` + `name` identify the job across events (the Transform's key is `namespace/name`);
    `source_code` decides the version: new source under the same key is a new Transform version.
    """

    namespace: str
    name: str
    kind: str = "pipeline"  # Transform.kind: pipeline, function, script, notebook
    source_code: str | None = None
    version: str | None = None
    description: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParentRun:
    """The run of the enclosing workflow (OpenLineage's parent run facet)."""

    run_id: str
    job: Job | None = None
    reference_type: str | None = None  # None: the same as the child run's


@dataclass(frozen=True)
class RunInfo:
    """One execution: becomes a Run, identified by (`reference_type`, `run_id`)."""

    run_id: str
    reference_type: str = "openlineage"
    parent: ParentRun | None = None
    params: Mapping[str, Any] | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)
    error_message: str | None = None
    attempt: int | None = None  # retries: the run's status is that of its last attempt
    name: str | None = None
    # {feature name: value} for the run and, unless a dataset says otherwise, the event's outputs: a
    # Snakemake job's wildcards and params, a Prefect task's parameters, a Nextflow task's `meta` map
    annotations: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Dataset:
    """An input or output: becomes an Artifact.

    `namespace` + `name` as OpenLineage names datasets: `file` + an absolute path, `s3://bucket` + a key,
    `postgres://host:5432` + `db.schema.table`. Local and fsspec files are hashed and registered in
    place; datasets that are not files (tables, topics) are registered by URI.
    """

    namespace: str
    name: str
    facets: Mapping[str, Any] = field(default_factory=dict)
    kind: str | None = None  # None for data; "log" or "benchmark" attach to the run, never as outputs
    hash: str | None = None  # a checksum the engine already computed, used when the data can't be read
    hash_type: str | None = None
    size: int | None = None
    storage_root: str | None = None  # where to root a new Storage for a file outside every location
    # True: recorded only if, when it is recorded, this is a regular local file. For files an engine saw
    # opened (the open may have failed, the file may have been temporary): the recording process checks,
    # so the engine's process saves a system call per file
    only_if_file: bool = False
    # {feature name: value} of this dataset, on top of the run's annotations (OpenLineage's data quality
    # metrics); `labels`: {feature name: label names}, values that are labels (OpenLineage's tags), so
    # that `auto` makes the feature label-typed and the labels ULabels; `columns`: the dataset's
    # (column name, type) pairs (OpenLineage's schema facet), its feature set
    annotations: Mapping[str, Any] | None = None
    labels: Mapping[str, Sequence[str]] | None = None
    columns: Sequence[tuple[str, str]] | None = None
    inherit_run_annotations: bool = True  # False: the run's annotations are not this output's


@dataclass(frozen=True)
class LineageEvent:
    event_type: EventType
    event_time: datetime  # timezone-aware
    job: Job
    run: RunInfo
    inputs: Sequence[Dataset] = ()
    outputs: Sequence[Dataset] = ()
    producer: str = ""
    annotate: AnnotateMode = "existing"
    engine: str | None = None  # `auto` makes features under a feature type of this name ("snakemake")

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What makes two deliveries "the same event" (interfaces.md): runId, eventType, eventTime."""
        return (self.run.reference_type, self.run.run_id, self.event_type, self.event_time.isoformat())
