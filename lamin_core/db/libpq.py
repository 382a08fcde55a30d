"""A PostgreSQL connection on libpq through `ctypes`: for the processes that only write a handful of rows.

Why: a tracked script, `lamin save` / `lamin load` and the adapters' recording child talk to the database
through `dbapi.Rows` and never import SQLAlchemy. On PostgreSQL what remained was psycopg itself: importing
it costs a fresh process 100-200 ms (its type system, asyncio, importlib.metadata), more than the whole
budget of `ln.track()` ... `ln.finish()`. libpq, the C library under psycopg, loads in a few milliseconds.

What this is: the part of DB-API 2 that `Rows` uses, nothing more.
- `connect(conninfo)` -> `Connection` with `cursor()`, `commit()`, `rollback()`, `close()`; like psycopg's,
  a transaction begins with the first statement and ends with commit/rollback.
- `Cursor.execute(sql, params)` with psycopg's placeholders (`%(name)s`, or `%s` with a sequence; `%%` is
  a literal `%`), then `fetchone()` / `fetchall()` / `rowcount`.
- Parameters go as text, typed as psycopg types them (a `str` as "unknown", so the server casts it to the
  column's type); results come back as psycopg returns them, by the column's type (`VALUE_TYPES`): ints,
  floats, booleans, aware datetimes, JSON decoded. A column of any other type raises `NotSupportedError`
  naming it: `tests/test_libpq.py` reads every column of every table both ways and compares.
- Errors carry psycopg's class names (`UniqueViolation` is an `IntegrityError`, `DeadlockDetected` and
  `SerializationFailure` are `OperationalError`s) and `sqlstate`, so `db.upsert.is_retryable` and
  SQLAlchemy's `DBAPIError.instance` classify them exactly as psycopg's.

`load()` returns None where no libpq is found (not the system's `libpq.so.5`, nor the copy psycopg-binary
ships): `dbapi` then uses psycopg, as it does when `LAMIN_CORE_PG_DRIVER=psycopg` is set.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import re
import sys
from datetime import date, datetime
from typing import Any, Callable, Mapping, Sequence

# ---- errors, named as psycopg's (DB-API 2 hierarchy) ----


class Error(Exception):
    sqlstate: str | None = None


class InterfaceError(Error): ...
class DatabaseError(Error): ...
class DataError(DatabaseError): ...
class OperationalError(DatabaseError): ...
class IntegrityError(DatabaseError): ...
class InternalError(DatabaseError): ...
class ProgrammingError(DatabaseError): ...
class NotSupportedError(DatabaseError): ...
class UniqueViolation(IntegrityError): ...
class DeadlockDetected(OperationalError): ...
class SerializationFailure(OperationalError): ...


_BY_SQLSTATE: dict[str, type[Error]] = {"23505": UniqueViolation, "40P01": DeadlockDetected, "40001": SerializationFailure}
# by SQLSTATE class, as psycopg.errors files them
_BY_CLASS: dict[str, type[Error]] = {
    **dict.fromkeys(("08", "28", "34", "40", "53", "54", "55", "57", "58", "F0"), OperationalError),
    **dict.fromkeys(("24", "25", "26", "27", "2B", "2D", "2F", "38", "39", "3B", "P0", "XX"), InternalError),
    **dict.fromkeys(("3D", "3F", "42", "44"), ProgrammingError),
    "0A": NotSupportedError, "22": DataError, "23": IntegrityError,
}


def _error(sqlstate: str | None, message: str) -> Error:
    cls = _BY_SQLSTATE.get(sqlstate or "") or _BY_CLASS.get((sqlstate or "")[:2], DatabaseError)
    error = cls(message)
    error.sqlstate = sqlstate
    return error


# ---- the library ----

_CONNECTION_OK = 0
_PGRES_COMMAND_OK, _PGRES_TUPLES_OK, _PGRES_FATAL_ERROR = 1, 2, 7
_PQTRANS_IDLE = 0
_DIAG_SQLSTATE, _DIAG_MESSAGE, _DIAG_DETAIL = ord("C"), ord("M"), ord("D")
_LIBRARY_NAMES = ("libpq.so.5", "libpq.5.dylib", "libpq.so")
_lib: list[Any] = []  # [library or None], once looked for
_NoticeProcessor = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


@_NoticeProcessor
def _drop_notice(_arg: Any, _message: Any) -> None:
    """Server notices (e.g. "there is no transaction in progress") are not the user's business: libpq's
    default prints them on stderr; psycopg passes them to handlers nobody registers here."""


def load() -> Any:
    """The libpq library with its signatures declared, or None when none is found."""
    if not _lib:
        _lib.append(_declare(_find()))
    return _lib[0]


def _find() -> Any:
    for name in _LIBRARY_NAMES:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return _bundled_with_psycopg()


def _bundled_with_psycopg() -> Any:
    """psycopg-binary's own copy (a wheel's `psycopg_binary.libs/libpq-<hash>.so.5...`), found without importing it."""
    import glob
    import importlib.util
    import os

    spec = importlib.util.find_spec("psycopg_binary")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = list(spec.submodule_search_locations)[0]
    for candidate in sorted(glob.glob(os.path.join(os.path.dirname(package), "psycopg_binary.libs", "libpq*"))):
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    return None


def _declare(lib: Any) -> Any:
    if lib is None:
        return None
    p, i, u, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_char_p
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "PQconnectdb": (p, [s]), "PQstatus": (i, [p]), "PQerrorMessage": (s, [p]), "PQfinish": (None, [p]),
        "PQsetNoticeProcessor": (p, [p, _NoticeProcessor, p]), "PQtransactionStatus": (i, [p]),
        "PQexecParams": (p, [p, s, i, ctypes.POINTER(u), ctypes.POINTER(s), ctypes.POINTER(i), ctypes.POINTER(i), i]),
        "PQresultStatus": (i, [p]), "PQresultErrorField": (s, [p, i]), "PQresultErrorMessage": (s, [p]),
        "PQntuples": (i, [p]), "PQnfields": (i, [p]), "PQftype": (u, [p, i]), "PQfname": (s, [p, i]),
        "PQgetvalue": (p, [p, i, i]), "PQgetlength": (i, [p, i, i]), "PQgetisnull": (i, [p, i, i]),
        "PQcmdTuples": (s, [p]), "PQclear": (None, [p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


# ---- values: Python -> text parameters, text results -> Python ----

_OID_BOOL, _OID_INT8, _OID_FLOAT8, _OID_NUMERIC, _OID_DATE, _OID_TIMESTAMP, _OID_TIMESTAMPTZ, _OID_INT8_ARRAY = (
    16, 20, 701, 1700, 1082, 1114, 1184, 1016,
)


def _parameter(value: Any) -> tuple[int, bytes | None]:
    """(type oid, text) of a parameter, typed as psycopg types it: a str is "unknown" (oid 0)."""
    if value is None:
        return 0, None
    if isinstance(value, bool):
        return _OID_BOOL, b"t" if value else b"f"
    if isinstance(value, int):
        return _OID_INT8, str(value).encode()
    if isinstance(value, float):
        return _OID_FLOAT8, repr(value).replace("inf", "Infinity").replace("nan", "NaN").encode()
    if isinstance(value, str):
        if "\x00" in value:  # psycopg's error too: libpq's text parameters end at the first NUL
            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return 0, value.encode()
    if isinstance(value, datetime):
        return (_OID_TIMESTAMPTZ if value.tzinfo is not None else _OID_TIMESTAMP), value.isoformat().encode()
    if isinstance(value, date):
        return _OID_DATE, value.isoformat().encode()
    decimal = sys.modules.get("decimal")  # imported only where a Decimal could exist: it costs a fresh process ~3 ms
    if decimal is not None and isinstance(value, decimal.Decimal):
        return _OID_NUMERIC, str(value).encode()
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return _OID_INT8_ARRAY, ("{" + ",".join(str(v) for v in value) + "}").encode()
    raise NotSupportedError(f"lamin_core.db.libpq cannot send a parameter of type {type(value).__name__}")


def _numeric(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)  # as psycopg returns a numeric


def _bytea(text: str) -> bytes:
    return bytes.fromhex(text[2:])  # the server's default output: \x followed by hex


VALUE_TYPES: dict[int, Callable[[str], Any]] = {
    16: lambda t: t == "t",
    20: int, 21: int, 23: int, 26: int,
    700: float, 701: float, 1700: _numeric,
    18: str, 19: str, 25: str, 705: str, 1042: str, 1043: str,
    114: json.loads, 3802: json.loads,
    1082: date.fromisoformat, 1114: datetime.fromisoformat, 1184: datetime.fromisoformat,
    17: _bytea,
}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
# translated statements kept per connection: short ones only, and a bounded number of them (the recording
# child lives as long as its pipeline; multi-row INSERTs come in many sizes and can be long)
CACHED_SQL_CHARS, CACHED_STATEMENTS = 10_000, 2_000


def _numbered(sql: str) -> tuple[str, list[str | int]]:
    """psycopg's placeholders as libpq's `$n`, and which parameter each number takes (a name, or a position)."""
    order: list[str | int] = []
    numbers: dict[str | int, int] = {}
    positions = itertools.count()  # the next `%s` takes the next value of a sequence

    def replace(match: "re.Match[str]") -> str:
        if match.group(0) == "%%":
            return "%"
        ref: str | int = match.group(1) if match.group(1) is not None else next(positions)
        if ref not in numbers:
            order.append(ref)
            numbers[ref] = len(order)
        return f"${numbers[ref]}"

    return _PLACEHOLDER.sub(replace, sql), order


# ---- connection and cursor ----


class Connection:
    def __init__(self, conninfo: str) -> None:
        lib = load()
        if lib is None:
            raise InterfaceError("no libpq library found")
        self._lib = lib
        self._conn = lib.PQconnectdb(conninfo.encode())
        if lib.PQstatus(self._conn) != _CONNECTION_OK:
            message = (lib.PQerrorMessage(self._conn) or b"").decode(errors="replace").strip()
            lib.PQfinish(self._conn)
            self._conn = None
            raise OperationalError(f"connection failed: {message}")
        lib.PQsetNoticeProcessor(self._conn, _drop_notice, None)
        self._statements: dict[str, tuple[bytes, list[str | int]]] = {}

    def cursor(self) -> "Cursor":
        return Cursor(self)

    def commit(self) -> None:
        if self._in_transaction():
            self._run(b"COMMIT", [])

    def rollback(self) -> None:
        if self._in_transaction():
            self._run(b"ROLLBACK", [])

    def close(self) -> None:
        if self._conn is not None:
            self._lib.PQfinish(self._conn)
            self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def _in_transaction(self) -> bool:
        return self._conn is not None and self._lib.PQtransactionStatus(self._conn) != _PQTRANS_IDLE

    def _execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> tuple[list[tuple], int]:
        if self._conn is None:
            raise InterfaceError("the connection is closed")
        if not self._in_transaction():
            self._run(b"BEGIN", [])  # as psycopg outside autocommit: the first statement opens a transaction
        prepared = self._statements.get(sql)
        if prepared is None:
            native, order = _numbered(sql)
            prepared = (native.encode(), order)
            if len(sql) <= CACHED_SQL_CHARS:
                if len(self._statements) >= CACHED_STATEMENTS:
                    self._statements.clear()
                self._statements[sql] = prepared
        native_sql, order = prepared
        if params is None:
            values: list[Any] = []
        elif isinstance(params, Mapping):
            values = [params[name] for name in order]
        else:
            values = list(params)
        return self._run(native_sql, values)

    def _run(self, sql: bytes, values: list[Any]) -> tuple[list[tuple], int]:
        lib = self._lib
        n = len(values)
        typed = [_parameter(v) for v in values]
        types = (ctypes.c_uint * n)(*[t for t, _ in typed])
        texts = (ctypes.c_char_p * n)(*[v for _, v in typed])
        result = lib.PQexecParams(self._conn, sql, n, types, texts, None, None, 0)
        if not result:
            raise OperationalError((lib.PQerrorMessage(self._conn) or b"").decode(errors="replace").strip())
        try:
            status = lib.PQresultStatus(result)
            if status not in (_PGRES_COMMAND_OK, _PGRES_TUPLES_OK):
                raise self._result_error(result)
            count = lib.PQcmdTuples(result)
            rowcount = int(count) if count else -1
            return (self._rows(result) if status == _PGRES_TUPLES_OK else []), rowcount
        finally:
            lib.PQclear(result)

    def _result_error(self, result: int) -> Error:
        """The error as psycopg words it: the primary message, then the detail."""
        field = self._lib.PQresultErrorField
        sqlstate, primary, detail = (field(result, code) for code in (_DIAG_SQLSTATE, _DIAG_MESSAGE, _DIAG_DETAIL))
        if primary is None:
            primary = self._lib.PQresultErrorMessage(result) or b"unknown error"
        message = primary.decode(errors="replace").strip()
        if detail:
            message += "\nDETAIL:  " + detail.decode(errors="replace").strip()
        return _error(sqlstate.decode() if sqlstate else None, message)

    def _rows(self, result: int) -> list[tuple]:
        lib = self._lib
        n_rows, n_fields = lib.PQntuples(result), lib.PQnfields(result)
        readers = []
        for col in range(n_fields):
            oid = lib.PQftype(result, col)
            reader = VALUE_TYPES.get(oid)
            if reader is None:
                name = (lib.PQfname(result, col) or b"?").decode()
                raise NotSupportedError(f"column {name!r} has PostgreSQL type oid {oid}, which lamin_core.db.libpq does not read")
            readers.append(reader)
        string_at, getvalue, getlength, isnull = ctypes.string_at, lib.PQgetvalue, lib.PQgetlength, lib.PQgetisnull
        return [
            tuple(
                None if isnull(result, row, col) else reader(string_at(getvalue(result, row, col), getlength(result, row, col)).decode())
                for col, reader in enumerate(readers)
            )
            for row in range(n_rows)
        ]


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: list[tuple] = []
        self._next = 0
        self.rowcount = -1

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> "Cursor":
        self._rows, self.rowcount = self._connection._execute(sql, params)
        self._next = 0
        return self

    def fetchone(self) -> tuple | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def close(self) -> None:
        self._rows = []


def connect(conninfo: str) -> Connection:
    """A connection for a libpq connection string or URI (`postgresql://user@host:port/db?options=...`)."""
    if conninfo.startswith("postgresql+psycopg://"):
        conninfo = "postgresql://" + conninfo[len("postgresql+psycopg://") :]
    return Connection(conninfo)
