"""QuerySet: a lazy, chainable query over one registry, as Django and LaminDB users know it.

Nothing touches the database until the set is evaluated (iteration, `len`, indexing, `first()`,
`count()`, `to_dataframe()`, ...). By default a query sees the live records of the main branch (and
of the current contribution branch); naming the branch in a lookup (`branch__name="trash"`,
`branch_id=-1`) or calling `all_branches()` reaches the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import inspect, select

from ..db import engine as db
from ..errors import DoesNotExist, FieldError, MultipleResultsFound
from . import fast_get
from . import lookups as L

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement, Select

UID_PREFIX_MIN = 4  # get("abcd") may name a record by the start of its uid
REPR_LIMIT = 20  # a query set's repr shows at most this many records, as Django's does
_COLUMN_ORDER: dict[tuple[type, str], Any] = {}  # (model, "-field") -> its ORDER BY element


class QuerySet:
    def __init__(
        self,
        model: type,
        where: tuple["ColumnElement[bool]", ...] = (),
        order: tuple[Any, ...] = (),
        limit: int | None = None,
        offset: int | None = None,
        branch_scope: bool = True,
        pending: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        self.model = model
        self._where = where
        # plain column lookups (`key="x"`, `uid__startswith="ab"`) whose conditions follow `_where`, not yet
        # built: building costs more than the query itself, and the fast path (fast_get.py) needs none
        self._pending = pending
        self._order = order
        self._limit = limit
        self._offset = offset
        self._branch_scope = branch_scope and hasattr(model, "branch_id") and model.__name__ != "Branch"
        self._cache: list[Any] | None = None

    def _clone(self, **changes: Any) -> "QuerySet":
        state = dict(
            where=self._where, order=self._order, limit=self._limit, offset=self._offset, branch_scope=self._branch_scope,
            pending=self._pending,
        )
        state.update(changes)
        return type(self)(self.model, **state)

    # ---- building ----

    def filter(self, *expressions: Any, **lookups: Any) -> "QuerySet":
        if self._limit is not None or self._offset is not None:
            raise TypeError("cannot filter a query set once it has been sliced")
        scope = self._branch_scope and not L.mentions_branch(lookups)
        if not expressions and all(fast_get.deferrable(self.model, k, v) for k, v in lookups.items()):
            return self._clone(pending=self._pending + tuple(lookups.items()), branch_scope=scope)
        where = self._built_where() + tuple(expressions) + tuple(L.conditions(self.model, lookups))
        return self._clone(where=where, pending=(), branch_scope=scope)

    def _built_where(self) -> tuple["ColumnElement[bool]", ...]:
        if not self._pending:
            return self._where
        return self._where + tuple(L.condition(self.model, k, v) for k, v in self._pending)

    def exclude(self, *expressions: Any, **lookups: Any) -> "QuerySet":
        """Drop the records that match all the given lookups (records where a compared field is NULL stay)."""
        if self._limit is not None or self._offset is not None:
            raise TypeError("cannot exclude from a query set once it has been sliced")
        conds = list(expressions) + L.conditions(self.model, lookups)
        if not conds:
            return self._clone()
        return self._clone(where=self._built_where() + (L.negate(conds),), pending=())

    def all_branches(self) -> "QuerySet":
        return self._clone(branch_scope=False)

    def order_by(self, *fields: str) -> "QuerySet":
        """Order by fields (`-field` descending, `run__started_at` through to-one relations); `order_by()` drops the order."""
        order = []
        for f in fields:
            if not isinstance(f, str):
                raise TypeError(f"order_by() takes field names, not {f!r}")
            cached = _COLUMN_ORDER.get((self.model, f))
            if cached is not None:  # first() orders by id on every call
                order.append(cached)
                continue
            name = f.lstrip("-")
            if "__" in name:  # a field of a to-one relation: order_by("run__started_at")
                from .frames import related_value

                col = related_value(self.model, name)
            elif name not in inspect(self.model).column_attrs:
                raise L.unknown_field(self.model, name)
            else:
                col = getattr(self.model, name)
            order.append(col.desc() if f.startswith("-") else col.asc())
            if "__" not in name:
                _COLUMN_ORDER[(self.model, f)] = order[-1]  # immutable, so shared by the query sets that use it
        return self._clone(order=tuple(order))

    def all(self) -> "QuerySet":
        return self

    def distinct(self) -> "QuerySet":
        return self  # EXISTS-based filters never duplicate rows

    def statement(self, *columns: Any) -> "Select[Any]":
        return self._statement(_visible_branch_ids() if self._branch_scope else None, *columns)

    def _statement(self, branches: list[int] | None, *columns: Any) -> "Select[Any]":
        stmt = select(*columns) if columns else select(self.model)
        where = list(self._built_where())
        if branches is not None:
            where.append(self.model.branch_id.in_(branches))
        if where:
            stmt = stmt.where(*where)
        sliced = self._limit is not None or self._offset is not None
        if self._order:
            stmt = stmt.order_by(*self._order)
            if sliced:
                stmt = stmt.order_by(self.model.id)  # ties broken: pages neither overlap nor skip rows
        elif sliced:
            stmt = stmt.order_by(self.model.id)  # slices must be deterministic
        if self._offset:
            stmt = stmt.offset(self._offset)
        if self._limit is not None:
            stmt = stmt.limit(self._limit)
        return stmt

    def id_subquery(self) -> "Select[Any]":
        # uncorrelated: `Run.filter(initiated_by_run__in=Run.filter(...))` names runs twice
        return self.statement(self.model.id).correlate(None)

    # ---- evaluating ----

    def _fetch(self) -> list[Any]:
        if self._cache is None and not self._where and self._limit in (1, 2) and self._offset is None:
            # get(), first(), last(), one(): a shape planned once, then plain DB-API execution
            self._cache = fast_get.fetch(self, _visible_branch_ids() if self._branch_scope else None)
        if self._cache is None:
            with db.read() as s:
                # other processes write too: a query returns what the database holds now, even for
                # records this session loaded before (the identity map would otherwise keep old values)
                stmt = self.statement().execution_options(populate_existing=True)
                self._cache = list(s.execute(stmt).unique().scalars())
        return self._cache

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return self.exists()

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if item.step not in (None, 1) or (item.start or 0) < 0 or (item.stop is not None and item.stop < 0):
                raise ValueError("query sets support slices [start:stop] with non-negative bounds")
            start = (self._offset or 0) + (item.start or 0)
            stop = None if item.stop is None else (self._offset or 0) + item.stop
            if self._limit is not None:
                end = (self._offset or 0) + self._limit
                stop = end if stop is None else min(stop, end)
            return self._clone(offset=start or None, limit=None if stop is None else max(stop - start, 0))
        if item < 0:
            return self._fetch()[item]
        result = self[item : item + 1]._fetch()
        if not result:
            raise IndexError(f"query set has no element {item}")
        return result[0]

    def __repr__(self) -> str:
        rows = self._cache if self._cache is not None else self[:REPR_LIMIT + 1]._fetch()
        shown = ", ".join(repr(r) for r in rows[:REPR_LIMIT])
        more = ", ..." if len(rows) > REPR_LIMIT else ""
        return f"<QuerySet {self.model.__name__} [{shown}{more}]>"

    def first(self) -> Any:
        qs = self if self._order else self.order_by("id")
        rows = qs[:1]._fetch()
        return rows[0] if rows else None

    def last(self) -> Any:
        reverse = _reversed(self._order) if self._order else (self.model.id.desc(),)
        if reverse is None or self._limit is not None or self._offset is not None:
            rows = list(self._fetch())  # an order that can't be flipped, or a slice: evaluate it
            return rows[-1] if rows else None
        rows = self._clone(order=reverse)[:1]._fetch()
        return rows[0] if rows else None

    def one(self) -> Any:
        rows = self[:2]._fetch() if self._limit is None else self._fetch()[:2]
        if not rows:
            raise DoesNotExist(f"no {self.model.__name__} matches this query")
        if len(rows) > 1:
            raise MultipleResultsFound(f"more than one {self.model.__name__} matches this query")
        return rows[0]

    def one_or_none(self) -> Any:
        try:
            return self.one()
        except DoesNotExist:
            return None

    def get(self, idlike: int | str | None = None, **lookups: Any) -> Any:
        qs = self
        if isinstance(idlike, int):
            qs = qs.filter(id=idlike)
        elif isinstance(idlike, str):
            uid_len = getattr(self.model, "_uid_length", 0)
            if len(idlike) == uid_len:
                qs = qs.filter(uid=idlike)
            elif len(idlike) >= UID_PREFIX_MIN:
                qs = qs.filter(uid__startswith=idlike).all_branches()  # an identity: found on any branch
                if hasattr(self.model, "is_latest"):  # a version stem names its latest version
                    qs = qs.order_by("-uid")
                    rows = qs[:2]._fetch()
                    if rows and (len(idlike) >= uid_len - 4 or len(rows) == 1):
                        return rows[0]
            else:
                raise ValueError(f"pass a full uid or at least {UID_PREFIX_MIN} of its characters, not {idlike!r}")
        if "key" in lookups and hasattr(self.model, "is_latest") and "is_latest" not in lookups:
            lookups = {**lookups, "is_latest": True}  # a key names its latest version
        if lookups:
            qs = qs.filter(**lookups)
        if idlike is None and not lookups:
            raise ValueError(f"{self.model.__name__}.get() needs a uid, an id, or field lookups")
        try:
            return qs.one()
        except DoesNotExist:
            named = ([repr(idlike)] if idlike is not None else []) + [f"{k}={v!r}" for k, v in lookups.items()]
            what = ", ".join(named)
            raise DoesNotExist(f"no {self.model.__name__} with {what}") from None
        except MultipleResultsFound:
            what = ", ".join(f"{k}={v!r}" for k, v in lookups.items()) or repr(idlike)
            raise MultipleResultsFound(
                f"several {self.model.__name__} records match {what}: use filter() or a more specific lookup"
            ) from None

    def count(self) -> int:
        from sqlalchemy import func

        if self._cache is not None:
            return len(self._cache)
        with db.read() as s:
            return s.execute(select(func.count()).select_from(self.statement(self.model.id).subquery())).scalar_one()

    def exists(self) -> bool:
        if self._cache is not None:
            return bool(self._cache)
        with db.read() as s:
            return s.execute(self._clone(limit=1).statement(self.model.id)).first() is not None

    def to_list(self, field: str | None = None) -> list[Any]:
        if field is None:
            return list(self._fetch())
        if field not in inspect(self.model).column_attrs:
            raise L._unknown(self.model, field)
        with db.read() as s:
            return list(s.execute(self.statement(getattr(self.model, field))).scalars())

    def to_dataframe(self, include: Any = None, **_: Any) -> Any:
        from .frames import to_dataframe

        return to_dataframe(self, include=include)

    df = to_dataframe

    def delete(self, permanent: bool | None = None) -> int:
        """Delete every record in the set (trash for artifacts, unless permanent)."""
        records = list(self._fetch())
        for record in records:
            record.delete(permanent=permanent) if permanent is not None else record.delete()
        self._cache = None
        return len(records)

    def search(self, string: str, **kwargs: Any) -> "QuerySet":
        from .search import search

        return search(self, string, **kwargs)

    def lookup(self, field: str | None = None) -> Any:
        from .search import lookup

        return lookup(self, field)


def _reversed(order: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The opposite of an order made by order_by() (None if it holds anything else, a search's rank say)."""
    from sqlalchemy.sql import operators
    from sqlalchemy.sql.elements import UnaryExpression

    out = []
    for o in order:
        if not isinstance(o, UnaryExpression) or o.modifier not in (operators.asc_op, operators.desc_op):
            return None
        out.append(o.element.desc() if o.modifier is operators.asc_op else o.element.asc())
    return tuple(out)


def _visible_branch_ids() -> list[int]:
    from ..setup.user import current_branch_id

    current = current_branch_id()
    return [1] if current == 1 else [1, current]


__all__ = ["QuerySet", "FieldError"]
