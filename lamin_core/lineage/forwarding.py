"""Live forwarding, the sending side: the outbox's events POSTed to the target, in order, until it has them.

One sender per instance at a time, whichever process it runs in: it holds a lease on the forwarder's row
(`openlineage_forwarding`), renewed with every batch and taken over by another process once it lapses, so
events leave in outbox order (and so in order per run) and a crashed sender's work resumes elsewhere.
A delivered event is deleted; an event the target refuses for good (a 4xx other than 408/429) is kept,
marked refused, and skipped; anything else (connection refused, timeouts, 5xx) stops the round, keeps the
event, and the sender tries again with backoff (0.5 s doubling to `MAX_BACKOFF_S`).

Where the sender runs: a daemon thread in every process that commits outbox rows (`kick()` after the
commit), which is the recording child of `lineage/background.py` for engines, `lamin serve` (which also
polls for rows other processes left), and a script's own process for `ln.track()` / `@ln.flow`. At exit a
process tries once more and waits at most `LAMIN_OPENLINEAGE_EXIT_WAIT` seconds (default 5) for deliveries
that are going through, no longer once the target refuses connections: what is left waits in the outbox
for the next sender (`lamin openlineage flush`, `lamin serve`, or the next recording process).

The database is reached through the engine's own connections, not `db.write()`: a sender thread must not
make this process wait for its background recorder (`db.BEFORE_UNIT_HOOKS`).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator

from .forwarding_target import Target, target

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

logger = logging.getLogger("lamin_core")

BATCH = 200  # events per round (per lease renewal and per DELETE)
LEASE_S = 60.0  # longer than a round can take: BATCH posts stop at the first timeout (TIMEOUT_S)
TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0  # a target that drops packets must not hold a process's exit for long
MAX_BACKOFF_S = 30.0
EXIT_WAIT_VARIABLE = "LAMIN_OPENLINEAGE_EXIT_WAIT"
DEFAULT_EXIT_WAIT_S = 5.0
HAND_OFF_WAIT_VARIABLE = "LAMIN_OPENLINEAGE_HAND_OFF_WAIT"  # how long a detached sender (`hand_off`) keeps trying
DEFAULT_HAND_OFF_WAIT_S = 120.0

# what a round ended with
EMPTY, MORE, DOWN, BUSY = "empty", "more", "down", "busy"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _tx() -> Iterator["Connection"]:
    """A short write transaction on its own connection (SQLite: IMMEDIATE, so it waits for the lock)."""
    from ..db import engine as db

    with db.engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        else:
            with conn.begin():
                yield conn


def _ensure_state_row(conn: "Connection") -> None:
    from sqlalchemy import func, insert, select

    from ..models import OpenLineageForwarding as F

    if conn.execute(select(func.count()).select_from(F).where(F.id == 1)).scalar_one() == 0:
        conn.execute(insert(F).values(id=1, delivered=0, dropped=0))


def _take_lease(me: str) -> bool:
    from sqlalchemy import or_, update

    from ..models import OpenLineageForwarding as F

    now = _now()
    with _tx() as conn:
        _ensure_state_row(conn)
        taken = conn.execute(
            update(F).where(F.id == 1, or_(F.sender.is_(None), F.sender == me, F.lease_until < now))
            .values(sender=me, lease_until=now + timedelta(seconds=LEASE_S))
        ).rowcount
    return taken == 1


def _release(me: str) -> None:
    from sqlalchemy import update

    from ..models import OpenLineageForwarding as F

    with _tx() as conn:
        conn.execute(update(F).where(F.id == 1, F.sender == me).values(sender=None, lease_until=None))


def _note_error(message: str, *, release_as: str | None = None) -> None:
    from sqlalchemy import update

    from ..models import OpenLineageForwarding as F

    values: dict[str, Any] = {"last_error": message[:2000], "last_error_at": _now()}
    with _tx() as conn:
        _ensure_state_row(conn)
        conn.execute(update(F).where(F.id == 1).values(**values))
        if release_as is not None:
            conn.execute(update(F).where(F.id == 1, F.sender == release_as).values(sender=None, lease_until=None))


class Poster:
    """POSTs over one kept-alive connection with the standard library's `http.client`.

    Not httpx or requests: importing httpx and making its client cost 200 ms of CPU (measured here), paid by
    every recording child of a Snakemake or Prefect run that forwards; `http.client` costs 20 ms, and the
    sender needs nothing more than POST with headers and timeouts."""

    def __init__(self) -> None:
        self._conn: Any = None
        self._to: tuple[str, str] | None = None

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """(status, body text); raises OSError (and http.client's errors) when the target cannot be reached."""
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn = self._connection(parts.scheme, parts.netloc)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read().decode(errors="replace")
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # the target closed a kept-alive connection (or restarted): once more on a new one
                if attempt == 2:
                    raise
            except BaseException:
                self.close()
                raise
        raise RuntimeError("unreachable")

    def _connection(self, scheme: str, netloc: str) -> Any:
        import http.client

        if self._conn is None or self._to != (scheme, netloc):
            self.close()
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = cls(netloc, timeout=CONNECT_TIMEOUT_S)
            conn.connect()
            conn.sock.settimeout(TIMEOUT_S)  # connecting may take CONNECT_TIMEOUT_S, an answer TIMEOUT_S
            self._conn, self._to = conn, (scheme, netloc)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def _refused(status: int) -> bool:
    """The target will never take this event: retrying it would only hold up the events after it."""
    return 400 <= status < 500 and status not in (408, 425, 429)


def deliver_round(t: Target, me: str, client: Poster, stop: threading.Event | None = None) -> str:
    """Send one batch of the outbox, oldest first; EMPTY, MORE, DOWN (stopped at an error) or BUSY (another sender)."""
    from sqlalchemy import delete, select, update

    from ..models import OpenLineageForwarding as F
    from ..models import OpenLineageOutboxEvent as E

    if t.problem:
        _note_error(f"not sending: {t.problem}")
        return DOWN
    if not _take_lease(me):
        return BUSY
    from ..db import engine as db

    with db.engine().connect() as conn:
        rows = conn.execute(
            select(E.id, E.event).where(E.refused_at.is_(None)).order_by(E.id).limit(BATCH)
        ).all()
        conn.rollback()
    if not rows:
        _release(me)
        return EMPTY
    headers = {"Content-Type": "application/json", **t.headers}  # the rows hold JSON text: sent as it is
    if t.token:
        headers["Authorization"] = f"Bearer {t.token}"
    delivered: list[int] = []
    refused: list[tuple[int, str]] = []
    error: str | None = None
    failed_id: int | None = None
    for row_id, body in rows:
        if stop is not None and stop.is_set():  # handing off (see `hand_off`): what is sent so far is noted below
            break
        try:
            status, text = client.post(t.endpoint, body.encode(), headers)
        except Exception as e:  # connection refused, timeout, DNS: the target is down, try again later
            error, failed_id = f"{t.endpoint}: {type(e).__name__}: {e}", row_id
            break
        if status < 300:
            delivered.append(row_id)
        elif _refused(status):
            refused.append((row_id, f"HTTP {status}: {text[:500]}"))
        else:
            error, failed_id = f"{t.endpoint}: HTTP {status}: {text[:300]}", row_id
            break
    now = _now()
    with _tx() as conn:
        if delivered:
            conn.execute(delete(E).where(E.id.in_(delivered)))
        for row_id, why in refused:
            conn.execute(update(E).where(E.id == row_id).values(refused_at=now, last_error=why, attempts=E.attempts + 1))
        if failed_id is not None:
            conn.execute(update(E).where(E.id == failed_id).values(last_error=error, attempts=E.attempts + 1))
        values: dict[str, Any] = {"target": t.url[:2000]}
        if delivered:
            values.update(delivered=F.delivered + len(delivered), last_delivered_at=now)
        if refused:
            values.update(last_error=f"refused event {refused[-1][0]}: {refused[-1][1]}"[:2000], last_error_at=now)
        if error is not None:
            values.update(last_error=error[:2000], last_error_at=now)
        if error is not None or (stop is not None and stop.is_set()):
            values.update(sender=None, lease_until=None)
        conn.execute(update(F).where(F.id == 1, F.sender == me).values(**values))
    if error is not None:
        return DOWN
    return MORE if len(rows) == BATCH else EMPTY


class Sender:
    """This process's sender thread: woken by `kick()`, delivers until the outbox is empty or the target down."""

    def __init__(self, poll_s: float | None = None) -> None:
        self.poll_s = poll_s  # also look for other processes' rows this often (lamin serve); None: only when kicked
        self._wake = threading.Event()
        self._settled = threading.Event()  # set while there is nothing this sender could deliver right now
        self.stop = threading.Event()  # `hand_off`: end the current round early and end the thread
        self.state = EMPTY
        self._requested = self._completed = 0  # kicks asked for, and the last kick a finished round covered
        self._retry_at = 0.0  # while the target is down: not before this (time.monotonic())
        self.pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="lamin-openlineage-sender", daemon=True)
        self._thread.start()

    def kick(self, urgent: bool = False) -> None:
        """Ask for a round. While the target is down, only an `urgent` kick (a flush, the exit) cuts the backoff
        short: new events alone would make every commit try a target that is known to be down."""
        self._requested += 1
        if urgent:
            self._retry_at = 0.0
        self._settled.clear()
        self._wake.set()

    def wait(self, timeout: float) -> bool:
        """Wait until the sender has nothing it can deliver now (empty, target down, or another sender's turn)."""
        return self._settled.wait(timeout)

    def _run(self) -> None:
        me = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:200]
        backoff = 0.0
        client = Poster()
        while True:
            now = time.monotonic()
            self._wake.wait(self._retry_at - now if self._retry_at > now else (backoff if self.state == BUSY else self.poll_s))
            self._wake.clear()
            if time.monotonic() < self._retry_at:  # kicked by new events while backing off: not yet
                self._settle_down()
                continue
            covers = self._requested  # a round sees every row committed before the kicks it covers
            t = target()
            if t is None:
                self.state, self._completed = EMPTY, covers
                self._settle()
                backoff = 0.0
                continue
            try:
                self.state = deliver_round(t, me, client, self.stop)
            except Exception as e:  # the database is busy or gone: like a target that is down
                logger.debug("lamin: OpenLineage forwarding failed: %s", e)
                self.state = DOWN
            self._completed = covers
            if self.stop.is_set():
                self._settled.set()
                return
            if self.state == MORE:
                backoff = 0.0
                self._wake.set()
                continue
            if self.state == DOWN:
                backoff = min(MAX_BACKOFF_S, max(0.5, backoff * 2))
                self._retry_at = time.monotonic() + backoff
            elif self.state == BUSY:
                backoff = 1.0  # another process sends: look again in a moment, in case it stops
            else:
                backoff = 0.0
            self._settle()

    def _settle_down(self) -> None:
        """Waiting out a backoff: the target is down, so whoever waits for this sender need not wait longer."""
        self._completed = self._requested
        self._settled.set()
        self._wake.clear()

    def _settle(self) -> None:
        if self._completed >= self._requested:
            self._settled.set()
        else:
            self._wake.set()  # kicked during the round: rows it could not see may be there


_sender: Sender | None = None
_lock = threading.Lock()


def kick(poll_s: float | None = None, urgent: bool = False) -> Sender | None:
    """Start this process's sender (once) and wake it; None when no target is configured."""
    global _sender
    if target() is None:
        return None
    with _lock:
        if _sender is None or _sender.pid != os.getpid():  # a forked child starts its own thread
            _sender = Sender(poll_s)
            atexit.register(_at_exit)
        elif poll_s is not None and (_sender.poll_s is None or poll_s < _sender.poll_s):
            _sender.poll_s = poll_s
        sender = _sender
    sender.kick(urgent)
    return sender


def flush(timeout: float) -> str:
    """Deliver what the outbox holds, waiting up to `timeout` s; the state it stopped in (EMPTY, DOWN, BUSY, MORE)."""
    deadline = time.monotonic() + timeout
    sender = kick(urgent=True)
    if sender is None:
        return EMPTY
    if sender.wait(max(0.0, deadline - time.monotonic())):
        return sender.state
    return MORE


def hand_off(timeout: float = 2.0) -> None:
    """For a process that someone waits for at its end (the recording child of an engine, which Snakemake
    joins): stop this process's sender after the event it is sending, and leave what is still waiting to a
    detached `python -m lamin_core.lineage.forwarding`, so that the engine's exit never waits for the target.
    Nothing is started while the target is down: the rows wait for the next sender."""
    import subprocess
    import sys

    global _handed_off
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return
    _handed_off = True
    sender.stop.set()
    sender._wake.set()
    sender._thread.join(timeout)
    if sender.state == DOWN or target() is None or status()["backlog"] == 0:
        return
    subprocess.Popen([sys.executable, "-m", "lamin_core.lineage.forwarding"], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_handed_off = False


def main() -> int:
    """`python -m lamin_core.lineage.forwarding`: deliver the backlog (waiting out another sender's lease), then exit."""
    try:
        timeout = float(os.environ.get(HAND_OFF_WAIT_VARIABLE, DEFAULT_HAND_OFF_WAIT_S))
    except ValueError:
        timeout = DEFAULT_HAND_OFF_WAIT_S
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = flush(max(0.0, deadline - time.monotonic()))
        if outcome != BUSY:
            return 0 if outcome == EMPTY else 1
        time.sleep(1.0)
    return 1


def _at_exit() -> None:
    """One more round (the target may be back since the last try), then wait while deliveries go through:
    at most `LAMIN_OPENLINEAGE_EXIT_WAIT` s, and not at all once the target refuses connections."""
    sender = _sender
    if sender is None or sender.pid != os.getpid() or _handed_off:
        return
    try:
        wait = float(os.environ.get(EXIT_WAIT_VARIABLE, DEFAULT_EXIT_WAIT_S))
    except ValueError:
        wait = DEFAULT_EXIT_WAIT_S
    sender.kick(urgent=True)
    sender.wait(wait)


def status() -> dict[str, Any]:
    """What `lamin openlineage status` shows: the target, the backlog, what was delivered and dropped, the last error."""
    from sqlalchemy import func, select

    from ..db import engine as db
    from ..models import OpenLineageForwarding as F
    from ..models import OpenLineageOutboxEvent as E

    t = target()
    with db.engine().connect() as conn:
        pending, oldest = conn.execute(select(func.count(), func.min(E.created_at)).where(E.refused_at.is_(None))).one()
        refused = conn.execute(select(func.count()).select_from(E).where(E.refused_at.is_not(None))).scalar_one()
        state = conn.execute(select(F).where(F.id == 1)).mappings().first()
        conn.rollback()
    state = dict(state or {})
    lease = state.get("lease_until")
    if lease is not None and lease.tzinfo is None:
        lease = lease.replace(tzinfo=timezone.utc)
    return {
        "target": t.endpoint if t else None,
        "token": "set" if t is not None and t.token else None,
        "forward_ingested": t.forward_ingested if t else None,
        "backlog": pending,
        "backlog_cap": t.backlog_cap if t else None,
        "oldest_pending": oldest,
        "refused": refused,
        "delivered": state.get("delivered", 0),
        "last_delivered_at": state.get("last_delivered_at"),
        "dropped": state.get("dropped", 0),
        "dropped_note": state.get("dropped_note"),
        "last_error": (t.problem if t is not None and t.problem else state.get("last_error")),
        "last_error_at": state.get("last_error_at"),
        "sender": state.get("sender") if lease is not None and lease > _now() else None,
    }


if __name__ == "__main__":
    import sys

    sys.exit(main())
