"""Inserts that tolerate a row being there already: the base of every idempotent write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    result = s.execute(insert(table).on_conflict_do_nothing(), rows if isinstance(rows, list) else [rows])
    return max(result.rowcount or 0, 0)


def is_unique_violation(error: BaseException) -> bool:
    """True when a concurrent writer won a race to a unique row: retrying the unit of work will find it."""
    orig = getattr(error, "orig", error)
    if type(orig).__name__ == "UniqueViolation":  # psycopg
        return True
    return "UNIQUE constraint failed" in str(orig)  # sqlite3
