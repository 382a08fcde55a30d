"""Inserts that tolerate a row being there already: the base of every idempotent write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.orm import Session


def insert_ignore(s: "Session", table: "Table", rows: list[dict[str, Any]] | dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on both dialects; returns how many rows were new."""
    if not rows:
        return 0
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # RETURNING makes SQLAlchemy send all rows as one multi-row INSERT (one round trip, where a plain
    # executemany is several on psycopg), and counts exactly the rows that went in
    first_key = list(table.primary_key.columns)[0]
    stmt = insert(table).on_conflict_do_nothing().returning(first_key)
    return len(s.execute(stmt, rows if isinstance(rows, list) else [rows]).all())


def is_unique_violation(error: BaseException) -> bool:
    """True when a concurrent writer won a race to a unique row: retrying the unit of work will find it."""
    orig = getattr(error, "orig", error)
    if type(orig).__name__ == "UniqueViolation":  # psycopg
        return True
    return "UNIQUE constraint failed" in str(orig)  # sqlite3


def is_retryable(error: BaseException) -> bool:
    """A unique race, a deadlock or a serialization failure: the whole unit of work may simply run again."""
    orig = getattr(error, "orig", error)
    return is_unique_violation(error) or type(orig).__name__ in ("DeadlockDetected", "SerializationFailure")


def lock_names(s: "Session", names: "Iterable[str]") -> None:
    """Serialize writers that touch the same named things (a key, a content hash, a run id) until commit.

    PostgreSQL: transaction-scoped advisory locks, always taken in sorted order so that two writers can
    never wait on each other in a cycle. SQLite needs nothing: its write transactions are serial anyway.
    """
    if s.get_bind().dialect.name != "postgresql":
        return  # without touching the connection: SQLite's write lock is taken at the first statement, as before
    from .dbapi import rows_of

    rows_of(s).lock(names)
