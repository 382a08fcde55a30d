"""Query sets as pandas DataFrames, read as Arrow columns where possible, else as plain DBAPI rows.

The fast path gets columns, not rows: on PostgreSQL the statement runs on an ADBC driver (`arrow_frames.py`);
on SQLite, where a second SQLite library is unsafe (arrow_frames.py says why), the engine's own connection
runs it with each row as SQLite's JSON text, which Arrow's CSV reader parses into typed columns
(`sqlite_frames.py`). The DBAPI path is what remains when a fast path can't give an identical frame (inside
a write transaction on PostgreSQL, an unknown type, a value of another storage class on SQLite, no driver):
SQLAlchemy still compiles the statement and binds its parameters, but the result columns are coerced to a
type without result processing and the rows are read straight from the DBAPI cursor: per-value Python
conversion (datetimes, booleans, Row objects) is what made 10,000 rows cost 100 ms. All paths produce the
same raw frame; the conversions that remain are done per column, vectorised, by pandas. Datetimes come out
as UTC on both backends.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal, Sequence

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, cast, func, inspect, type_coerce
from sqlalchemy.types import NullType

from ..db import engine as db
from ..errors import FieldError

if TYPE_CHECKING:
    from .queryset import QuerySet

# long or internal columns that make a table unreadable
HIDDEN = {"source_code", "facets"}
SORT_MEMORY = "64MB"  # PostgreSQL work_mem for dataframe queries (a DBAPI read: its transaction only)
# a SQLite slice of at most this many rows is read row by row: below about 1,000 rows the text path's fixed
# cost (a bigger statement to compile, the CSV reader's setup: about 1 ms) outweighs what it saves
SQLITE_FEW_ROWS = 500
log = logging.getLogger(__name__)


def to_dataframe(qs: "QuerySet", include: Any = None, *, via: Literal["auto", "arrow", "dbapi"] = "auto") -> Any:
    """One row per record, indexed by id; `include` adds fields of related records (`"run__transform__key"`).

    `via` picks the reading path, for tests and benchmarks: "arrow" (the backend's fast path: ADBC, or SQLite's
    JSON text) fails where it can't be taken.
    """
    model = qs.model
    include, with_features = _split_features(include)
    columns = [c.columns[0] for c in inspect(model).column_attrs if c.key not in HIDDEN]
    names = [c.key for c in columns]
    extra = _includes(model, include)
    typed = [(n, getattr(model, n), c.type) for n, c in zip(names, columns)] + [(n, e, e.type) for n, e in extra]
    df, dialect = _read(qs, typed, via)
    for n, _, type_ in typed:
        _convert(df, n, type_, dialect)
    if "id" in df.columns:
        df.set_index("id", inplace=True)  # not a copy of the whole frame
    if with_features:
        from .feature_frames import add_feature_columns

        add_feature_columns(df, qs)
    return df


def _read(qs: "QuerySet", typed: Sequence[tuple[str, Any, Any]], via: str) -> tuple[Any, str]:
    """The raw frame (what `DataFrame.from_records` makes of the DBAPI's rows) and the dialect's name."""
    with db.read() as s:  # pending writes land first; no transaction of this thread stays open
        dialect = db.engine().dialect.name
        few = dialect == "sqlite" and qs._limit is not None and qs._limit <= SQLITE_FEW_ROWS
        if via == "arrow" or (via == "auto" and not few):
            try:
                return _read_columns(s, qs, typed, dialect), dialect
            except Exception as e:
                if via == "arrow":
                    raise
                from .arrow_frames import Unsupported

                # whatever went wrong there (a driver, a type), the rows path reads the same frame, or
                # raises the error that belongs to the query itself
                log.debug("frame read row by row: %s", e, exc_info=not isinstance(e, Unsupported))
        return _read_rows(s, qs, typed)


def _read_columns(s: Any, qs: "QuerySet", typed: Sequence[tuple[str, Any, Any]], dialect: str) -> Any:
    """The raw frame from Arrow columns: SQLite's own JSON text of the rows, parsed by Arrow, on the session's
    connection (sqlite_frames.py); elsewhere an ADBC driver's (arrow_frames.py)."""
    if dialect == "sqlite":
        from .sqlite_frames import read_raw as read_sqlite

        return read_sqlite(s.connection(), qs, typed)
    from .arrow_frames import read_raw

    return read_raw(qs, typed)


def _read_rows(s: Any, qs: "QuerySet", typed: Sequence[tuple[str, Any, Any]]) -> tuple[Any, str]:
    import pandas as pd

    conn = s.connection()  # a Core result: its DBAPI cursor is reachable
    dialect = conn.dialect.name
    exprs = [_raw(expr, type_, dialect).label(n) for n, expr, type_ in typed]
    if dialect == "postgresql":
        # for this transaction only: ordering 20,000 whole rows to cut a slice overflows the default
        # 4 MB of work_mem and sorts on disk; and a generic plan (psycopg prepares a statement run 5
        # times) can't see that a prefix is selective and walks the primary key instead of the key index
        conn.exec_driver_sql(
            f"SELECT set_config('work_mem', '{SORT_MEMORY}', true), set_config('plan_cache_mode', 'force_custom_plan', true)"
        )
    result = conn.execute(qs.statement(*exprs))
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    all_names = [n for n, _, _ in typed]
    # from_records builds one object array in C and converts it per column: faster than a dict of lists
    df = pd.DataFrame.from_records(rows, columns=all_names) if rows else pd.DataFrame(columns=all_names)
    return df, dialect


def _split_features(include: Any) -> tuple[Any, bool]:
    """`include="features"` (alone or in a list) asks for a column per feature; the rest are field paths."""
    if include is None:
        return None, False
    paths = [include] if isinstance(include, str) else list(include)
    rest = [p for p in paths if p != "features"]
    return (rest or None), len(rest) < len(paths)


def _raw(expr: Any, type_: Any, dialect: str) -> Any:
    """The column as the cheapest DBAPI value: no SQLAlchemy processing; PostgreSQL datetimes as integer µs.

    psycopg turns a timestamp into a tz-aware datetime object and pandas then inspects every one of them
    (80 ms for 10,000 rows x 2 columns); an integer column converts in one vectorised step.
    """
    if dialect == "postgresql" and isinstance(type_, DateTime):
        expr = cast(func.round(func.extract("epoch", expr) * 1_000_000), BigInteger)
    return type_coerce(expr, NullType())


def _convert(df: Any, name: str, type_: Any, dialect: str) -> None:
    import pandas as pd

    if isinstance(type_, DateTime):
        s = df[name]
        if s.dtype.kind == "M":
            # the Arrow path hands over datetimes already (naive UTC): to_datetime would take 100 times longer
            df[name] = s.dt.tz_localize("UTC")
        elif dialect == "sqlite":
            df[name] = pd.to_datetime(s, utc=True, format="ISO8601")
        else:
            df[name] = pd.to_datetime(df[name], utc=True, unit="us")
    elif isinstance(type_, Boolean) and dialect == "sqlite":
        s = df[name]
        df[name] = s.astype(bool) if not s.isna().any() else s.map({1: True, 0: False})
    elif isinstance(type_, JSON) and dialect == "sqlite":
        df[name] = df[name].map(lambda v: json.loads(v) if isinstance(v, str) else v)


def _includes(model: type, include: Any) -> list[tuple[str, Any]]:
    """Related fields as scalar subqueries: `include=["run__transform__key", "storage__root"]`.

    Only paths through to-one relations (run, transform, storage, created_by, ...): a to-many relation has
    no single value per row.
    """
    if include is None:
        return []
    paths = [include] if isinstance(include, str) else list(include)
    out = []
    for path in paths:
        out.append((path, _scalar(model, path.split("__"), path)))
    return out


def related_value(model: type, path: str) -> Any:
    """The value of a to-one relation's field for each row (a correlated scalar subquery), e.g. for order_by()."""
    return _scalar(model, path.split("__"), path)


def _scalar(model: type, parts: list[str], path: str) -> Any:
    """A correlated scalar subquery following to-one relations, with an alias per hop (run -> run works)."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from .lookups import expand_alias, unknown_field

    where = []
    current: Any = model
    while True:
        cls = inspect(current).mapper.class_
        parts = expand_alias(cls, parts)
        mapper = inspect(cls)
        head, parts = parts[0], parts[1:]
        if head in mapper.column_attrs:
            if parts:
                raise FieldError(f"{cls.__name__}.{head} is a field, not a relation, in {path!r}")
            column = getattr(current, head)
            if current is model:
                return column
            return select(column).where(*where).limit(1).scalar_subquery()
        if head not in mapper.relationships:
            raise unknown_field(cls, head)
        rel = mapper.relationships[head]
        if rel.uselist or rel.direction.name != "MANYTOONE":
            raise FieldError(f"{path!r}: {cls.__name__}.{head} is a to-many relation; only to-one relations have one value per row")
        if not parts:
            raise FieldError(f"{path!r} names a relation: add one of its fields, e.g. {path}__uid")
        (local, remote), = rel.local_remote_pairs
        nxt = aliased(rel.mapper.class_)
        where.append(getattr(nxt, remote.key) == getattr(current, local.key))
        current = nxt
