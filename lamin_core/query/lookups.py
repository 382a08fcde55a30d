"""Django's field lookups (`run__transform__key__startswith="x"`) translated to SQLAlchemy expressions.

Relations are followed with EXISTS subqueries (`relationship.has()` / `.any()`), never joins, so a
filter through a to-many relation cannot duplicate rows. Values are always bound parameters.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import and_, false, func, inspect, not_, or_, select
from sqlalchemy.orm import RelationshipProperty

from ..errors import FieldError

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement

LIKE_ESCAPE = "\\"

# names that read like fields but are relations elsewhere: Artifact.transform is its run's transform
ALIASES: dict[str, dict[str, str]] = {
    "Artifact": {"transform": "run__transform", "input_of": "input_of_runs"},
    "Run": {"inputs": "input_artifacts", "outputs": "output_artifacts"},
}


def _escape(value: str) -> str:
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def _startswith(col: Any, v: str) -> "ColumnElement[bool]":
    # LIKE for correctness plus a range that a b-tree index can serve on both SQLite and PostgreSQL
    cond = col.like(_escape(v) + "%", escape=LIKE_ESCAPE)
    if v and ord(v[-1]) < 0x10FFFF:
        cond = and_(col >= v, col < v[:-1] + chr(ord(v[-1]) + 1), cond)
    return cond


def _like(col: Any, pattern: str, case: bool) -> "ColumnElement[bool]":
    if case:
        return col.like(pattern, escape=LIKE_ESCAPE)
    return func.lower(col).like(func.lower(pattern), escape=LIKE_ESCAPE)


def _range(col: Any, v: Any) -> "ColumnElement[bool]":
    lo, hi = v
    return col.between(lo, hi)


def _in(col: Any, v: Any) -> "ColumnElement[bool]":
    from sqlalchemy.sql import Select

    if isinstance(v, Select):  # a query set's ids: stays one SQL statement
        return col.in_(v)
    values = [getattr(x, "id", x) for x in v]
    return col.in_(values) if values else false()


OPERATORS: dict[str, Callable[[Any, Any], "ColumnElement[bool]"]] = {
    "exact": lambda c, v: c.is_(None) if v is None else c == v,
    "iexact": lambda c, v: func.lower(c) == func.lower(v),
    "contains": lambda c, v: _like(c, f"%{_escape(v)}%", True),
    "icontains": lambda c, v: _like(c, f"%{_escape(v)}%", False),
    "startswith": _startswith,
    "istartswith": lambda c, v: _like(c, f"{_escape(v)}%", False),
    "endswith": lambda c, v: _like(c, f"%{_escape(v)}", True),
    "iendswith": lambda c, v: _like(c, f"%{_escape(v)}", False),
    "in": _in,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "isnull": lambda c, v: c.is_(None) if v else c.is_not(None),
    "range": _range,
}


def field_names(model: type) -> list[str]:
    mapper = inspect(model)
    names = [c.key for c in mapper.column_attrs] + [r.key for r in mapper.relationships]
    return sorted(set(names) | set(ALIASES.get(model.__name__, {})))


def _unknown(model: type, name: str, what: str = "field") -> FieldError:
    valid = field_names(model)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return FieldError(f"{model.__name__} has no {what} {name!r}.{hint} Valid fields: {', '.join(valid)}")


def _record_id(value: Any) -> Any:
    """A record compares by id; a query set or list of records becomes a list/subquery of ids."""
    from .queryset import QuerySet

    if isinstance(value, QuerySet):
        return value.id_subquery()
    if isinstance(value, (list, tuple, set)):
        return [getattr(v, "id", v) for v in value]
    return getattr(value, "id", value)


def condition(model: type, path: str, value: Any) -> "ColumnElement[bool]":
    """The SQL condition for one `field__relation__field__lookup=value` keyword."""
    parts = path.split("__")
    alias = ALIASES.get(model.__name__, {}).get(parts[0])
    if alias is not None:
        parts = alias.split("__") + parts[1:]
    mapper = inspect(model)
    head, rest = parts[0], parts[1:]
    if head in mapper.relationships:
        rel: RelationshipProperty[Any] = mapper.relationships[head]
        target = rel.mapper.class_
        attr = getattr(model, head)
        if not rest or rest[0] in OPERATORS:
            # compare the related record itself: by id
            lookup = rest[0] if rest else "exact"
            if len(rest) > 1:
                raise FieldError(f"{path!r}: nothing may follow the lookup {lookup!r}")
            inner = OPERATORS[lookup](inspect(target).primary_key[0], _record_id(value))
            if rel.uselist:
                return attr.any(inner)
            if lookup == "exact" and value is None:
                return attr.is_(None) if rel.direction.name == "MANYTOONE" else not_(attr.has())
            return attr.has(inner)
        inner = condition(target, "__".join(rest), value)
        return attr.any(inner) if rel.uselist else attr.has(inner)
    if head not in mapper.column_attrs:
        raise _unknown(model, head)
    column = getattr(model, head)
    if not rest:
        lookup = "exact"
    elif len(rest) == 1 and rest[0] in OPERATORS:
        lookup = rest[0]
    else:
        bad = rest[0]
        close = difflib.get_close_matches(bad, OPERATORS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise FieldError(
            f"{model.__name__}.{head} is a field, not a relation: unknown lookup {bad!r} in {path!r}.{hint}"
            f" Lookups: {', '.join(OPERATORS)}"
        )
    if head.endswith("_id") or head == "id":
        value = _record_id(value)
    return OPERATORS[lookup](column, value)


def conditions(model: type, lookups: dict[str, Any]) -> list["ColumnElement[bool]"]:
    return [condition(model, k, v) for k, v in lookups.items()]


def mentions_branch(lookups: dict[str, Any]) -> bool:
    return any(k == "branch" or k.startswith(("branch__", "branch_id")) for k in lookups)


def any_of(exprs: list["ColumnElement[bool]"]) -> "ColumnElement[bool]":
    return or_(*exprs)


def ids_of(model: type, where: list["ColumnElement[bool]"]) -> Any:
    return select(inspect(model).primary_key[0]).where(*where)
