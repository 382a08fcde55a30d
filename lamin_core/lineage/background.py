"""Record lineage events in a child process, so that a pipeline's own process never waits for the database.

Engines schedule in Python (Prefect, Snakemake). Recording inside their process costs them interpreter
time: a recording thread gives the interpreter lock away at every database call and waits to get it
back, up to 5 ms each while the engine is busy, which made short tasks 70% slower. A child process
records on another core; the engine's process only pickles events (tens of microseconds each).

    recorder = BackgroundRecorder()   # the child starts with the first `send`
    recorder.send(events)             # returns at once (unless the child is far behind: the pipe is bounded)
    recorder.flush()                  # waits until everything sent so far is recorded
    recorder.close()                  # flush, and let the child exit

Nobody has to call `flush()` to see what was sent: this process's next query (any `lamin_core.db`
`read()` or `write()`) waits for it first, so a process always reads its own lineage. Other processes
see it once the child has caught up. At exit, the child records what is left (the end of its input).

The child records through `record_many()`, the one recording path: an event waits up to `LINGER_S` for
others, and they are recorded together, up to `MAX_BATCH` per transaction. When a batch fails as a whole it is recorded again event by
event, so one bad event costs only itself; each distinct failure is said once on stderr.

The child is ready quickly: it records on plain DB-API statements (`lineage/recorder.py`) and imports
SQLAlchemy only for batches that need the ORM (annotations of existing features, live forwarding,
collections), so a flush right after the first `send` is answered ~70 ms after the child started on SQLite
(`benchmarks/recording_child.py`); with PostgreSQL, importing psycopg is most of it.

Protocol on the child's stdin: frames of a 4-byte big-endian length and a pickled list of events (only
ever from our own parent process). An empty list asks for a flush: the child answers one byte on stdout
once every event before it is recorded.

    python -m lamin_core.lineage.background   # what BackgroundRecorder starts (as `CHILD_ARGS`), not users
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Sequence

from ..db import engine as db

if TYPE_CHECKING:
    import subprocess

HEADER = struct.Struct(">I")
MAX_BATCH = 256  # events per transaction: bounds how long one commit holds SQLite's write lock
# How long a received event may wait for more before they are recorded together. Long on purpose: nobody
# waits for it (a query or a flush records at once), and recording less often costs the pipeline less:
# one transaction for a second's events is cheaper per event than one for each 50 ms, and a short flow
# is over before its recording starts. Measured on the 50-task Prefect benchmark: +14 % at 50 ms, +4 % at 1 s.
LINGER_S = 1.0
PREFIX = "lamin: "
# `-c`, not `-m`: runpy and importlib.util cost the child's start ~5 ms, and the module runs once, not twice
CHILD_ARGS = ("-c", "import sys; from lamin_core.lineage.background import main; sys.exit(main())")
FLUSHED = b"\x01"
# The child runs at the lowest CPU priority from its first recorded batch on (`_record`): it competes for the
# cores with the very pipeline it records (Prefect's flow process and its API server filled this 2-core
# machine), and nobody waits for it except
# at a flush, when the pipeline's own process sits idle. Measured on the Prefect benchmark: +23% at
# normal priority, +5% to +11% at the lowest.
NICENESS = 19
# The pipe's buffer, enlarged so that a busy (low-priority) child does not make `send` wait: Linux's
# default of 64 KiB holds about 20 task runs' events, 1 MiB (the unprivileged maximum) several hundred.
PIPE_BYTES = 1 << 20
# what `send(..., hold=True)` may keep in the parent before it goes out in one write: so many events, so long
HOLD_EVENTS = 64
HOLD_SECONDS = 0.25


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


class BackgroundRecorder:
    """The parent's side: a child process that records what it is sent, in order."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one writer of the pipe at a time; flushes answer in order
        self._dead = False
        self._sent = self._landed = 0  # frames sent, and how many of them are known to be recorded
        self._held: list[Any] = []  # events sent with `hold=True` that have not gone out yet
        _recorders.add(self)
        if _land_everywhere not in db.BEFORE_UNIT_HOOKS:  # this process's queries now wait for recorders
            db.BEFORE_UNIT_HOOKS.append(_land_everywhere)

    def send(self, events: Sequence[Any], *, hold: bool = False) -> None:
        """Hand events to the child, in order.

        `hold=True`: they may wait in this process (up to `HOLD_EVENTS` events, `HOLD_SECONDS`) to go out
        with later ones; a send without it, a flush, a query in this process or the exit takes them along.
        One pipe write for many: every system call can hand the interpreter lock to another thread of a
        busy engine and wait to get it back."""
        if not events:
            return
        with self._lock:
            first_held = hold and not self._held
            self._held.extend(events)
            if not hold or len(self._held) >= HOLD_EVENTS:
                self._send_held_locked()
            elif first_held:  # a long task after a short one: its end must not wait for the next one
                timer = threading.Timer(HOLD_SECONDS, self._send_held)
                timer.daemon = True
                timer.start()

    @property
    def pending(self) -> bool:
        """Whether something sent may not be recorded yet."""
        return (bool(self._held) or self._sent > self._landed) and not self._dead

    def flush(self) -> None:
        """Wait until the child has recorded (or reported) everything sent before this call."""
        with self._lock:
            self._send_held_locked()
            if self._proc is None or self._dead:
                return
            sent = self._sent
            if self._write_locked(frame(pickle.dumps([]))):
                assert self._proc.stdout is not None
                if self._proc.stdout.read(1) != FLUSHED:  # the child is gone; it said why on stderr
                    self._dead = True
                self._landed = sent

    def close(self, timeout: float | None = None) -> None:
        """Let the child record what it has and exit; after `timeout` seconds it is stopped (and says so)."""
        with self._lock:
            self._send_held_locked()
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # EOF: the child records what it has and exits
        except BrokenPipeError:
            pass
        import subprocess

        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            print(f"{PREFIX}recording did not finish within {timeout:.0f} s; stopped it", file=sys.stderr)
        self._landed = self._sent

    def _send_held(self) -> None:
        with self._lock:
            self._send_held_locked()

    def _send_held_locked(self) -> None:
        if self._held:
            # one pickle for all: objects the events share (their job, parent run) are written once
            payload = frame(pickle.dumps(self._held, protocol=pickle.HIGHEST_PROTOCOL))
            self._held = []
            if self._write_locked(payload):
                self._sent += 1

    def _write_locked(self, data: bytes) -> bool:
        if self._dead:
            return False
        if self._proc is None:
            import subprocess  # here, not at the top: the child imports this module too

            env = dict(self._env if self._env is not None else os.environ)
            self._proc = subprocess.Popen([sys.executable, *CHILD_ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            _enlarge_pipe(self._proc.stdin)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):  # the child died; it said why on stderr
            self._dead = True
            return False


_recorders: "weakref.WeakSet[BackgroundRecorder]" = weakref.WeakSet()


@atexit.register
def _send_everything_held() -> None:
    # the timers are daemon threads: at exit, what they would have sent goes now (the child records it
    # when it reads the end of its input)
    for recorder in list(_recorders):
        recorder._send_held()


def _land_everywhere() -> bool:
    """Before this process queries the database: wait for what its recorders sent (read your own writes).
    True when there was something to wait for."""
    waited = False
    for recorder in list(_recorders):
        if recorder.pending:
            recorder.flush()
            waited = True
    return waited


def _enlarge_pipe(pipe: Any) -> None:
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower limit: the default buffer works too
        pass


def instance_env() -> dict[str, str]:
    """This process's environment, naming the instance it is connected to (it may have been chosen in
    code, not in the settings file the child would otherwise read)."""
    env = dict(os.environ)
    try:
        from ..db import engine as db

        env.setdefault("LAMIN_INSTANCE", db.settings().name)
    except Exception:  # no instance: the child will say so for every event it cannot record
        pass
    return env


# ---- the child's side ---------------------------------------------------------------------------------


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, missing)
        if not chunk:
            return None  # EOF (also a frame cut short by a dying parent)
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _ready(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def read_frame(fd: int) -> bytes | None:
    """The next payload, or None at EOF (a frame cut short by a dying parent included)."""
    header = _read_exactly(fd, HEADER.size)
    return _read_exactly(fd, HEADER.unpack(header)[0]) if header is not None else None


class Reporter:
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


def record_batch(events: Sequence[Any], reporter: Reporter) -> None:
    """Record events, at most `MAX_BATCH` per transaction; say what could not be recorded."""
    from .recorder import record_each

    for start in range(0, len(events), MAX_BATCH):
        chunk = events[start : start + MAX_BATCH]
        for event, result in zip(chunk, record_each(chunk), strict=True):
            if isinstance(result, Exception):
                reporter.failed(event, result)


def _start_forwarding() -> None:
    """With live OpenLineage forwarding configured, this child is the engine's sender (lineage/forwarding.py):
    start it now, so that a backlog an earlier process left goes out too; the child's own events wake it."""
    try:
        from .forwarding_target import target

        if target() is None:
            return  # the usual case: the sender's module (sockets, HTTP, the ORM) is not even imported
        from .forwarding import kick

        kick()
    except Exception as e:  # no instance, an old schema: recording says what is wrong, forwarding stays quiet
        print(f"{PREFIX}OpenLineage forwarding not started: {e}", file=sys.stderr, flush=True)


def _hand_off_forwarding() -> None:
    """The engine may wait for this child to exit (Snakemake does): what is not forwarded yet goes on in a
    detached process instead of holding the exit (lineage/forwarding.py `hand_off`)."""
    forwarding = sys.modules.get("lamin_core.lineage.forwarding")
    if forwarding is None:
        return  # never started a sender: nothing to hand off
    try:
        forwarding.hand_off()
    except Exception as e:
        print(f"{PREFIX}OpenLineage forwarding left its backlog in the outbox: {e}", file=sys.stderr, flush=True)


_niced: list[bool] = []


def _record(events: Sequence[Any], reporter: Reporter) -> None:
    """`record_batch`, and after the first batch the lowest CPU priority.

    Not lower from the start: starting (imports, the connection) and the first batch are what a flush right
    after the first `send` waits for, and at the lowest priority a busy machine (the pipeline itself, other
    jobs) starved that for hundreds of milliseconds; once, at most ~50 ms of CPU at normal priority.
    Idle waiting for input costs nobody anything at any priority."""
    record_batch(events, reporter)
    if not _niced:
        _niced.append(True)
        try:
            os.nice(NICENESS)
        except (AttributeError, OSError):  # not POSIX: recording at normal priority is slower for the pipeline, not wrong
            pass


def main() -> int:
    import time

    reporter = Reporter()
    _start_forwarding()
    # stdout carries only flush answers: keep a handle on it, and send anything else printed to stderr
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    fd = sys.stdin.buffer.fileno()
    events: list[Any] = []
    deadline = 0.0
    while True:
        # events wait up to LINGER_S for company: one transaction for many is cheaper than one for each,
        # and nobody waits for them (a flush, or the end of input, records them at once)
        if events and (len(events) >= MAX_BATCH or not _ready(fd, max(0.0, deadline - time.monotonic()))):
            _record(events, reporter)
            events = []
            continue
        payload = read_frame(fd)
        if payload is None:
            break
        try:
            batch = pickle.loads(payload)  # from our parent process only
        except Exception as e:
            reporter.failed(None, e)
            continue
        if not batch:  # a flush: everything before it, then answer
            _record(events, reporter)
            events = []
            out.write(FLUSHED)
            continue
        if not events:
            deadline = time.monotonic() + LINGER_S
        events.extend(batch)
    _record(events, reporter)
    _hand_off_forwarding()
    if reporter.failures:
        print(f"{PREFIX}{reporter.failures} lineage event(s) could not be recorded (see above)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
