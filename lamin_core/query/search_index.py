"""The indexes behind `Registry.search()`, and the candidate queries that use them.

SQLite: an FTS5 table per large registry with the `trigram` tokenizer (`artifacts_fts`), an external-content
index of the name-like columns kept in sync by triggers. A quoted phrase matches any substring of three
or more characters, ignoring case; single trigrams give typo-tolerant candidates.
PostgreSQL: GIN indexes with `gin_trgm_ops` (pg_trgm) on the same columns: they serve `ILIKE '%term%'`
and the word-similarity operator `<%`. pg_trgm may live in another schema (tests put it in `public`,
instances put their tables in their own schema with `search_path=<schema>,public`): it is found through
the search path. Without pg_trgm, search still works, by scanning.

Every candidate query is bounded (`LIMIT`), so a term that matches every row costs as much as a rare one;
`search.py` ranks the candidates.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, column, func, literal_column, or_, select, table, text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import Select

# table -> the columns search() looks at; smaller registries (users, storages, branches) are scanned
INDEXED: dict[str, tuple[str, ...]] = {
    "artifacts": ("key", "description"),
    "transforms": ("key", "description"),
    "collections": ("key", "description"),
    "runs": ("name",),
}
FUZZY_TRIGRAM_CAP = 5_000  # a trigram in more rows than this is too common to find typo candidates with
FUZZY_THRESHOLD = 0.4  # pg_trgm word similarity below this is not a candidate
FUZZY_POOL = 1_000  # PostgreSQL: similar rows whose similarity is computed and compared
SCAN_CAP = 5_000  # registries without an index: rank at most this many of the newest rows

_available: dict[tuple[str, str], bool] = {}


# ---- DDL: called by create_schema() and by migration 0002 ----


def create_search_indexes(conn: "Connection") -> None:
    """Create the search indexes (idempotent); on SQLite, also fill them from existing rows."""
    if conn.dialect.name == "sqlite":
        for t, cols in INDEXED.items():
            for stmt in sqlite_ddl(t, cols):
                conn.exec_driver_sql(stmt)
            conn.exec_driver_sql(f"INSERT INTO {t}_fts({t}_fts) VALUES('rebuild')")
    elif conn.dialect.name == "postgresql":
        if not _pg_trgm_visible(conn):
            try:
                with conn.begin_nested():  # a non-superuser may lack the right: search then scans
                    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception:
                return
            if not _pg_trgm_visible(conn):
                return
        for t, cols in INDEXED.items():
            for c in cols:
                conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{t}_{c}_trgm ON {t} USING gin ({c} gin_trgm_ops)")
    _available.clear()


def drop_search_indexes(conn: "Connection") -> None:
    if conn.dialect.name == "sqlite":
        for t in INDEXED:
            for suffix in ("ai", "ad", "au"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {t}_fts_{suffix}")
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}_fts")
    elif conn.dialect.name == "postgresql":
        for t, cols in INDEXED.items():
            for c in cols:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{t}_{c}_trgm")
    _available.clear()


def sqlite_ddl(t: str, cols: tuple[str, ...]) -> list[str]:
    names = ", ".join(cols)
    new = ", ".join(f"new.{c}" for c in cols)
    old = ", ".join(f"old.{c}" for c in cols)
    delete = f"INSERT INTO {t}_fts({t}_fts, rowid, {names}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {t}_fts(rowid, {names}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_fts USING fts5({names}, content='{t}', content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {t}_fts_ai AFTER INSERT ON {t} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {t}_fts_ad AFTER DELETE ON {t} BEGIN {delete} END",
        # only a change of a searched column touches the index: moving to the trash does not
        f"CREATE TRIGGER IF NOT EXISTS {t}_fts_au AFTER UPDATE OF {names} ON {t} BEGIN {delete} {insert} END",
    ]


def _pg_trgm_visible(conn: Any) -> bool:
    sql = "SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops' AND pg_opclass_is_visible(oid)"
    return conn.exec_driver_sql(sql).first() is not None


def has_index(s: "Session", tablename: str) -> bool:
    """Whether this instance has the search index of `tablename` (cached per database)."""
    bind = s.get_bind()
    key = (str(bind.url), tablename)
    if key not in _available:
        if tablename not in INDEXED:
            _available[key] = False
        elif bind.dialect.name == "sqlite":
            found = s.execute(text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": f"{tablename}_fts"}).first()
            _available[key] = found is not None
        else:
            ok = _pg_trgm_visible(s.connection())
            found = s.execute(text("SELECT to_regclass(:n)"), {"n": f"ix_{tablename}_{INDEXED[tablename][0]}_trgm"}).scalar()
            _available[key] = ok and found is not None
    return _available[key]


# ---- candidate queries ----


def fts_phrase(term: str) -> str:
    """An FTS5 string literal: matches `term` as a substring; no FTS5 syntax survives quoting."""
    return '"' + term.replace('"', '""') + '"'


def trigrams(term: str) -> list[str]:
    """The distinct trigrams that FTS5's trigram tokenizer makes of `term` (it folds case)."""
    low = term.lower()
    seen: dict[str, None] = {}
    for i in range(len(low) - 2):
        seen.setdefault(low[i : i + 3], None)
    return list(seen)


def substring_rows(s: "Session", base: "Select[Any]", model: type, fields: list[str], term: str, cap: int) -> list[Any]:
    """Rows where a field contains `term` (any case), newest first, at most `cap`."""
    t = model.__tablename__
    cols = [getattr(model, f) for f in fields]
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite" and len(term) >= 3 and has_index(s, t) and set(fields) <= set(INDEXED[t]):
        fts = table(f"{t}_fts", column("rowid"))
        match = literal_column(f"{t}_fts").op("MATCH")(bindparam("fts_query", _column_filter(t, fields) + fts_phrase(term)))
        # FTS5 hands out matching rowids newest first and stops at the LIMIT: a common term costs little
        stmt = base.join(fts, fts.c.rowid == model.id).where(match).order_by(fts.c.rowid.desc()).limit(cap)
        return list(s.execute(stmt))
    from .lookups import like_escape

    pattern = f"%{like_escape(term)}%"
    if dialect == "postgresql":
        # a generic plan cannot tell a term in every row (walk the primary key) from a rare one (the index)
        s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    stmt = base.where(or_(*[c.ilike(pattern, escape="\\") for c in cols])).order_by(model.id.desc()).limit(cap)
    return list(s.execute(stmt))


def fuzzy_rows(s: "Session", base: "Select[Any]", model: type, fields: list[str], term: str, cap: int) -> list[Any]:
    """Rows that share many trigrams with `term` (typo-tolerant candidates), at most `cap`."""
    t = model.__tablename__
    dialect = s.get_bind().dialect.name
    indexed = has_index(s, t) and set(fields) <= set(INDEXED.get(t, ()))
    if dialect == "postgresql" and indexed:
        s.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = {FUZZY_THRESHOLD}"))
        s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        q = bindparam("fuzzy_term", term)
        cols = [getattr(model, f) for f in fields]
        near = or_(*[q.op("<%")(c) for c in cols])
        # the newest FUZZY_POOL similar rows (a walk down the primary key when the term's trigrams are in
        # every row, the GIN index when they are rare), then the most similar of those
        pool = base.add_columns(*[func.word_similarity(q, c).label(f"_sim{i}") for i, c in enumerate(cols)])
        pool = pool.where(near).order_by(model.id.desc()).limit(max(FUZZY_POOL, cap)).subquery()
        sims = [func.coalesce(pool.c[f"_sim{i}"], 0) for i in range(len(cols))]
        best = func.greatest(*sims) if len(sims) > 1 else sims[0]
        names = [c.name for c in pool.c if not c.name.startswith("_sim")]
        stmt = select(*[pool.c[n] for n in names]).order_by(best.desc(), pool.c[names[0]].desc()).limit(cap)
        return list(s.execute(stmt))
    if dialect == "sqlite" and indexed and len(term) >= 3:
        ids = _sqlite_trigram_candidates(s, t, fields, term, cap)
        if not ids:
            return []
        return list(s.execute(base.where(model.id.in_(ids))))
    # no index: rank the newest rows in Python
    return list(s.execute(base.order_by(model.id.desc()).limit(SCAN_CAP)))


def _column_filter(t: str, fields: list[str]) -> str:
    if list(fields) == list(INDEXED[t]):
        return ""
    return "{" + " ".join(fields) + "} : "


def _sqlite_trigram_candidates(s: "Session", t: str, fields: list[str], term: str, cap: int) -> list[int]:
    """Rowids sharing the most rare trigrams with `term`.

    A trigram found in more than FUZZY_TRIGRAM_CAP rows says little about a typo and would make the query
    slow, so each trigram's rows are read with a LIMIT; the rare ones vote. If all are common, the rows
    that contain all of them (newest first) are the candidates.
    """
    prefix = _column_filter(t, fields)
    grams = trigrams(term)
    votes: Counter[int] = Counter()
    common: list[str] = []
    sql = text(f"SELECT rowid FROM {t}_fts WHERE {t}_fts MATCH :m LIMIT :n")
    for g in grams:
        rowids = s.execute(sql, {"m": prefix + fts_phrase(g), "n": FUZZY_TRIGRAM_CAP + 1}).scalars().all()
        if len(rowids) > FUZZY_TRIGRAM_CAP:
            common.append(g)
        else:
            votes.update(rowids)
    if votes:
        need = max(1, int(len(grams) * FUZZY_THRESHOLD / 2))  # share a fair part of the term's trigrams
        return [rowid for rowid, n in votes.most_common(cap) if n >= need]
    if not common:
        return []
    query = prefix + "(" + " AND ".join(fts_phrase(g) for g in common) + ")"
    sql = text(f"SELECT rowid FROM {t}_fts WHERE {t}_fts MATCH :m ORDER BY rowid DESC LIMIT :n")
    return list(s.execute(sql, {"m": query, "n": cap}).scalars())

