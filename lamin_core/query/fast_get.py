"""The queries that name a record or two (`get()`, `first()`, `last()`, `one()`) without the ORM's per-call work.

Why: through the ORM such a query costs ~0.3 ms warm and almost none of it is the database's. Each call
builds the lookups' expressions and their cache key, runs through Session and Connection (a session
transaction that `db.read()` then commits: on PostgreSQL BEGIN, SELECT and COMMIT) and rebuilds the ORM's
row loaders. Yet the SQL of a query *shape* (registry, lookup names and kinds, branch scope, order,
limit) never changes. So, once per shape, the plan is taken from the general path itself: the query
set's own `statement()`, compiled by SQLAlchemy for the engine's dialect; the values the lookups bound
are located in it and checked against what `lookups.condition` made of them. Each call then binds the
new values, runs the SQL on a pooled DB-API connection (autocommit on PostgreSQL: one round trip) and
loads the rows as SQLAlchemy's populate-existing load does (`fast_load.py`).

Everything else goes the general way (`fetch()` returns None): other lookups or expressions, a write
transaction, unflushed changes in the session (a read commits, hence flushes, them), listeners on the
events the general path fires, mappers `fast_load` does not cover, and a DB-API error (the general path
then raises it as SQLAlchemy does). `tests/test_fast_get.py` holds the two paths to the same SQL,
parameters, objects and session state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import JSON, inspect
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ..db import engine as db
from . import fast_load
from . import lookups as L

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect, Engine
    from sqlalchemy.orm import Session

    from .queryset import QuerySet

MAX_PLANS = 512  # shapes are few in any program; a bound keeps a generator of shapes from growing memory
_SCALARS = (str, int, float)
_UNPLANNABLE = "unplannable"  # a shape the general path must run: remembered, so it is judged once
_plans: dict[tuple[Any, ...], Any] = {}
_columns: dict[type, dict[str, bool]] = {}  # plain, non-JSON columns -> whether `>=`/`<` order them by code point
db.CONFIGURE_HOOKS.append(_plans.clear)  # plans belong to one engine's dialect


def deferrable(model: type, path: str, value: Any) -> bool:
    """Whether `filter(path=value)` is a plain comparison with a column: its SQL can wait (it cannot fail)."""
    name, sep, op = path.partition("__")
    if sep and op != "startswith":
        return False
    if name in L.ALIASES.get(model.__name__, ()) or name in getattr(model, "_query_aliases", ()):
        return False
    cols = _columns.get(model)
    if cols is None:
        mapper = inspect(model)
        cols = _columns[model] = {
            p.key: L._binary_ordered(p.columns[0]) for p in mapper.column_attrs
            if len(p.columns) == 1 and p.columns[0].table is mapper.local_table and not isinstance(p.columns[0].type, JSON)
        }
    if name not in cols:
        return False
    if sep:
        return type(value) is str and value != ""
    return value is None or type(value) in (str, int, float, bool)


def _kind(model: type, path: str, value: Any) -> tuple[Any, ...]:
    """What of a lookup's value shapes the SQL: a literal (True, None) is part of it, a bound value is not."""
    if "__" not in path:
        return ("bind", type(value)) if type(value) in _SCALARS else ("literal", value)
    return ("startswith", _columns[model][path.partition("__")[0]] and L._successor(value) is not None)


def _bound(kind: tuple[Any, ...], value: Any) -> list[Any]:
    """The values `lookups.condition` binds for a lookup, in the order it binds them."""
    if kind[0] == "bind":
        return [value]
    if kind[0] == "startswith":  # col >= v AND col < successor(v) AND col GLOB/LIKE pattern(v)
        return [value, L._successor(value), value] if kind[1] else [value]
    return []


def _order(qs: "QuerySet") -> tuple[tuple[str, bool], ...] | None:
    table = qs.model.__table__
    out = []
    for o in qs._order:
        if type(o) is not UnaryExpression or o.modifier not in (operators.asc_op, operators.desc_op):
            return None
        if getattr(o.element, "table", None) is not table:
            return None
        out.append((o.element.key, o.modifier is operators.desc_op))
    return tuple(out)


class _Plan:
    def __init__(self, dialect: "Dialect", sql: str, slots: list[tuple[int, int, Any, Any]], names: list[str] | None,
                 result_types: list[Any], main: fast_load.Entity, managers: list[Any]) -> None:
        self.dialect = dialect
        self.sql = sql
        self.slots = slots  # per parameter: (lookup, position in its bound values, processor, constant)
        self.names = names  # None: positional parameters
        self.result_types = result_types
        self.result_procs: list[tuple[int, Callable[[Any], Any]]] | None = None  # from the first cursor description
        self.main = main
        self.managers = managers
        # a relationship added to a mapper later (bionty's, the annotations') renews its property set
        self.prop_sets = [(m, m._prop_set) for m in [main.mapper] + [sub.mapper for _, sub in main.relations if sub]]
        self.autocommit = dialect.name == "postgresql"
        from sqlalchemy.orm.loading import _new_runid

        self.new_runid = _new_runid  # the ORM's own counter: a load here and one there never share an id

    def current(self) -> bool:
        return all(m._prop_set is props and not m.registry._new_mappers for m, props in self.prop_sets)

    def parameters(self, bound: list[list[Any]]) -> Any:
        values = [
            const if i < 0 else (proc(bound[i][j]) if proc is not None else bound[i][j]) for i, j, proc, const in self.slots
        ]
        if self.names is None:
            return self.dialect.execute_sequence_format(values)
        return dict(zip(self.names, values))

    def processors(self, description: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        procs = [(i, t._cached_result_processor(self.dialect, description[i][1])) for i, t in enumerate(self.result_types)]
        self.result_procs = [(i, p) for i, p in procs if p is not None]
        return self.result_procs


def _build(qs: "QuerySet", kinds: list[tuple[Any, ...]], branches: list[int] | None, dialect: "Dialect") -> _Plan | None:
    """The plan of this query set's shape, made from its general-path statement; None if it has none."""
    from sqlalchemy.orm import configure_mappers
    from sqlalchemy.sql import visitors
    from sqlalchemy.sql.elements import BindParameter

    configure_mappers()  # relationships still to be set up (backrefs) are part of what a load resets
    model = qs.model
    mapper = inspect(model)
    conds, sources = [], {}
    for i, ((path, value), kind) in enumerate(zip(qs._pending, kinds)):
        cond = L.condition(model, path, value)
        binds = [e for e in visitors.iterate(cond) if isinstance(e, BindParameter)]
        expected = _bound(kind, value)
        if len(binds) != len(expected):
            return None
        for j, (b, v) in enumerate(zip(binds, expected)):
            if b.expanding or b.literal_execute or type(b.value) is not type(v) or b.value != v:
                return None
            sources[id(b)] = (i, j)
        conds.append(cond)
    stmt = qs._clone(where=tuple(conds), pending=())._statement(branches).execution_options(populate_existing=True)
    compiled = stmt.compile(dialect=dialect)
    lookup_names = {name: sources[id(b)] for b, name in compiled.bind_names.items() if id(b) in sources}
    if len(lookup_names) != len(sources) or any(compiled.bind_names.get(b) in lookup_names for b in compiled.post_compile_params):
        return None
    # what DefaultExecutionContext._init_compiled does with a compiled statement's parameters
    params = compiled.construct_params(escape_names=False)
    processors = dict(compiled._bind_processors)
    positions = compiled.positiontup if compiled.positional else None
    sql = compiled.string
    if compiled.literal_execute_params or compiled.post_compile_params:
        expanded = compiled._process_parameters_for_postcompile(params)
        sql, positions = expanded.statement, expanded.positiontup
        processors.update(expanded.processors)
    order = positions if compiled.positional else list(params)
    slots = []
    for name in order:
        proc = processors.get(name)
        if name in lookup_names:
            slots.append((*lookup_names[name], proc, None))
        else:
            slots.append((-1, -1, None, proc(params[name]) if proc is not None else params[name]))
    names = None if compiled.positional else [compiled.escaped_bind_names.get(n, n) for n in order]
    main = fast_load.entities(mapper, compiled._result_columns)
    if main is None:
        return None
    managers = [mapper.class_manager] + [sub.manager for _, sub in main.relations if sub is not None]
    return _Plan(dialect, sql, slots, names, [rc[3] for rc in compiled._result_columns], main, managers)


def _quiet(s: "Session", eng: "Engine", plan: _Plan) -> bool:
    """No listener on an event that the general path fires and this one does not."""
    sd = s.dispatch
    if (
        sd.after_transaction_create or sd.after_begin or sd.before_commit or sd.after_commit or sd.after_transaction_end
        or sd.loaded_as_persistent or list(sd.do_orm_execute) != [db._before_orm_statement]
    ):
        return False
    ed = eng.dispatch
    if (
        ed.before_execute or ed.after_execute or ed.before_cursor_execute or ed.after_cursor_execute or ed.engine_connect or ed.commit or ed.rollback
        or any(getattr(fn, "__module__", None) != db.__name__ for fn in ed.begin)  # engine.py's own: SQLite writes only
    ):
        return False
    dd = plan.dialect.dispatch
    if dd.do_execute or dd.do_setinputsizes:
        return False
    return not any(m.dispatch.load or m.dispatch.refresh for m in plan.managers)


def _plan(qs: "QuerySet", branches: list[int] | None, dialect: "Dialect") -> tuple[_Plan | None, list[tuple[Any, ...]]]:
    kinds = [_kind(qs.model, path, value) for path, value in qs._pending]
    order = _order(qs)
    if order is None:
        return None, kinds
    key = (qs.model, tuple(zip((p for p, _ in qs._pending), kinds)), None if branches is None else tuple(branches),
           order, qs._limit, dialect)
    plan = _plans.get(key)
    if plan is None or (plan is not _UNPLANNABLE and not plan.current()):
        if len(_plans) >= MAX_PLANS:
            _plans.clear()
        plan = _plans[key] = _build(qs, kinds, branches, dialect) or _UNPLANNABLE
    return (None if plan is _UNPLANNABLE else plan), kinds


def explain(qs: "QuerySet", branches: list[int] | None) -> tuple[str, Any] | None:
    """The SQL and parameters the fast path sends for a query set (None: the general path runs it); for tests."""
    plan, kinds = _plan(qs, branches, db.engine().dialect)
    if plan is None:
        return None
    return plan.sql, plan.parameters([_bound(k, v) for k, (_, v) in zip(kinds, qs._pending)])


def fetch(qs: "QuerySet", branches: list[int] | None) -> list[Any] | None:
    """The records of a small sliced query set (limit 1 or 2), or None: then the general path runs it."""
    if db.in_write():
        return None  # inside a write transaction the general path reads on its connection
    db._land_pending_outside_writes()  # what db.read() does first: writes on their way land
    s = db.session()
    if s.in_transaction():
        s.commit()  # as db.read(): a transaction left open by a lazy load must not hold an old snapshot
    if s.autoflush or not s._is_clean():
        return None  # the general path's read commits, so flushes, these changes
    eng = s.bind
    if eng is None:
        return None
    plan, kinds = _plan(qs, branches, eng.dialect)
    if plan is None or not _quiet(s, eng, plan):
        return None
    try:
        params = plan.parameters([_bound(k, v) for k, (_, v) in zip(kinds, qs._pending)])
    except Exception:  # a value its column's type refuses: the general path raises that as SQLAlchemy does
        return None
    fetched = _execute(eng, plan, params)
    if fetched is None:
        return None
    if not fetched[0]:
        return []
    procs = plan.result_procs if plan.result_procs is not None else plan.processors(fetched[1])
    rows = []
    try:
        for raw in fetched[0]:
            row = list(raw)
            for i, proc in procs:
                row[i] = proc(row[i])
            rows.append(row)
    except Exception:  # a value that does not convert: the general path reports it its way
        return None
    runid = plan.new_runid()
    return [fast_load.load(plan.main, row, s, runid) for row in rows]


def _execute(eng: "Engine", plan: _Plan, params: Any) -> tuple[list[Any], Any] | None:
    dbapi_error = eng.dialect.loaded_dbapi.Error
    fairy = eng.raw_connection()
    try:
        conn = fairy.dbapi_connection
        if plan.autocommit:
            conn.autocommit = True  # one statement, one round trip: no BEGIN, no COMMIT
        try:
            cur = conn.cursor()
            try:
                cur.execute(plan.sql, params)
                rows = cur.fetchall()
                # psycopg builds the description anew on each access: only the first rows need it
                description = cur.description if plan.result_procs is None else None
            finally:
                cur.close()
        finally:
            if plan.autocommit:
                conn.autocommit = False
    except dbapi_error:
        fairy.invalidate()  # the general path takes a new connection and reports the error its way
        return None
    finally:
        fairy.close()
    return rows, description
