"""Group commit: events that arrive while the database is busy are recorded together, in one transaction.

Each request still gets its own answer (201 new, 200 known, 400 for its own bad data). Under load a
database thread takes everything waiting (up to `MAX_BATCH` events) and records it with the core's
`record_many()`: one BEGIN/COMMIT, and one lookup of a run shared by several of the events, instead of one
per event. When a batch fails as a whole (one event with a bad key, say) its events are recorded again one
by one, so that only the culprit gets the error. With a single producer nothing waits and a batch is one
event: latency is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from anyio import CapacityLimiter
    from lamin_core.lineage.events import LineageEvent

log = logging.getLogger("lamin_openlineage.server")

MAX_BATCH = 32


def recorded_body(recorded: Any, event: LineageEvent) -> dict[str, Any]:
    """What the server answers about a recorded event: enough for a producer to find the run again.

    Built from what `record()` returns without loading the Run: per event, a query avoided."""
    return {
        "status": "created" if recorded.is_new else "exists",
        "run": {"uid": recorded.run_uid, "reference": event.run.run_id},
        "is_new": recorded.is_new,
    }


def record_batch(events: Sequence[LineageEvent], ingested: Sequence[LineageEvent] = ()) -> list[dict[str, Any] | BaseException]:
    """Record events (blocking) and describe each result, or the exception that event alone raised.

    `ingested`: those of the events that came from an OpenLineage producer (not forwarded back out).

    Answers are built here, in the worker thread, so that the event loop never touches an ORM object
    (a lazy attribute would run a query on the loop).
    """
    from lamin_core.lineage.outbox import ingested as ingesting
    from lamin_core.lineage.recorder import record_each

    with ingesting(ingested):
        results = record_each(list(events))
    return [r if isinstance(r, Exception) else recorded_body(r, e) for r, e in zip(results, events, strict=True)]


class Batcher:
    """A queue of events in front of `workers` database threads (the server's threadpool limiter)."""

    def __init__(self, limiter: CapacityLimiter, workers: int, max_batch: int = MAX_BATCH) -> None:
        self.limiter = limiter
        self.workers = workers
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[LineageEvent, asyncio.Future[dict[str, Any]], bool]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _start(self) -> asyncio.Queue[tuple[LineageEvent, asyncio.Future[dict[str, Any]], bool]]:
        # started on first use, inside the server's event loop (no lifespan needed, works under any ASGI server)
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        return self._queue

    async def record(self, event: LineageEvent, *, ingested: bool = False) -> dict[str, Any]:
        """Record one event; returns `recorded_body(...)`, raises what recording that event raised."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._start().put_nowait((event, future, ingested))
        return await future

    async def _work(self) -> None:
        from anyio import to_thread

        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            batch = [(e, f, i) for e, f, i in batch if not f.cancelled()]  # the client went away meanwhile
            if not batch:
                continue
            try:
                results = await to_thread.run_sync(
                    record_batch, [e for e, _, _ in batch], [e for e, _, i in batch if i], limiter=self.limiter
                )
            except BaseException as e:  # cancelled at shutdown, or a bug: nobody may wait forever
                for _, f, _ in batch:
                    if not f.done():
                        f.set_exception(e if isinstance(e, Exception) else RuntimeError("server shutting down"))
                if not isinstance(e, Exception):
                    raise
                continue
            for (_, f, _), result in zip(batch, results, strict=True):
                if f.done():
                    continue
                if isinstance(result, BaseException):
                    f.set_exception(result)
                else:
                    f.set_result(result)
