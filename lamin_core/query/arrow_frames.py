"""Query sets as DataFrames through an Arrow-native driver, `adbc-driver-postgresql`.

Why: a row-at-a-time DBAPI makes a Python object of every value; for 10,000 rows x 21 columns that alone
(psycopg's `fetchall()`, or `sqlite3`'s) costs more than a whole frame may. The ADBC driver returns Arrow
columns, which become numpy arrays per column. SQLAlchemy still compiles the statement; the driver binds
its parameters (`$n`): they are never rendered into the SQL text.

Not SQLite: `adbc-driver-sqlite` carries a SQLite library of its own, and two copies of SQLite in one
process on one database break each other's POSIX locks and WAL index (https://www.sqlite.org/howtocorrupt.html,
2.2.1): next to the engine's `sqlite3` connections it crashes the process with SIGBUS within seconds
(connections of both opening and closing while one writes) and may corrupt the database. SQLite frames
come as SQLite's own JSON text of the rows, parsed by Arrow (sqlite_frames.py), or as DBAPI rows.

The frame must be the DBAPI path's (frames.py), dtype for dtype and value for value. So this returns the
*raw* frame: per column what `DataFrame.from_records` makes of psycopg's values (JSON decoded, NULL in an
integer column as NaN, a column of NULLs as None), which frames.py converts as it converts the DBAPI
path's; only datetimes come converted (naive datetime64, UTC). What can't be mirrored exactly (an unknown
parameter or column type, a driver error, a write transaction whose rows only its SQLAlchemy connection
sees) raises `Unsupported`, and frames.py reads the rows as before.

One ADBC connection per process and database, in autocommit mode (a read never holds a snapshot), used by
one thread at a time: a thread that finds it busy takes the DBAPI path rather than wait.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import JSON

from ..db import engine as db

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

RETRY_CONNECT_AFTER_S = 30.0  # a database the driver could not reach is not asked again at every frame


class Unsupported(Exception):
    """This read can't go through ADBC with an identical result: the caller reads the DBAPI way."""


_state: dict[str, Any] = {}  # url, conn, cursor; or url, retry_at after a failed connect
_lock = threading.Lock()


def read_raw(qs: Any, typed: Sequence[tuple[str, Any, Any]]) -> "pd.DataFrame":
    """The raw frame of `qs.statement(...)` over `typed` (name, expression, type), read through ADBC."""
    if db.in_write():
        raise Unsupported("inside a write transaction its uncommitted rows are only on its own connection")
    names = [n for n, _, _ in typed]
    if len(set(names)) != len(names):
        raise Unsupported("duplicate column names")
    # what may take the engine's lock happens before ours: configure() holds it while its hook waits for ours
    engine_dialect = db.engine().dialect
    if engine_dialect.name != "postgresql":
        raise Unsupported(f"no Arrow path for {engine_dialect.name} (see this module's docstring)")
    url = db.settings().db_url
    dialect = _dialect_for_driver(engine_dialect)
    # positional labels: any name is fine, pandas gets the real ones
    sql, values = _compile(qs.statement(*[e.label(f"c{i}") for i, (_, e, _) in enumerate(typed)]), dialect)
    params = _params(values)
    if not _lock.acquire(blocking=False):
        raise Unsupported("another thread is reading through the ADBC connection")
    try:
        table = _execute(_cursor(url), sql, params)
    finally:
        _lock.release()
    return raw_frame(table, names, [isinstance(t, JSON) for _, _, t in typed])


def _compile(stmt: Any, dialect: Any) -> tuple[str, list[Any]]:
    """SQL for the driver's paramstyle and the parameters as the DBAPI would get them (bind processors run)."""
    compiled = stmt.compile(dialect=dialect)
    state = compiled.construct_expanded_state(escape_names=False)  # IN lists expanded, one `$n` each
    processors = {**compiled._bind_processors, **state.processors}
    values = [processors[k](state.parameters[k]) if k in processors else state.parameters[k] for k in state.positiontup or ()]
    return state.statement, values


_numbered: list[Any] = [None, None]  # the engine's dialect, and its copy for the driver


def _dialect_for_driver(dialect: Any) -> Any:
    """The engine's dialect with the driver's paramstyle, `$n`."""
    if _numbered[0] is not dialect:
        import copy

        # the engine's dialect keeps its bind casts (`$1::VARCHAR`): the server takes a text for any type
        numbered = copy.copy(dialect)
        numbered.paramstyle, numbered.positional = "numeric_dollar", True
        numbered.identifier_preparer = numbered.preparer(numbered)  # it doubles % for pyformat only
        _numbered[:] = [dialect, numbered]
    return _numbered[1]


def _params(values: list[Any]) -> "pa.RecordBatch | None":
    import pyarrow as pa

    # bool before int (a bool is an int), datetime before date; an int beyond 64 bits fails to convert
    types = [(bool, pa.bool_()), (int, pa.int64()), (float, pa.float64()), (str, pa.string()), (bytes, pa.binary())]
    arrays = []
    for v in values:
        if v is None:
            arrays.append(pa.array([None], pa.string()))  # PostgreSQL casts a text NULL (`$1::INTEGER`)
        elif isinstance(v, datetime):
            aware = v.tzinfo is not None
            arrays.append(pa.array([v.astimezone(timezone.utc) if aware else v], pa.timestamp("us", tz="UTC" if aware else None)))
        else:
            arrow_type = next((t for py, t in types + [(date, pa.date32())] if isinstance(v, py)), None)
            if arrow_type is None:
                raise Unsupported(f"a parameter of type {type(v).__name__}")
            try:
                arrays.append(pa.array([v], arrow_type))
            except (OverflowError, pa.ArrowInvalid) as e:
                raise Unsupported(f"a parameter {v!r}: {e}") from e
    return pa.record_batch(arrays, names=[str(i) for i in range(len(arrays))]) if arrays else None


def _execute(cursor: Any, sql: str, params: "pa.RecordBatch | None") -> "pa.Table":
    try:
        cursor.execute(sql, params)
        return cursor.fetch_arrow_table()
    except Exception as e:
        try:
            cursor.execute("SELECT 1")
            cursor.fetch_arrow_table()
        except Exception:
            _close()  # a restarted server: the next read connects anew
        raise Unsupported(f"the driver failed: {e}") from e


def _cursor(url: str) -> Any:
    """This process's cursor on `url`, connecting on first use."""
    if _state.get("url") != url:
        _close()
    if "cursor" not in _state:
        if time.monotonic() < _state.get("retry_at", 0.0):
            raise Unsupported("the driver could not connect a moment ago")
        try:
            _state.update(_connect(url))
        except Exception as e:
            _state.update(url=url, retry_at=time.monotonic() + RETRY_CONNECT_AFTER_S)
            log.warning("lamin_core: reading frames row by row; the ADBC driver could not connect: %s", e)
            raise Unsupported(f"the driver could not connect: {e}") from e
    return _state["cursor"]


def _connect(url: str) -> dict[str, Any]:
    import adbc_driver_postgresql.dbapi as adbc_pg

    from .frames import SORT_MEMORY

    # libpq takes the URL as it is, `?options=-csearch_path%3D...` included: the same schema as the engine
    uri = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    try:  # the built-in types only (all the models use): reading them all from the catalog costs 30 ms+
        conn = adbc_pg.connect(uri, db_kwargs={"adbc.postgresql.type_resolver_mode": "builtin"}, autocommit=True)
    except (adbc_pg.NotSupportedError, adbc_pg.ProgrammingError):  # a driver before 1.13 knows no such option
        conn = adbc_pg.connect(uri, autocommit=True)
    cursor = conn.cursor()
    # what frames.py sets per transaction, for the session of a connection that only reads frames: sorting
    # 20,000 rows to cut a slice fits in memory, and a statement prepared again is planned for its values
    cursor.execute(f"SET work_mem = '{SORT_MEMORY}'")
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    return dict(url=url, conn=conn, cursor=cursor)


def _close() -> None:
    handles = [_state.get("cursor"), _state.get("conn")]
    _state.clear()
    for handle in handles:
        try:
            if handle is not None:
                handle.close()
        except Exception:
            pass


def _close_locked() -> None:
    with _lock:
        _close()


_fork_held = [False]  # the hooks around a fork run in the forking thread
_inherited: list[dict[str, Any]] = []  # a parent's connection a child must keep from being closed


def _before_fork() -> None:
    # A child must never use or close the parent's connection: closing a libpq connection tells the server
    # to end the session the parent still uses. None exists when the process forks; the parent connects
    # again on its next frame.
    _fork_held[0] = _lock.acquire(timeout=60)
    if _fork_held[0]:
        _close()


def _after_fork_in_parent() -> None:
    if _fork_held[0]:
        _fork_held[0] = False
        _lock.release()


def _after_fork_in_child() -> None:
    global _lock
    if _state:  # only if a read held the lock for a minute: forget the parent's, and never close it
        _inherited.append(dict(_state))
    _state.clear()
    _fork_held[0], _lock = False, threading.Lock()


db.CONFIGURE_HOOKS.append(_close_locked)
os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


def raw_frame(table: "pa.Table", names: list[str], json_text: list[bool]) -> "pd.DataFrame":
    """What `DataFrame.from_records` makes of the rows of `table`, columns decoded as JSON where `json_text`
    says (SQLite's text path, sqlite_frames.py, leaves that to frames.py as its row path does)."""
    import pandas as pd
    import pyarrow as pa

    if table.num_rows == 0:
        return pd.DataFrame(columns=names)  # as the DBAPI path: no rows, no types
    columns, all_null, decode = [], [], []
    for i, col in enumerate(table.columns):
        t = col.type
        if json_text[i]:
            if isinstance(t, pa.BaseExtensionType):  # arrow.json: text underneath
                col, t = pa.chunked_array([c.storage for c in col.chunks], t.storage_type), t.storage_type
            if not pa.types.is_string(t):
                raise Unsupported(f"JSON column {names[i]!r} arrives as {t}")
            decode.append(i)  # psycopg hands over JSON decoded
        if col.null_count == len(col):
            all_null.append(i)  # from_records: an object column of None, whatever the type
            col = pa.chunked_array([pa.nulls(len(col))])
        elif pa.types.is_timestamp(t):
            try:
                col = col.cast(pa.timestamp("ns"))  # UTC, naive: frames.py localizes it
            except pa.ArrowInvalid:  # beyond 2262: as the DBAPI path, µs since the epoch for pandas to refuse
                col = col.cast(pa.int64())
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            # Python ints and floats: int64, float64 (with NaN for NULL) after from_records
            col = col.cast(pa.float64() if pa.types.is_floating(t) else pa.int64())
        elif not (pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
            raise Unsupported(f"column {names[i]!r} has Arrow type {t}")
        columns.append(col)
    # a str per value as the DBAPI gives (no hashing to share equal ones); threads don't pay on 10,000 rows
    table = pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    df = table.to_pandas(deduplicate_objects=False, use_threads=False)
    df.columns = names
    for i in set(decode) - set(all_null):
        values = [json.loads(v) if v is not None else None for v in df.iloc[:, i].tolist()]
        df.isetitem(i, pd.Series(values, index=df.index))  # from_records' inference: ints stay ints
    return df
