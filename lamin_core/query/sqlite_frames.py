"""SQLite query sets as DataFrames without a Python object per value: SQLite writes each row as JSON text,
Arrow's CSV reader parses the rows into typed columns.

Why: `sqlite3`'s `fetchall()` makes a Python object of every value (26 ms of 10,000 rows x 21 columns), and
`DataFrame.from_records` then infers each column from those objects (16 ms more). An Arrow driver of its own
is not an option on SQLite: adbc-driver-sqlite links a second SQLite library, and two copies of SQLite in
one process on one WAL database break each other's locks (arrow_frames.py). So the engine's own connection
runs the statement, with one expression per row instead of one per column: `json_array(0, c1, ..., cn, 0)`
as a blob. SQLite serialises in C (NULL as `null`, text quoted and escaped, integers as digits); the rows
joined by newlines are CSV to Arrow's reader once the brackets are dummy first and last fields, with `"`
quoting and `\\` escaping, and it converts each column to the type the model declares, in C.

The frame must be the row path's (frames.py), dtype for dtype and value for value. Column affinity makes
the declared type safe to parse by (the tables are created from the models: VARCHAR, TEXT, INTEGER, BIGINT,
BOOLEAN, DATETIME, JSON): a text column holds text or NULL (a number written there is stored as text), an
integer or boolean column holds integers, NULL, or values Arrow refuses as int64 (reals, non-numeric text).
A datetime or JSON column has NUMERIC affinity: a number there (`'2.5'` as JSON) would read as text, so
those columns send a number as `char(1)`, whose escape `\\u0001` this module refuses (a real U+0001 is
refused with it). Other escapes of control characters are decoded; a blob makes `json_array`
fail. Whatever is refused raises `Unsupported` (or SQLite's error), and frames.py reads the rows as before.
This returns the *raw* frame, what `from_records` makes of the rows (JSON still text), for frames.py to
convert as it converts the row path's; only datetimes Arrow reads alike come as timestamps (`_timestamps`).

The statement is the query set's own (the select list differs, not the order or the slice), compiled by
SQLAlchemy with its parameters bound, run in the session's transaction: it sees what the row path would.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, LargeBinary, String, case, cast, func, literal_column, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect
from sqlalchemy.types import NullType

from .arrow_frames import Unsupported, raw_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# `\"` and `\\` are left to the CSV reader (its escape character); the other escapes of a control character
# become the character itself (the reader then takes raw line breaks inside quotes), but for `\u0001`: the
# mark of a value `_guarded` refused (or, rarely, a real U+0001: that frame is read row by row)
_SHORT = {b'"': b'\\"', b"\\": b"\\\\", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_ANY_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_CONTROL_ESCAPE = re.compile(rb'\\[^"\\]')  # may flag `\\n` too: the exact pass sorts it out
_REFUSED = 1  # char(1)
MAX_BLOCK = 1 << 30  # the reader's block size is a 32-bit integer; a row must fit in one


def read_raw(conn: Any, qs: Any, typed: Sequence[tuple[str, Any, Any]]) -> "pd.DataFrame":
    """The raw frame of `qs.statement(...)` over `typed` (name, expression, type), on `conn`, SQLAlchemy's
    connection of the reading session."""
    result = conn.execute(rows_statement(qs, typed))
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    names = [n for n, _, _ in typed]
    if not rows:
        import pandas as pd

        return pd.DataFrame(columns=names)  # as from_records' caller: no rows, no types
    data = b"\n".join([r[0] for r in rows])
    del rows
    if not data.startswith(b"[0,"):  # a database in UTF-16: its blobs are not this text
        raise Unsupported("the rows' JSON text is not UTF-8")
    table = parse(data, arrow_types(typed))
    for i, (_, _, type_) in enumerate(typed):
        if isinstance(type_, DateTime):
            table = table.set_column(i, f"c{i}", _timestamps(table.column(i)))
    return raw_frame(table, names, [False] * len(names))  # JSON stays text: frames.py decodes it


def rows_statement(qs: Any, typed: Sequence[tuple[str, Any, Any]]) -> Any:
    """The query set's statement with one column: each row as `json_array(0, ..., 0)`, a blob (no decoding)."""
    columns = [_guarded(e) if _kind(t) == "text?" else e for _, e, t in typed]
    row = func.json_array(literal_column("0"), *[type_coerce(c, NullType()) for c in columns], literal_column("0"))
    return qs.statement(type_coerce(cast(row, LargeBinary), NullType()).label("r"))


def arrow_types(typed: Sequence[tuple[str, Any, Any]]) -> list["pa.DataType"]:
    import pyarrow as pa

    return [pa.int64() if _kind(t) == "integer" else pa.string() for _, _, t in typed]


def _timestamps(column: "pa.ChunkedArray") -> "pa.ChunkedArray":
    """Datetime text as naive UTC timestamps (ns), or the text as it is for pandas to parse, as the row path does.

    Arrow's ISO 8601 parser reads a subset of what `pd.to_datetime(format="ISO8601")` reads (no offset, no
    "Z", no compact or unpadded forms, at most 6 decimals: tests/test_sqlite_frames.py) and reads it alike,
    in a tenth of the time; a column with anything else, or beyond pandas' years 1677-2262, stays text.
    """
    import pyarrow as pa

    try:
        return column.cast(pa.timestamp("us")).cast(pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def _kind(type_: Any) -> str:
    """How a column's values arrive: "integer", "text", or "text?" (text unless someone wrote otherwise)."""
    if isinstance(type_, (Boolean, Integer, BigInteger)):
        return "integer"
    if isinstance(type_, (DateTime, JSON)):
        return "text?"  # NUMERIC affinity: a number written there stays a number
    if isinstance(type_, String):
        return "text"  # TEXT affinity: a number written there is stored as text
    raise Unsupported(f"no SQLite text path for a column of type {type_!r}")


def _guarded(expr: Any) -> ColumnElement[Any]:
    """`expr`, but a number as `char(1)`, which `parse` refuses: evaluated once per row, inside an include=
    path's subquery rather than around it. SQLite orders every number before any text, so `< ''` is true of
    numbers only (NULL is not compared; a blob is left to `json_array` to refuse); it costs less than typeof()."""
    if isinstance(expr, ScalarSelect):
        inner = expr.element
        (column,) = inner.selected_columns
        return inner.with_only_columns(_guarded(column)).scalar_subquery()
    refused = func.char(literal_column(str(_REFUSED)))
    return case((type_coerce(expr, NullType()) < literal_column("''"), refused), else_=expr)


def parse(data: bytes, types: list["pa.DataType"]) -> "pa.Table":
    """Rows of `json_array(0, ..., 0)` joined by newlines as Arrow columns of `types` (int64 or string)."""
    import pyarrow as pa
    import pyarrow.csv as csv

    unescaped = b"\\" in data and _CONTROL_ESCAPE.search(data) is not None
    if unescaped:
        data = _ANY_ESCAPE.sub(_unescape, data)
    names = [f"c{i}" for i in range(len(types) + 2)]  # the brackets' dummies first and last
    kept = names[1:-1]
    try:
        return csv.read_csv(
            pa.py_buffer(data),
            read_options=csv.ReadOptions(use_threads=False, column_names=names, block_size=min(len(data) + 1, MAX_BLOCK)),
            parse_options=csv.ParseOptions(quote_char='"', double_quote=False, escape_char="\\", newlines_in_values=unescaped),
            convert_options=csv.ConvertOptions(
                column_types=dict(zip(kept, types)), include_columns=kept, null_values=["null"],
                strings_can_be_null=True, quoted_strings_can_be_null=False, check_utf8=True),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:  # a real in an integer column, invalid UTF-8, ...
        raise Unsupported(f"the rows' text did not parse as the declared types: {e}") from e


def _unescape(m: "re.Match[bytes]") -> bytes:
    escape = m.group(1)
    if escape in _SHORT:
        return _SHORT[escape]
    code = int(escape[1:], 16) if escape[:1] == b"u" else None
    if code is not None and code < 0x20 and code != _REFUSED:
        return bytes([code])
    raise Unsupported(f"the JSON escape \\{escape.decode(errors='replace')}: U+0001 marks a value of another storage "
                      "class in a datetime or JSON column")
