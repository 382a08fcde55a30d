"""The recording process: reads lineage events from stdin and records them, in order, until EOF.

Snakemake's main process does the scheduling in Python; recording an event costs a few milliseconds of
database work, and doing it in Snakemake's own logging thread would compete with the scheduler for the
interpreter lock. The logger therefore translates records in-process (cheap, and it must: it reads the
storage plugin's in-process state) and streams the events to this child process, which can run on
another core. Protocol: a 4-byte big-endian length, then the pickled `LineageEvent`.

    python -m snakemake_logger_plugin_lamin.worker   # started by the logger, not by users
"""

import pickle
import struct
import sys
from typing import BinaryIO

HEADER = struct.Struct(">I")
PREFIX = "lamin: "  # every problem line starts with it, as in the logger itself


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def read_frames(stream: BinaryIO):  # type: ignore[no-untyped-def]
    """Yield each payload; stops at EOF (also at a frame cut short by a dying writer)."""
    while True:
        header = stream.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        (size,) = HEADER.unpack(header)
        payload = stream.read(size)
        if len(payload) < size:
            return
        yield payload


def main() -> int:
    from lamin_core.lineage import record

    failures = 0
    reported: set[str] = set()
    for payload in read_frames(sys.stdin.buffer):
        event = None
        try:
            event = pickle.loads(payload)  # from our parent process only
            record(event)
        except Exception as e:
            failures += 1
            key = f"{type(e).__name__}:{str(e)[:200]}"
            if key not in reported:  # the same failure repeats for every event: say it once
                reported.add(key)
                what = f"{event.event_type} of {event.job.name}" if event is not None else "an event"
                print(f"{PREFIX}could not record {what}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    if failures:
        print(f"{PREFIX}{failures} lineage event(s) of this run could not be recorded (see above)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
