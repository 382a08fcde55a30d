"""The recording process: reads lineage events from stdin and records them, in order, until EOF.

Snakemake's main process does the scheduling in Python; recording an event costs a few milliseconds of
database work, and doing it in Snakemake's own logging thread would compete with the scheduler for the
interpreter lock. The logger therefore translates records in-process (cheap, and it must: it reads the
storage plugin's in-process state) and streams the events to this child process, which can run on
another core. Protocol: a 4-byte big-endian length, then the pickled `LineageEvent`.

Events that are already waiting in the pipe are recorded together in one transaction
(`record_many`): when recording falls behind, batches grow and each event gets cheaper; when it keeps
up, every event is recorded as soon as it arrives.

    python -m snakemake_logger_plugin_lamin.worker   # started by the logger, not by users
"""

import os
import pickle
import select
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
PREFIX = "lamin: "  # every problem line starts with it, as in the logger itself
MAX_BATCH = 256  # events per transaction: bounds how long one commit holds the database's write lock


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, missing)
        if not chunk:
            return None  # EOF (also a frame cut short by a dying writer)
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _ready(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def read_batches(stream: BinaryIO, max_batch: int = MAX_BATCH) -> Iterator[list[bytes]]:
    """Yield lists of payloads: one that was waited for, plus every further one already in the pipe."""
    fd = stream.fileno()
    while True:
        batch: list[bytes] = []
        while len(batch) < max_batch and (not batch or _ready(fd)):
            header = _read_exactly(fd, HEADER.size)
            payload = _read_exactly(fd, HEADER.unpack(header)[0]) if header is not None else None
            if payload is None:
                if batch:
                    yield batch
                return
            batch.append(payload)
        yield batch


class _Reporter:
    """Says each distinct failure once (the same one tends to repeat for every event) and counts them."""

    def __init__(self) -> None:
        self.failures = 0
        self._said: set[str] = set()

    def failed(self, event: Any, error: Exception) -> None:
        self.failures += 1
        key = f"{type(error).__name__}:{str(error)[:200]}"
        if key in self._said:
            return
        self._said.add(key)
        what = f"{event.event_type} of {event.job.name}" if event is not None else "an event"
        print(f"{PREFIX}could not record {what}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def record_batch(
    events: Sequence[Any],
    record: Callable[[Any], Any],
    record_many: Callable[[Sequence[Any]], Any] | None,
    reporter: _Reporter,
) -> None:
    """All in one transaction; if that fails, one by one, so that one bad event costs only itself."""
    if record_many is not None and len(events) > 1:
        try:
            record_many(events)
            return
        except Exception:
            pass  # retried event by event below, which names the culprit
    for event in events:
        try:
            record(event)
        except Exception as e:
            reporter.failed(event, e)


def main() -> int:
    from lamin_core.lineage import record

    try:
        from lamin_core.lineage.recorder import record_many
    except ImportError:  # an older core: one transaction per event
        record_many = None

    reporter = _Reporter()
    for payloads in read_batches(sys.stdin.buffer):
        events = []
        for payload in payloads:
            try:
                events.append(pickle.loads(payload))  # from our parent process only
            except Exception as e:
                reporter.failed(None, e)
        record_batch(events, record, record_many, reporter)
    if reporter.failures:
        summary = f"{reporter.failures} lineage event(s) of this run could not be recorded (see above)"
        print(PREFIX + summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
