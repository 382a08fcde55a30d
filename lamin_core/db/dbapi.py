"""Plain DB-API statements for the hot paths that write or read a handful of rows.

Importing SQLAlchemy and building the ORM models costs a fresh process several hundred milliseconds,
far more than `ln.track()` ... `ln.finish()` or the recording of one event do with the database. So the
functions those paths share (transform versions, text artifacts, runs, users) are written against `Rows`:
statements with `:name` placeholders on one DB-API connection (`sqlite3`; on PostgreSQL libpq through
`ctypes`, `db/libpq.py`, or psycopg), inside whatever transaction the caller holds. There is one
implementation of each write, whichever way it is reached:

- `write()` gives a transaction on a connection of its own when the process has not started SQLAlchemy
  (a tracked script, the CLI): no SQLAlchemy import at all;
- `rows_of(session)` gives the same `Rows` over the ORM session's current transaction, so code that
  already runs in `db.write()` calls the same functions and everything commits together.

The models stay the one description of the schema: `tests/test_cold_tracking.py` checks that what these paths
write is what the ORM writes (the same columns filled, values read back equal).
"""

from __future__ import annotations

import json
import os
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import engine as db

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# a quoted literal or identifier (skipped), or a `:name` placeholder (group 1)
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![:\w]):([A-Za-z_]\w*)")
_native_sql: dict[tuple[str, str], tuple[str, list[str]]] = {}  # (dialect, sql) -> (driver's sql, names in order)
CACHED_SQL_CHARS = 10_000  # longer statements (multi-row inserts) are translated each time, not kept
# bound parameters per statement: below SQLite's limit (32,766) and PostgreSQL's (65,535) with room to spare
MAX_PARAMETERS = 30_000


def sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime type stores it: UTC, no offset, microseconds."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_sqlite_datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class Rows:
    """Statements on one DB-API connection, inside the caller's transaction.

    SQL is written once with `:name` placeholders; values are adapted as the ORM stores them (JSON as
    text, datetimes as SQLAlchemy writes them on SQLite, booleans as 0/1 there).
    """

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        # a boolean literal as the ORM writes it: SQLite's partial indexes (`WHERE is_latest = 1`) are
        # used only when a query says the same, literally
        self.true = "true" if dialect == "postgresql" else "1"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cursor = self.connection.cursor()
        native, names = native_sql(sql, self.dialect)
        values = self._adapt(params) if params else {}
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"no value for :{missing[0]} in {sql[:200]!r}")
        try:
            # SQLite: by position, neither by name nor by number (`?NNN`): SQLite looks both up in a list, so
            # a statement with n of them costs O(n^2) to prepare (a 1,000-row INSERT of 24 columns: 2 s, not 20 ms)
            cursor.execute(native, [values[n] for n in names] if self.dialect == "sqlite" else values)
        except Exception as e:
            wrapped = _as_sqlalchemy_error(e, sql, params, self.dialect)
            if wrapped is e:
                raise
            raise wrapped from e
        return cursor

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """INSERT one row; returns its id."""
        names = list(values)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) RETURNING id"
        return int(self.scalar(sql, values))

    def insert_many(self, table: str, values: Sequence[Mapping[str, Any]], returning: str = "id",
                    conflict: str = "") -> list[tuple]:
        """INSERT many rows, all with the same columns, in as few multi-row statements as the parameter
        limits allow (one round trip each); returns the `returning` columns of the rows inserted, in no
        particular order (SQLite does not promise the VALUES order: match them by a unique column).

        Why not `executemany`: sqlite3's returns no rows for RETURNING, and psycopg's takes a round trip per
        row. `conflict`: e.g. "ON CONFLICT DO NOTHING" (then only the rows that went in are returned)."""
        if not values:
            return []
        names = list(values[0])
        per_row = max(1, MAX_PARAMETERS // len(names))
        out: list[tuple] = []
        for start in range(0, len(values), per_row):
            chunk = values[start : start + per_row]
            marks = ", ".join("(" + ", ".join(f":{n}_{i}" for n in names) + ")" for i in range(len(chunk)))
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES {marks} {conflict}"
            if returning:
                sql += f" RETURNING {returning}"
            params = {f"{n}_{i}": row[n] for i, row in enumerate(chunk) for n in names}
            cursor = self.execute(sql, params)
            if returning:
                out.extend(cursor.fetchall())
        return out

    def lock(self, names: Iterable[str]) -> None:
        """PostgreSQL: transaction-scoped advisory locks on these names, in sorted order (see `db.upsert`).
        SQLite needs none: `write()` holds the database's write lock."""
        if self.dialect != "postgresql":
            return
        keys = lock_keys(names)
        if keys:
            self.connection.cursor().execute(  # a list parameter here is an array, not JSON: no adaptation
                "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(CAST(%s AS bigint[])) AS k ORDER BY k) AS ordered",
                (keys,),
            )

    def datetime_of(self, value: Any) -> datetime | None:
        """A datetime column's value as read back: aware UTC on both backends."""
        if value is None or isinstance(value, datetime):
            return value
        return parse_sqlite_datetime(value)

    def _adapt(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in params.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            elif isinstance(value, datetime) and self.dialect == "sqlite":
                value = sqlite_datetime(value)
            out[name] = value
        return out


def native_sql(sql: str, dialect: str) -> tuple[str, list[str]]:
    """`:name` placeholders as the driver takes them (SQLite `?`, psycopg and db/libpq.py `%(name)s`), and the
    name of each placeholder in order (a name used twice is there twice: SQLite's values go by position)."""
    found = _native_sql.get((dialect, sql))
    if found is not None:
        return found
    names: list[str] = []

    def mark(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)  # inside quotes: not a placeholder
        names.append(name)
        return "?" if dialect == "sqlite" else f"%({name})s"

    text = sql if dialect == "sqlite" else sql.replace("%", "%%")
    found = (_TOKEN.sub(mark, text), names)
    if len(sql) <= CACHED_SQL_CHARS:
        if len(_native_sql) > 2000:
            _native_sql.clear()  # statements are few in practice: never let the cache grow without bound
        _native_sql[(dialect, sql)] = found
    return found


def _as_sqlalchemy_error(error: Exception, sql: str, params: Mapping[str, Any] | None, dialect: str) -> Exception:
    """A driver's error as SQLAlchemy raises it (`IntegrityError`, `DataError`, ...; the driver's as `.orig`).

    Callers catch SQLAlchemy's exceptions, whichever route ran the statement (the server answers a value
    the database refused with 400); SQLAlchemy is imported only here, when a statement failed."""
    import sys

    drivers = ("sqlite3",) if dialect == "sqlite" else ("lamin_core.db.libpq", "psycopg")
    for name in drivers:
        driver = sys.modules.get(name)
        if driver is not None and isinstance(error, driver.Error):
            from sqlalchemy.exc import DBAPIError

            return DBAPIError.instance(sql, params, error, driver.Error)
    return error


def record_defaults(rows: Rows) -> dict[str, Any]:
    """What every registry's row gets when nobody says otherwise (see models/base.py): created now, by this
    user, on the current branch."""
    from ..setup import user

    ids = user.ids_for(rows, db.settings())
    return {"created_at": datetime.now(timezone.utc), "created_by_id": ids["user_id"], "branch_id": ids["branch_id"]}


def lock_keys(names: Iterable[str]) -> list[int]:
    """The advisory lock keys of names: 64-bit hashes, sorted, so two writers never wait in a cycle."""
    import hashlib

    return sorted({int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "big", signed=True) for n in names})


def rows_of(s: "Session") -> Rows:
    """`Rows` in the ORM session's current transaction (pending ORM changes are not flushed by this)."""
    conn = s.connection()
    return Rows(conn.connection.driver_connection, conn.dialect.name)


def expire_if_loaded(model_name: str, row_ids: "list[int]", columns: "list[str] | None" = None) -> None:
    """After a plain UPDATE in the ORM's transaction: ORM objects of those rows in its session reload on
    their next access (only `columns`, when given: other changes the user made to them stay, as with an ORM
    update). A process without SQLAlchemy has no such objects (and the models are not imported)."""
    if not row_ids or not db.in_write():
        return
    from .. import models

    s, model = db.session(), getattr(models, model_name)
    for row_id in row_ids:
        expire_loaded(s, model, row_id, columns)


def expire_loaded(s: "Session", model: type, row_id: int, columns: "list[str] | None" = None) -> None:
    obj = s.identity_map.get(s.identity_key(model, row_id))  # type: ignore[arg-type]
    if obj is not None:
        s.expire(obj, columns)


# ---- a connection of our own, for processes that have not started SQLAlchemy ----

_own: dict[str, Any] = {}  # "conn", "dialect", "url"
_own_lock = threading.RLock()
_in_own = threading.local()  # .rows: this thread's open transaction on the own connection


def sqlalchemy_started() -> bool:
    """True once this process created its SQLAlchemy engine: then that engine's transactions are used."""
    return db._state.get("engine") is not None


def _connection() -> tuple[Any, str]:
    settings = db.settings()
    if _own.get("url") != settings.db_url:
        close()
        if settings.dialect == "sqlite":
            import sqlite3

            path = settings.db_url.split("sqlite:///", 1)[1]
            conn = sqlite3.connect(path, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            for pragma in db.SQLITE_PRAGMAS:
                conn.execute(pragma)
        else:
            conn = _postgresql_connection(settings.db_url)
        _own.update(conn=conn, dialect=settings.dialect, url=settings.db_url)
        from ..setup.user import resolve_ids

        with _transaction(conn, settings.dialect) as rows:
            resolve_ids(rows, settings)
    return _own["conn"], _own["dialect"]


PG_DRIVER_ENV = "LAMIN_CORE_PG_DRIVER"  # "psycopg" to use psycopg on the own connection too


def _postgresql_connection(url: str) -> Any:
    """libpq through ctypes where the library is found (`db/libpq.py`: psycopg's import alone would cost a
    fresh process more than its whole write), else psycopg."""
    if os.environ.get(PG_DRIVER_ENV, "libpq") != "psycopg":
        from . import libpq

        if libpq.load() is not None:
            return libpq.connect(url)
    import psycopg

    return psycopg.connect(url)


@contextmanager
def _transaction(conn: Any, dialect: str) -> Iterator[Rows]:
    if dialect == "sqlite":
        conn.execute("BEGIN IMMEDIATE")  # the write lock up front: writers queue on the busy timeout
    try:
        yield Rows(conn, dialect)
    except BaseException:
        conn.rollback() if dialect == "postgresql" else conn.execute("ROLLBACK")
        raise
    conn.commit() if dialect == "postgresql" else conn.execute("COMMIT")


def in_write() -> bool:
    """True inside a write transaction of this thread: the ORM's (`db.write()`) or this module's own."""
    return db.in_write() or getattr(_in_own, "rows", None) is not None


def after_commit(callback: "Callable[[], object]") -> None:
    """`db.after_commit` for whichever transaction this thread holds: run `callback` once it has committed
    (at once outside one). Caches of row ids publish through this, so that no other thread sees the id of
    a row that may still roll back; this module's own transactions keep the contract too."""
    pending = getattr(_in_own, "on_commit", None)
    if getattr(_in_own, "rows", None) is not None and pending is not None:
        pending.append(callback)
    else:
        db.after_commit(callback)


@contextmanager
def write() -> Iterator[Rows]:
    """One write transaction as `Rows`: in SQLAlchemy's session when the process has one (so a caller's
    open `db.write()` is joined, never waited on), else on this module's own connection."""
    if sqlalchemy_started() or db.in_write():
        with db.write() as s:
            yield rows_of(s)
        return
    open_rows = getattr(_in_own, "rows", None)
    if open_rows is not None:  # re-entrant, like db.write(): the inner unit joins the outer transaction
        yield open_rows
        return
    db._land_pending_outside_writes()
    with _own_lock:
        conn, dialect = _connection()
        _in_own.on_commit = []
        try:
            with _transaction(conn, dialect) as rows:
                _in_own.rows = rows
                try:
                    yield rows
                finally:
                    _in_own.rows = None
        except BaseException:
            for forget in db.ROLLBACK_HOOKS:
                forget()  # as db.write(): ids cached during the rolled-back transaction may name rows that never were
            raise
        else:
            for publish in _in_own.on_commit:
                publish()
        finally:
            _in_own.on_commit = None


@contextmanager
def read() -> Iterator[Rows]:
    """Reads as `Rows`, holding no snapshot afterwards: the ORM session's connection when the process has
    one, else this module's own connection (SQLite: autocommit statements)."""
    if sqlalchemy_started() or db.in_write():
        with db.read() as s:
            yield rows_of(s)
        return
    open_rows = getattr(_in_own, "rows", None)
    if open_rows is not None:
        yield open_rows
        return
    db._land_pending_outside_writes()
    with _own_lock:
        conn, dialect = _connection()
        try:
            yield Rows(conn, dialect)
        finally:
            if dialect == "postgresql":
                conn.commit()  # end the implicit transaction: no snapshot kept between units


def write_retrying(work: Any, lock: Sequence[str] = (), attempts: int = 8) -> Any:
    """`work(rows)` in one write transaction, run again when a concurrent writer won a unique race or a
    deadlock (the whole unit of work then finds the winner's rows)."""
    import time

    from .upsert import is_retryable

    for attempt in range(attempts):
        try:
            with write() as rows:
                rows.lock(lock)
                return work(rows)
        except Exception as e:
            if attempt == attempts - 1 or not is_retryable(e) or in_write():
                raise
        time.sleep(0.005 * (attempt + 1))
    raise RuntimeError("unreachable")


def close() -> None:
    conn = _own.pop("conn", None)
    _own.clear()
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def _forget_after_fork() -> None:
    _own.clear()  # the parent's connection is the parent's; never close it from here


db.CONFIGURE_HOOKS.append(close)
os.register_at_fork(after_in_child=_forget_after_fork)
