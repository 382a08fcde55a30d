"""A background thread that records task-run events, so a task never waits for the database.

Recording a task run costs a few milliseconds of database work (hashing its files, a transaction); a
Prefect task costs about twenty. Done inline that is a 10-50% slowdown of short tasks; done here it
overlaps with Prefect's own waiting. Events queued close together are recorded in one transaction.

Ordering and visibility: one thread, one FIFO queue, so a run's events are recorded in the order they
happened. A flow run's end waits for the queue to drain (`flush`) before it is recorded, so when a flow
call returns, its whole lineage is in the database. Anything still queued at interpreter exit is written.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

logger = logging.getLogger("lamin_prefect")

MAX_BATCH = 200  # events per transaction: big enough to amortise a commit, small enough to stay short

Batch = list[Any]


class Writer:
    def __init__(self, record: Callable[[Batch], Any], on_error: Callable[[Batch, Exception], None]) -> None:
        self._record = record
        self._on_error = on_error
        self._queue: queue.Queue[Batch] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, events: Batch) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="lamin-prefect-writer", daemon=True)
                    self._thread.start()
        self._queue.put(events)

    def flush(self) -> None:
        """Wait until everything submitted so far is recorded (or failed and was reported)."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._queue.join()

    def _loop(self) -> None:
        while True:
            batches = [self._queue.get()]
            size = len(batches[0])
            while size < MAX_BATCH:  # take whatever else is waiting: one transaction for all of it
                try:
                    batch = self._queue.get_nowait()
                except queue.Empty:
                    break
                batches.append(batch)
                size += len(batch)
            try:
                self._write(batches)
            finally:
                for _ in batches:
                    self._queue.task_done()

    def _write(self, batches: list[Batch]) -> None:
        try:
            self._record([e for batch in batches for e in batch])
            return
        except Exception as exc:
            if len(batches) == 1:
                self._on_error(batches[0], exc)
                return
            logger.debug("lamin_prefect: a combined write failed; writing each run's events alone", exc_info=True)
        for batch in batches:  # all-or-nothing per transaction: one bad event must not lose the others
            try:
                self._record(batch)
            except Exception as exc:
                self._on_error(batch, exc)
