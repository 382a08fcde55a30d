"""Point lookups for a whole batch in one statement: `SELECT ... WHERE <unique key> UNION ALL ...`.

Why one SELECT per key instead of `key IN (...)`: each branch is an equality on a unique index, which
every planner answers with that index. With `IN` lists or OR-ed pairs, PostgreSQL on fresh (not yet
analysed) tables factored out a shared column and scanned, or picked the trigram search index, and the
recorder slowed down as the tables grew.

Why SQL text: a Core union of N selects is built, fingerprinted and (by psycopg) re-parsed at every
execution, about 0.1 ms per branch. The text is made once per (query, N, dialect), on plain rows
(`db.dbapi`), so the recording path and saves use it with or without SQLAlchemy. Values are always bound
parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .dbapi import Rows

MAX_BRANCHES = 100  # per statement: keeps parameter counts far below SQLite's limit

Lookup = tuple[str, Sequence[dict[str, Any]]]  # a WHERE template and the keys to look up with it


def union_rows(rows: "Rows", name: str, select_sql: str, lookups: Sequence[Lookup]) -> list[tuple]:
    """Rows of `select_sql WHERE <template>` for every key of every lookup, in as few statements as fit, on
    plain rows (`db.dbapi`: in the ORM's transaction or without SQLAlchemy alike).

    A template names its parameters `:name`; each branch gets them suffixed with its own number. `name`
    identifies the query in the statement cache. Values come back as the driver returns them (on SQLite:
    JSON and datetimes as text, booleans as 0/1): the caller converts the columns it reads."""
    branches = [(where, key) for where, keys in lookups for key in keys]
    out: list[tuple] = []
    for start in range(0, len(branches), MAX_BRANCHES):
        chunk = branches[start : start + MAX_BRANCHES]
        shape = tuple((where, tuple(key)) for where, key in chunk)
        cache_key = (name, shape, rows.dialect)
        sql = _texts.get(cache_key)
        if sql is None:
            if len(_texts) > 1000:
                _texts.clear()
            sql = _texts.setdefault(cache_key, _union_sql(select_sql, shape))
        out.extend(rows.all(sql, {f"{k}_{i}": v for i, (_, key) in enumerate(chunk) for k, v in key.items()}))
    return out


_texts: dict[tuple[str, tuple, str], str] = {}


def _union_sql(select_sql: str, shape: tuple) -> str:
    """`select_sql WHERE <template>` per branch, each template's parameters suffixed with the branch's number."""
    import re

    def branch(i: int, where: str, names: tuple[str, ...]) -> str:
        where = re.sub(r":(\w+)", lambda m: f":{m.group(1)}_{i}" if m.group(1) in names else m.group(0), where)
        return f"{select_sql} WHERE {where}"

    return " UNION ALL ".join(branch(i, where, names) for i, (where, names) in enumerate(shape))
