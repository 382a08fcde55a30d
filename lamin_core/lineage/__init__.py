"""The one lineage-recording path.

Adapters translate engine events into `LineageEvent`s (see `events.py`) and call::

    from lamin_core.lineage import record, LineageEvent, Job, RunInfo, ParentRun, Dataset

    recorded = record(LineageEvent(
        event_type="COMPLETE",
        event_time=datetime.now(timezone.utc),
        job=Job(namespace="snakemake", name="wf/Snakefile:align", kind="function", source_code="bwa mem ..."),
        run=RunInfo(run_id="job-17", reference_type="snakemake_job", parent=ParentRun(run_id=wf_id, reference_type="snakemake_workflow")),
        inputs=[Dataset("file", "/abs/path/in.fq")],
        outputs=[Dataset("file", "/abs/path/out.bam")],
    ))
    recorded.run, recorded.transform, recorded.inputs, recorded.outputs, recorded.is_new

`record()` is idempotent (the same event twice changes nothing; `is_new` is False the second time), takes
events in any order (COMPLETE before START), and is safe with many writers at once, on SQLite and
PostgreSQL. `record_many(events)` records several events in one transaction (all or nothing), for
producers that hold a batch. Adapters never import `lamin_core.models` to write rows, and the path itself
writes plain rows (`db.dbapi`): a process that only records never imports SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import EVENT_TYPES, Dataset, Job, LineageEvent, ParentRun, RunInfo
    from .recorder import Recorded, record, record_many

__all__ = ["EVENT_TYPES", "Dataset", "Job", "LineageEvent", "ParentRun", "RunInfo", "Recorded", "record", "record_many"]


def __getattr__(name: str) -> Any:
    # loaded on first use: adapters import this package in hot paths, and ln.track() reaches
    # lineage.transforms without needing the event classes
    if name in ("record", "record_many", "Recorded"):
        from . import recorder

        return getattr(recorder, name)
    if name in ("EVENT_TYPES", "Dataset", "Job", "LineageEvent", "ParentRun", "RunInfo"):
        from . import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
