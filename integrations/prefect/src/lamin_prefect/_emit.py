"""Hand LineageEvents to the core's recording path, and make sure no run stays `started` forever.

`emit()` is the only place this package records anything: by default it calls
`lamin_core.lineage.record()`. Tests (and users who want to inspect what would be recorded) can route
events elsewhere with `record_to(callable)`.

Lineage is a side effect of the user's pipeline: a recording error is logged, never raised into the
flow, so a database hiccup does not fail a three-hour pipeline. Set `LAMIN_PREFECT_STRICT=1` to raise.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from lamin_core.lineage import LineageEvent, RunInfo

logger = logging.getLogger("lamin_prefect")

Sink = Callable[[LineageEvent], Any]
_sink: Sink | None = None
_lock = threading.Lock()
# runs we sent START for and no terminal event yet: (reference_type, run_id) -> (START event, flow run id)
_open_runs: dict[tuple[str, str], tuple[LineageEvent, str | None]] = {}
_TERMINAL = ("COMPLETE", "FAIL", "ABORT")


def _default_sink(event: LineageEvent) -> Any:
    from lamin_core.lineage import record

    return record(event)


@contextmanager
def record_to(sink: Sink) -> Iterator[Sink]:
    """Send every event to `sink` instead of `lamin_core.lineage.record` while the block runs."""
    global _sink
    previous, _sink = _sink, sink
    try:
        yield sink
    finally:
        _sink = previous


def now() -> datetime:
    return datetime.now(timezone.utc)


def emit(event: LineageEvent) -> Any:
    """Record one event; returns what the sink returned (a `Recorded` from the core), or None on error."""
    key = (event.run.reference_type, event.run.run_id)
    with _lock:
        if event.event_type == "START":
            _open_runs[key] = (event, _flow_run_of(event))
        elif event.event_type in _TERMINAL:
            _open_runs.pop(key, None)
    try:
        return (_sink or _default_sink)(event)
    except Exception as exc:
        if os.environ.get("LAMIN_PREFECT_STRICT") == "1":
            raise
        _warn(event, exc)
        return None


_warned: set[str] = set()


def _warn(event: LineageEvent, exc: Exception) -> None:
    # One warning per kind of problem: a missing instance would otherwise warn for every task run.
    kind = type(exc).__name__
    if kind == "NoInstanceError":
        if kind not in _warned:
            _warned.add(kind)
            logger.warning("lamin_prefect: lineage is not recorded: %s", exc)
        return
    logger.warning(
        "lamin_prefect: could not record %s of %s (run %s): %s: %s",
        event.event_type, event.job.name, event.run.run_id, kind, exc,
    )  # fmt: skip


def _flow_run_of(event: LineageEvent) -> str | None:
    if event.run.reference_type == "prefect_flow_run":
        return event.run.run_id
    return event.run.parent.run_id if event.run.parent else None


def close_open_runs(flow_run_id: str | None, event_type: str, message: str, keep: str | None = None) -> None:
    """End every run still open (of one flow run, or all with None): the engine will not report them.

    `keep`: a run id to leave alone (the flow run itself, which its own hook ends).
    """
    with _lock:
        stale = [
            (key, start)
            for key, (start, flow) in _open_runs.items()
            if (flow_run_id is None or flow == flow_run_id) and key[1] != keep
        ]
    # task runs first, then the flow run: a reader never sees a finished flow with running tasks
    stale.sort(key=lambda item: item[0][0] == "prefect_flow_run")
    for _key, start in stale:
        run = start.run
        emit(
            LineageEvent(
                event_type=event_type,  # type: ignore[arg-type]
                event_time=now(),
                job=start.job,
                run=RunInfo(
                    run_id=run.run_id,
                    reference_type=run.reference_type,
                    parent=run.parent,
                    attempt=run.attempt,
                    name=run.name,
                    error_message=message,
                ),
                producer=start.producer,
            )
        )


def open_runs() -> list[tuple[str, str]]:
    """(reference_type, run_id) of runs started and not yet ended in this process."""
    with _lock:
        return list(_open_runs)


@atexit.register
def _abort_at_exit() -> None:
    # the interpreter is going away (sys.exit in a flow, an unhandled KeyboardInterrupt, ...): whatever is
    # still open will never get its hooks called
    if _open_runs:
        close_open_runs(None, "ABORT", "the Python process exited before this run finished")
