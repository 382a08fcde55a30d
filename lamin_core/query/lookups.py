"""Django's field lookups (`run__transform__key__startswith="x"`) translated to SQLAlchemy expressions.

Relations are followed with uncorrelated `IN (SELECT ...)` subqueries, never joins: a filter through a
to-many relation cannot duplicate rows, and both SQLite and PostgreSQL run `fk IN (SELECT id ...)` as an
index-driven semi-join (SQLite runs a correlated EXISTS once per outer row). Values are always bound
parameters.

Case: `contains`, `startswith` and `endswith` are case-sensitive on both backends. SQLite's LIKE ignores
ASCII case, so there they compile to GLOB (see `_CaseSensitiveMatch`); the `i...` lookups use LIKE on
SQLite (case-insensitive for ASCII, like `lower()` there) and ILIKE on PostgreSQL.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import JSON, Boolean, String, and_, cast, false, func, inspect, not_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from ..errors import FieldError

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement

LIKE_ESCAPE = "\\"

# names that read like fields but are relations elsewhere: Artifact.transform is its run's transform
ALIASES: dict[str, dict[str, str]] = {
    "Artifact": {"transform": "run__transform", "input_of": "input_of_runs"},
    "Run": {"inputs": "input_artifacts", "outputs": "output_artifacts"},
}


def aliases_of(model: type) -> dict[str, str]:
    """The model's path aliases: the fixed ones above and those its annotations declare (`ulabels`)."""
    return {**ALIASES.get(model.__name__, {}), **getattr(model, "_query_aliases", {})}


def like_escape(value: str) -> str:
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def glob_escape(value: str) -> str:
    # GLOB has no ESCAPE clause: a special character stands for itself inside a bracket expression
    return "".join(f"[{c}]" if c in "*?[" else c for c in value)


_escape = like_escape  # older name, used by callers outside this module


class _Pattern(TypeDecorator[str]):
    """A bound search string that becomes a GLOB pattern on SQLite and a LIKE pattern elsewhere.

    The dialect is only known when the statement runs, so the wildcards are added in the bind processor.
    """

    impl = String
    cache_ok = True

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            esc, wild = glob_escape(value), "*"
        else:
            esc, wild = like_escape(value), "%"
        return {"contains": f"{wild}{esc}{wild}", "startswith": f"{esc}{wild}", "endswith": f"{wild}{esc}"}[self.kind]


class _CaseSensitiveMatch(FunctionElement[bool]):
    """`col GLOB pattern` on SQLite, `col LIKE pattern ESCAPE '\\'` elsewhere: both case-sensitive."""

    type = Boolean()
    inherit_cache = True
    name = "case_sensitive_match"
    _is_implicitly_boolean = True  # a comparison already: no "= 1" appended on SQLite


@compiles(_CaseSensitiveMatch)
def _compile_like(element: Any, compiler: Any, **kw: Any) -> str:
    col, pattern = list(element.clauses)
    return f"{compiler.process(col, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '{LIKE_ESCAPE}'"


@compiles(_CaseSensitiveMatch, "sqlite")
def _compile_glob(element: Any, compiler: Any, **kw: Any) -> str:
    col, pattern = list(element.clauses)
    return f"{compiler.process(col, **kw)} GLOB {compiler.process(pattern, **kw)}"


def _text_column(col: Any) -> Any:
    return col if isinstance(col.type, String) else cast(col, String)


def _need_str(lookup: str, v: Any) -> str:
    if not isinstance(v, str):
        raise FieldError(f"the lookup {lookup!r} takes a string, not {type(v).__name__} {v!r}")
    return v


def _binary_ordered(col: Any) -> bool:
    """Whether `>=`/`<` on this column order strings by code point on both backends (so a range is exact).

    SQLite compares text with BINARY by default; on PostgreSQL only columns declared with collation "C"
    (`uid_type`: uid, key, root) do.
    """
    variants = getattr(col.type, "_variant_mapping", {})
    return getattr(variants.get("postgresql"), "collation", None) == "C"


def _successor(v: str) -> str | None:
    last = ord(v[-1])
    if last >= 0x10FFFF:
        return None
    nxt = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # skip surrogates: not encodable
    return v[:-1] + chr(nxt)


def _contains(col: Any, v: Any) -> "ColumnElement[bool]":
    v = _need_str("contains", v)
    return _CaseSensitiveMatch(_text_column(col), _bind(v, "contains"))


def _startswith(col: Any, v: Any) -> "ColumnElement[bool]":
    v = _need_str("startswith", v)
    if not v:
        return col.is_not(None)
    cond = _CaseSensitiveMatch(_text_column(col), _bind(v, "startswith"))
    succ = _successor(v)
    if _binary_ordered(col) and succ is not None:
        # an explicit range that a b-tree index serves on both backends, even in a generic plan
        cond = and_(col >= v, col < succ, cond)
    return cond


def _endswith(col: Any, v: Any) -> "ColumnElement[bool]":
    v = _need_str("endswith", v)
    return _CaseSensitiveMatch(_text_column(col), _bind(v, "endswith"))


def _bind(v: str, kind: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(None, v, type_=_Pattern(kind))


def _ilike(col: Any, v: Any, lookup: str, pattern: str) -> "ColumnElement[bool]":
    _need_str(lookup, v)
    # ILIKE on PostgreSQL; on SQLite SQLAlchemy renders lower(col) LIKE lower(pattern)
    return _text_column(col).ilike(pattern, escape=LIKE_ESCAPE)


def _range(col: Any, v: Any) -> "ColumnElement[bool]":
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != 2:
        raise FieldError(f"the lookup 'range' takes a pair (low, high), not {v!r}")
    lo, hi = v
    return col.between(lo, hi)


def _in(col: Any, v: Any) -> "ColumnElement[bool]":
    from sqlalchemy.sql import Select

    if isinstance(v, Select):  # a query set's ids: stays one SQL statement
        return col.in_(v)
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise FieldError(f"the lookup 'in' takes a list, a set or a query set, not {v!r}")
    values = [getattr(x, "id", x) for x in v]
    return col.in_(values) if values else false()


def _isnull(col: Any, v: Any) -> "ColumnElement[bool]":
    if not isinstance(v, bool):
        raise FieldError(f"the lookup 'isnull' takes True or False, not {v!r}")
    return col.is_(None) if v else col.is_not(None)


OPERATORS: dict[str, Callable[[Any, Any], "ColumnElement[bool]"]] = {
    "exact": lambda c, v: c.is_(None) if v is None else c == v,
    "iexact": lambda c, v: c.is_(None) if v is None else func.lower(c) == func.lower(_need_str("iexact", v)),
    "contains": _contains,
    "icontains": lambda c, v: _ilike(c, v, "icontains", f"%{like_escape(str(v))}%"),
    "startswith": _startswith,
    "istartswith": lambda c, v: _ilike(c, v, "istartswith", f"{like_escape(str(v))}%"),
    "endswith": _endswith,
    "iendswith": lambda c, v: _ilike(c, v, "iendswith", f"%{like_escape(str(v))}"),
    "in": _in,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "isnull": _isnull,
    "range": _range,
}
# on a relation, only these compare the related record(s) themselves
RELATION_LOOKUPS = ("exact", "in", "isnull")


def field_names(model: type) -> list[str]:
    mapper = inspect(model)
    names = [c.key for c in mapper.column_attrs] + [r.key for r in mapper.relationships]
    return sorted(set(names) | set(aliases_of(model)))


def unknown_field(model: type, name: str) -> FieldError:
    valid = field_names(model)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return FieldError(f"{model.__name__} has no field {name!r}.{hint} Valid fields: {', '.join(valid)}")


_unknown = unknown_field  # older name


def _unknown_lookup(model: type, field: str, bad: str, path: str, allowed: tuple[str, ...] | list[str]) -> FieldError:
    close = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return FieldError(
        f"unknown lookup {bad!r} on {model.__name__}.{field} in {path!r}.{hint} Lookups: {', '.join(allowed)}"
    )


def _record_id(value: Any, target: type | None = None, path: str = "") -> Any:
    """A record compares by id; a query set becomes a subquery of ids, a list of records a list of ids."""
    from .queryset import QuerySet

    if isinstance(value, QuerySet):
        if target is not None and value.model is not target:
            raise FieldError(f"{path!r} expects {target.__name__} records, got a query set of {value.model.__name__}")
        return value.id_subquery()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_record_id(v, target, path) for v in value]
    if hasattr(value, "__table__") and hasattr(value, "id"):
        if target is not None and not isinstance(value, target):
            raise FieldError(f"{path!r} expects a {target.__name__} record, got a {type(value).__name__}")
        if value.id is None:
            raise FieldError(f"{path!r}: the {type(value).__name__} passed has not been saved, so it has no id")
        return value.id
    return value


def _pairs(rel: RelationshipProperty[Any]) -> tuple[Any, Any, Any | None, Any | None]:
    """(local column, remote column, secondary's column to target, target column) of a relationship."""
    if rel.secondary is not None:
        (local, sec_local), = rel.synchronize_pairs
        (target_col, sec_target), = rel.secondary_synchronize_pairs
        return local, sec_local, sec_target, target_col
    (local, remote), = rel.local_remote_pairs
    return local, remote, None, None


def through(rel: RelationshipProperty[Any], inner: "ColumnElement[bool] | None") -> "ColumnElement[bool]":
    """Rows whose relation `rel` has at least one related row satisfying `inner` (any row if None)."""
    local, remote, sec_target, target_col = _pairs(rel)
    if sec_target is not None:  # many-to-many: through the link table
        sub = select(remote)
        if inner is not None:
            sub = sub.where(sec_target.in_(select(target_col).where(inner).correlate(None)))
        return local.in_(sub.correlate(None))
    sub = select(remote).where(remote.is_not(None))
    if inner is not None:
        sub = sub.where(inner)
    return local.in_(sub.correlate(None))


def _relation_condition(
    model: type, rel: RelationshipProperty[Any], lookup: str, value: Any, path: str
) -> "ColumnElement[bool]":
    """Compare the related record(s) themselves: `run=r`, `run__in=runs`, `run=None`, `inputs__isnull=True`."""
    target = rel.mapper.class_
    if lookup == "isnull" or (lookup == "exact" and value is None):
        empty = True if lookup == "exact" else value
        if not isinstance(empty, bool):
            raise FieldError(f"the lookup 'isnull' takes True or False, not {value!r}")
        if rel.direction.name == "MANYTOONE":
            fk = _pairs(rel)[0]
            return fk.is_(None) if empty else fk.is_not(None)
        has = through(rel, None)
        return not_(has) if empty else has
    ids = _record_id(value, target, path)
    if lookup == "in":
        if not isinstance(ids, list) and not hasattr(ids, "subquery"):
            raise FieldError(f"the lookup 'in' takes a list of records or a query set, not {value!r}")
    elif isinstance(ids, list) or hasattr(ids, "subquery"):
        raise FieldError(f"{path!r} compares one record: use a '__in' lookup to pass several")
    target_pk = inspect(target).primary_key[0]
    if rel.direction.name == "MANYTOONE":
        local, remote, _, _ = _pairs(rel)
        if remote is target_pk or remote.key == target_pk.key:
            return OPERATORS[lookup](local, ids)  # the foreign key itself: no subquery
    return through(rel, OPERATORS[lookup](target_pk, ids))


def condition(model: type, path: str, value: Any) -> "ColumnElement[bool]":
    """The SQL condition for one `field__relation__field__lookup=value` keyword."""
    return _condition(model, path.split("__"), value, path)


def expand_alias(model: type, parts: list[str]) -> list[str]:
    """`transform__key` on an Artifact is `run__transform__key`: names that read like fields but are paths."""
    alias = aliases_of(model).get(parts[0])
    return alias.split("__") + parts[1:] if alias is not None else parts


def _condition(model: type, parts: list[str], value: Any, path: str) -> "ColumnElement[bool]":
    parts = expand_alias(model, parts)
    mapper = inspect(model)
    head, rest = parts[0], parts[1:]
    if head in mapper.relationships:
        rel: RelationshipProperty[Any] = mapper.relationships[head]
        target = rel.mapper.class_
        if not rest or (len(rest) == 1 and rest[0] in OPERATORS and rest[0] not in field_names(target)):
            lookup = rest[0] if rest else "exact"
            if lookup not in RELATION_LOOKUPS:
                raise _unknown_lookup(model, head, lookup, path, RELATION_LOOKUPS)
            return _relation_condition(model, rel, lookup, value, path)
        return through(rel, _condition(target, rest, value, path))
    if head not in mapper.column_attrs:
        if _owns_feature_values(model):  # not a field: a feature, `filter(temperature=21.6)`
            from .feature_lookups import feature_condition

            return feature_condition(model, head, rest, value, path)
        raise unknown_field(model, head)
    column = getattr(model, head)
    if rest and isinstance(column.type, JSON) and not (len(rest) == 1 and rest[0] == "isnull"):
        from .json_lookups import json_condition

        return json_condition(column, rest, value, path, _dialect())
    if not rest:
        lookup = "exact"
    elif len(rest) == 1 and rest[0] in OPERATORS:
        lookup = rest[0]
    elif len(rest) == 1:
        raise _unknown_lookup(model, head, rest[0], path, list(OPERATORS))
    else:
        raise FieldError(
            f"{model.__name__}.{head} is a field, not a relation: cannot follow {'__'.join(rest)!r} in {path!r}."
            f" Lookups: {', '.join(OPERATORS)}"
        )
    if head.endswith("_id") or head == "id":
        value = _record_id(value)
    return OPERATORS[lookup](column, value)


def _owns_feature_values(model: type) -> bool:
    from ..models.annotations import FEATURE_VALUES

    return model.__name__ in FEATURE_VALUES


def _dialect() -> str:
    from ..db import engine as db

    return db.settings().dialect


def conditions(model: type, lookups: dict[str, Any]) -> list["ColumnElement[bool]"]:
    return [condition(model, k, v) for k, v in lookups.items()]


def mentions_branch(lookups: dict[str, Any]) -> bool:
    """Whether a filter reaches past the default branch scope: it names a branch, or one record by id/uid.

    A record named by its identity is found wherever it lives (as in LaminDB): `get(uid)` finds it in the
    trash too, so that it can be restored.
    """
    return any(k in ("branch", "id", "uid", "id__exact", "uid__exact") or k.startswith(("branch__", "branch_id")) for k in lookups)


def negate(conds: list["ColumnElement[bool]"]) -> "ColumnElement[bool]":
    """NOT of a conjunction, with Django's treatment of NULL: `exclude(key="a")` keeps rows whose key is NULL."""
    return and_(true(), *conds).is_not(true())
