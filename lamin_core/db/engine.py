"""Engines and sessions: the only place that knows SQLite from PostgreSQL.

Transactions are short and explicit. `write()` opens one for a unit of work and commits it; `read()`
runs queries without holding a snapshot. On SQLite, writes take the write lock up front
(`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes cannot wait for a busy lock in WAL
mode and fails at once, which is exactly what concurrent writers (a Snakemake run with `--cores 4`,
several `lamin serve` clients) would hit. The busy timeout then makes writers queue instead of failing.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, scoped_session

    from ..setup.settings import InstanceSettings

SQLITE_BUSY_TIMEOUT_MS = 60_000
# every SQLite connection, SQLAlchemy's and db.dbapi's own
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",  # durable in WAL mode up to the last checkpoint
    "PRAGMA foreign_keys=ON",
)


class _Local(threading.local):
    write_depth = 0
    on_commit: list = []


_local = _Local()
ROLLBACK_HOOKS: list = []  # caches of row ids register a function here that empties them
# Called as hook(engine, settings) when a process first connects to an instance: setup/user.py finds or
# creates the user row and the branch id there. Called as hook() when the process is pointed elsewhere.
ENGINE_CREATED_HOOKS: list = []
CONFIGURE_HOOKS: list = []
# Called before every unit of work (`read()`, `write()`) and ORM statement (lazy loads too) outside a write
# transaction: writes still on their way to the database (a recording process's queue) register here to
# land first, so a process reads its own writes. A hook returns True when it waited for something.
BEFORE_UNIT_HOOKS: list = []
_state: dict = {}  # settings, engine, sessions: reset by connect() and in forked children
_lock = threading.Lock()


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"


def make_engine(db_url: str) -> "Engine":
    from sqlalchemy import create_engine, event

    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
            # reads run in autocommit mode: no snapshot held between a user's statements
            if _local.write_depth:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    url = db_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url, pool_size=5, max_overflow=10)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 2.0


def _ping_when_idle(engine: "Engine") -> None:
    """Check a pooled connection before use only when it sat idle: a server restart or an idle timeout
    may have closed it. SQLAlchemy's `pool_pre_ping` pings at every checkout, which for a busy recorder
    is one more round trip per transaction; a connection used moments ago is alive."""
    import time

    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_S:
            try:
                alive = engine.dialect.do_ping(dbapi_conn)
            except Exception as e:
                raise DisconnectionError(f"pooled connection is gone: {e}") from e
            if not alive:
                raise DisconnectionError("pooled connection is gone")  # the pool retries with a new one


def configure(settings: "InstanceSettings | None") -> None:
    """Point this process at an instance (or at none)."""
    with _lock:
        old = _state.get("engine")
        if "sessions" in _state:
            _state["sessions"].remove()
        _state.clear()
        for hook in CONFIGURE_HOOKS:
            hook()
        if old is not None:
            old.dispose()
        if settings is not None:
            _state["settings"] = settings


def settings() -> "InstanceSettings":
    s = _state.get("settings")
    if s is None:
        from ..setup.settings import load_current

        with _lock:
            s = _state.get("settings") or load_current()
            _state["settings"] = s
    return s


def engine() -> "Engine":
    eng = _state.get("engine")
    if eng is None:
        s = settings()
        with _lock:
            eng = _state.get("engine")
            if eng is None:
                eng = make_engine(s.db_url)
                for hook in ENGINE_CREATED_HOOKS:
                    hook(eng, s)
                _state["engine"] = eng
    return eng


def _sessions() -> "scoped_session[Session]":
    reg = _state.get("sessions")
    if reg is None:
        from sqlalchemy import event
        from sqlalchemy.orm import scoped_session, sessionmaker

        eng = engine()
        with _lock:
            reg = _state.get("sessions")
            if reg is None:
                # objects stay usable after commit; nothing is flushed behind the user's back
                factory = sessionmaker(eng, expire_on_commit=False, autoflush=False)
                # every ORM statement, lazy loads of relationships included, first lets pending writes land
                event.listen(factory, "do_orm_execute", _before_orm_statement)
                reg = scoped_session(factory)
                _state["sessions"] = reg
    return reg


def session() -> "Session":
    return _sessions()()


def _land_pending() -> None:
    """Let writes still on their way to the database land (`BEFORE_UNIT_HOOKS`; a hook returns True when
    it waited for something). Objects this thread's session holds may then be stale (a run that has
    completed since it was loaded): they reload on their next access, unless they carry unsaved changes."""
    landed = False
    for land in BEFORE_UNIT_HOOKS:
        landed = bool(land()) or landed
    if landed:
        s = session()
        dirty = s.dirty
        for obj in list(s.identity_map.values()):
            if obj not in dirty:
                s.expire(obj)


def _land_pending_outside_writes() -> None:
    # inside a write transaction, landing would wait for a recording that waits for this transaction's lock
    if BEFORE_UNIT_HOOKS and not _local.write_depth:
        _land_pending()


def _before_orm_statement(_state: object) -> None:
    _land_pending_outside_writes()


@contextmanager
def write() -> Iterator["Session"]:
    """One unit of work: commit on success, roll back on error. Re-entrant within a thread."""
    _land_pending_outside_writes()  # before BEGIN: what lands must not wait for this transaction's lock
    s = session()
    if _local.write_depth:
        _local.write_depth += 1
        try:
            yield s
        finally:
            _local.write_depth -= 1
        return
    if s.in_transaction():
        s.commit()  # end a read transaction left open by a lazy load
    _local.write_depth = 1
    _local.on_commit = []
    try:
        with s.begin():
            yield s
    except BaseException:
        for forget in ROLLBACK_HOOKS:
            forget()  # ids cached during the rolled-back transaction may name rows that never were
        raise
    else:
        for publish in _local.on_commit:
            publish()
    finally:
        _local.write_depth = 0
        _local.on_commit = []


def after_commit(callback: "Callable[[], object]") -> None:
    """Run `callback` once the current write transaction has committed (at once outside one).

    Process-wide caches of row ids publish through this: another thread must never see the id of a row
    that is not committed yet, and may still roll back.
    """
    if _local.write_depth:
        _local.on_commit.append(callback)
    else:
        callback()


@contextmanager
def read() -> Iterator["Session"]:
    _land_pending_outside_writes()
    s = session()
    if not _local.write_depth and s.in_transaction():
        s.commit()  # a transaction left open by a lazy load must not hold an old snapshot or locks
    try:
        yield s
    finally:
        if not _local.write_depth and s.in_transaction():
            s.commit()


def in_write() -> bool:
    return _local.write_depth > 0


def _reset_after_fork() -> None:
    # a forked child must not share its parent's pooled connections
    eng = _state.get("engine")
    if eng is not None:
        eng.dispose(close=False)
    _state.pop("sessions", None)
    _state.pop("engine", None)
    _local.write_depth = 0


os.register_at_fork(after_in_child=_reset_after_fork)
