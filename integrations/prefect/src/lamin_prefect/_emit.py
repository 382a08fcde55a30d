"""Hand LineageEvents to the core's recording path, and make sure no run stays `started` forever.

`emit()` (now, in this process) and `emit_later()` (in the core's recording child process, see
`lamin_core.lineage.background`) are the only places this
package records anything: by default through `lamin_core.lineage.record()` / `record_many()`. Tests (and users who want to inspect what would be recorded) can route
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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from lamin_core.lineage import LineageEvent, RunInfo


logger = logging.getLogger("lamin_prefect")

Sink = Callable[[LineageEvent], Any]
_sink: Sink | None = None
_lock = threading.Lock()


@dataclass
class _Open:
    start: LineageEvent
    flow_run_id: str | None
    recorded: bool  # False: START is deferred (recorded together with the run's end, see `defer_start`)


# runs started and not ended: (reference_type, run_id) -> _Open
_open_runs: dict[tuple[str, str], _Open] = {}
_TERMINAL = ("COMPLETE", "FAIL", "ABORT")


def _record_all(events: list[LineageEvent]) -> list[Any]:
    if _sink is not None:
        return [_sink(e) for e in events]
    if len(events) == 1:
        from lamin_core.lineage import record

        return [record(events[0])]
    from lamin_core.lineage.recorder import record_many

    return list(record_many(events))  # one transaction: a short task's START and COMPLETE together


@contextmanager
def record_to(sink: Sink) -> Iterator[Sink]:
    """Send every event to `sink` instead of `lamin_core.lineage.record` while the block runs."""
    global _sink
    previous, _sink = _sink, sink
    try:
        yield sink
    finally:
        _sink = previous


def redirected() -> bool:
    """True while `record_to()` sends events somewhere other than the database."""
    return _sink is not None


def now() -> datetime:
    return datetime.now(timezone.utc)


def _key(event: LineageEvent) -> tuple[str, str]:
    return (event.run.reference_type, event.run.run_id)


def defer_start(start: LineageEvent) -> None:
    """A run has started, but its START is recorded only with its end or when first needed (`emit`).

    Most task runs are short and nothing inside them needs their Run: one transaction instead of two.
    """
    with _lock:
        _open_runs[_key(start)] = _Open(start, _flow_run_of(start), recorded=False)


def _batch(events: tuple[LineageEvent, ...]) -> list[LineageEvent]:
    """Update the open-run bookkeeping; the events to record, a run's deferred START before its end."""
    batch: list[LineageEvent] = []
    with _lock:
        for event in events:
            key = _key(event)
            entry = _open_runs.get(key)
            if event.event_type == "START":
                _open_runs[key] = _Open(event, _flow_run_of(event), recorded=True)
            elif event.event_type in _TERMINAL:
                _open_runs.pop(key, None)
                if entry is not None and not entry.recorded and entry.start not in batch:
                    batch.append(entry.start)
            batch.append(event)
    return batch


def _strict() -> bool:
    return os.environ.get("LAMIN_PREFECT_STRICT") == "1"


def emit(*events: LineageEvent) -> Any:
    """Record events now (one transaction); returns what the sink returned for the last (a core
    `Recorded`), or None when recording failed. A run's deferred START goes first when the run ends here."""
    batch = _batch(events)
    try:
        return _record_all(batch)[-1]
    except Exception as exc:
        if _strict():
            raise
        _warn(batch, exc)
        return None


def emit_later(*events: LineageEvent, hold: bool = False) -> None:
    """Record events in the background (runs' ends); `flush()` waits for them, and so does this process's next
    query (the core lands what was sent before it reads).

    A recording child process, not a thread: a thread's database calls would take turns with Prefect
    for the interpreter lock, and short tasks ran 70% slower; the child records on another core."""
    if _strict() or _sink is not None:  # errors must reach the caller, or `record_to()` asked for in-process
        emit(*events)
        return
    batch = _batch(events)
    recorder = _background()
    if recorder is not None:
        recorder.send(batch, hold=hold)  # hold: may go out with later events (see BackgroundRecorder.send)


def flush() -> None:
    """Wait until every event handed to `emit_later` is recorded."""
    if _recorder is not None:
        _recorder.flush()


_recorder: Any = None
_recorder_for: tuple[str, str] | None = None  # (LAMIN_HOME, database) the child records into


def _background() -> Any:
    """The recording child process for the connected instance, started on first use; None without an
    instance. Connecting another instance (tests do, per test) retires the old child after it caught up."""
    global _recorder, _recorder_for
    from lamin_core.db import engine as db
    from lamin_core.lineage.background import BackgroundRecorder, instance_env

    try:
        target = (os.environ.get("LAMIN_HOME", ""), db.settings().db_url)
    except Exception as exc:  # no instance connected: say so once, like inline recording does
        _warn([], exc)
        return None
    with _lock:
        if _recorder_for != target:
            if _recorder is not None:
                _recorder.close()
            _recorder, _recorder_for = BackgroundRecorder(instance_env()), target
        return _recorder


_warned: set[str] = set()


def _warn(batch: list[LineageEvent], exc: Exception) -> None:
    # One warning per kind of problem: a missing instance would otherwise warn for every task run.
    kind = type(exc).__name__
    if kind == "NoInstanceError":
        if kind not in _warned:
            _warned.add(kind)
            logger.warning("lamin_prefect: lineage is not recorded: %s", exc)
        return
    if not batch:
        logger.warning("lamin_prefect: lineage is not recorded: %s: %s", kind, exc)
        return
    event = batch[-1]
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
    flush()  # ends already queued are not "open"
    with _lock:
        stale = [
            (key, entry.start)
            for key, entry in _open_runs.items()
            if (flow_run_id is None or entry.flow_run_id == flow_run_id) and key[1] != keep
        ]
    # task runs first, then the flow run: a reader never sees a finished flow with running tasks
    stale.sort(key=lambda item: item[0][0] == "prefect_flow_run")
    for _k, start in stale:
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
    flush()
    if _open_runs:
        close_open_runs(None, "ABORT", "the Python process exited before this run finished")
